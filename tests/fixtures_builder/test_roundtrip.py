"""Builds the canonical small spec in every format/encryption and reads it back with pypff.

Checks folder tree, classes, every written property, recipients, attachment bytes and embedded attachments.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pypff
import pytest

import fixtures
from fixtures.manifest import Manifest

from .helpers import read_store

COMBOS = [(f, e) for f in ("pst", "ost", "ost4k", "ansi") for e in ("none", "permute")]


def as_stored(fmt: str, text: str) -> str:
    """ANSI files keep 8-bit strings, so characters outside cp1252 come back as '?'."""
    return text.encode("cp1252", "replace").decode("cp1252") if fmt == "ansi" else text


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Manifest]]:
    out = {}
    base = tmp_path_factory.mktemp("roundtrip")
    for fmt, enc in COMBOS:
        path = base / f"small-{fmt}-{enc}.{'ost' if fmt.startswith('ost') else 'pst'}"
        out[(fmt, enc)] = (path, fixtures.build("small", path, format=fmt, encryption=enc))
    return out


@pytest.mark.parametrize(("fmt", "enc"), COMBOS)
def test_header_says_what_was_asked(builds, fmt: str, enc: str) -> None:
    path, manifest = builds[(fmt, enc)]
    f = pypff.file()
    f.open(str(path))
    assert f.encryption_type == (0 if enc == "none" else 1)
    f.close()
    raw = path.read_bytes()[:16]
    assert raw[:4] == b"!BDN"
    assert raw[8:10] == (b"SO" if fmt.startswith("ost") else b"SM")
    assert int.from_bytes(raw[10:12], "little") == {"ost4k": 36, "ansi": 14}.get(fmt, 23)
    assert manifest.size == path.stat().st_size


@pytest.mark.parametrize(("fmt", "enc"), COMBOS)
def test_folder_tree_matches_manifest(builds, fmt: str, enc: str) -> None:
    path, manifest = builds[(fmt, enc)]
    tree = read_store(path)
    assert sorted(tree) == sorted(as_stored(fmt, f.path) for f in manifest.folders)
    for entry in manifest.folders:
        assert tree[as_stored(fmt, entry.path)].name == as_stored(fmt, entry.name)
        assert len(tree[as_stored(fmt, entry.path)].items) == entry.items
        assert not tree[as_stored(fmt, entry.path)].errors
    ipm = manifest.ipm_subtree
    assert ipm == ("Root - Mailbox/IPM_SUBTREE" if fmt.startswith("ost") else "Top of Personal Folders")
    names = {f.name for f in manifest.folders}
    assert {"Posteingang", "Sub%2FFolder: with *awkward* \\ chars?".replace("%2F", "/")} <= names
    awkward = f"{ipm}/Posteingang/Sub%2FFolder: with *awkward* \\ chars?"
    assert tree[awkward].name == "Sub/Folder: with *awkward* \\ chars?"
    assert tree[as_stored(fmt, f"{ipm}/Entwürfe")].name == as_stored(fmt, "Entwürfe")


@pytest.mark.parametrize(("fmt", "enc"), COMBOS)
def test_items_properties_recipients_attachments(builds, fmt: str, enc: str) -> None:
    path, manifest = builds[(fmt, enc)]
    tree = read_store(path)
    assert manifest.item_count == len(manifest.items) == 18
    for folder in manifest.folders:
        expected = manifest.items_in(folder.path)
        got = tree[as_stored(fmt, folder.path)].items
        assert [i.subject for i in got] == [as_stored(fmt, i.subject) for i in expected]
        for want, have in zip(expected, got, strict=True):
            assert have.message_class == want.message_class
            assert have.recipients == want.recipients
            for tag, digest in want.props.items():
                assert tag in have.props, f"{want.subject}: property {tag} missing"
                assert hashlib.sha256(have.props[tag]).hexdigest()[:16] == digest, f"{want.subject}: {tag}"
            assert len(have.attachments) == len(want.attachments)
            for wa, ha in zip(want.attachments, have.attachments, strict=True):
                assert ha.method == wa.method
                if wa.method == 5:
                    assert wa.embedded is not None and ha.size > 0
                else:
                    assert ha.size == wa.size
                    assert ha.sha256 == wa.sha256
                    assert ha.name == as_stored(fmt, wa.name)


def test_every_kind_and_class_present(builds) -> None:
    _, manifest = builds[("pst", "permute")]
    classes = {i.message_class for i in manifest.items}
    assert {
        "IPM.Note",
        "IPM.Note.SMIME",
        "IPM.Appointment",
        "IPM.Contact",
        "IPM.DistList",
        "IPM.Task",
        "IPM.StickyNote",
        "IPM.Activity",
    } <= classes
    nested = next(i for i in manifest.items if i.subject == "Forward with nested messages")
    depth, node = 0, nested
    while True:
        emb = [a for a in node.attachments if a.method == 5]
        if not emb:
            break
        node = emb[0].embedded
        depth += 1
    assert depth == 3 and node.subject == "Level 3 embedded"
    smime = next(i for i in manifest.items if i.message_class == "IPM.Note.SMIME")
    assert smime.attachments[0].mime == "application/pkcs7-mime"
    inline = next(i for i in manifest.items if i.subject == "HTML with inline image")
    assert inline.attachments[0].content_id == "logo@fixtures"


def test_special_folder_entry_ids(builds) -> None:
    path, manifest = builds[("pst", "permute")]
    f = pypff.file()
    f.open(str(path))
    store = {e.entry_type: e.data for e in f.message_store.record_sets[0].entries}
    uid = store[0x0FF9]
    by_nid = {fe.nid: fe for fe in manifest.folders}

    def target(eid: bytes) -> str:
        assert eid[4:20] == uid
        return by_nid[int.from_bytes(eid[20:24], "little")].path

    assert target(store[0x35E0]) == "Top of Personal Folders"
    assert target(store[0x35E3]).endswith("Deleted Items")
    assert target(store[0x35E4]).endswith("Gesendete Elemente")
    inbox = next(fo for fo in f.root_folder.sub_folders[0].sub_folders if fo.name == "Posteingang")
    for holder in (f.root_folder, inbox):
        props = {e.entry_type: e.data for e in holder.record_sets[0].entries}
        assert target(props[0x36D0]).endswith("Kalender")
        assert target(props[0x36D1]).endswith("Kontakte")
        assert target(props[0x36D4]).endswith("Aufgaben")
        assert target(props[0x36D3]).endswith("Notizen")
        assert target(props[0x36D7]).endswith("Entwürfe")
        assert 0x36D8 in props
    f.close()


def test_named_properties_in_map(builds) -> None:
    path, _ = builds[("pst", "none")]
    reader = fixtures.reader.NdbReader(path)
    assert reader.header_crc_ok()
    f = pypff.file()
    f.open(str(path))
    contact = f.root_folder.sub_folders[0]
    kontakte = next(fo for fo in contact.sub_folders if fo.name == "Kontakte")
    m = kontakte.get_sub_message(0)
    named = [e for e in m.record_sets[0].entries if e.entry_type >= 0x8000]
    assert named, "contact carries PSETID_Address named properties"
    f.close()
