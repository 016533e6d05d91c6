"""Orphan items: messages whose NBT parent folder is missing, as libpff's number_of_orphan_items sees them.

Built from the spec's [[orphans]] and by the orphan-item damage kind; normal items must still read.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pypff
import pytest

import fixtures
from fixtures.cli import main as cli_main
from fixtures.crc import weak_crc32
from fixtures.reader import NdbReader

from .helpers import read_store

SPEC = {
    "name": "Orphans",
    "folders": [{"name": "Inbox", "role": "inbox", "items": [
        {"subject": "Kept one", "body": "still in its folder"},
        {"subject": "Kept two", "attachments": [{"name": "k.txt", "data": "kept"}]},
    ]}],
    "orphans": [
        {"subject": "Lost mail — verloren", "sender": "Ann <ann@example.com>", "to": ["bob@example.com"],
         "body": "recovered from the NBT"},
        {"subject": "Lost with attachment", "attachments": [{"name": "lost.txt", "data": "orphaned bytes"}]},
        {"kind": "contact", "subject": "Lost contact", "given_name": "Lee", "surname": "Lost"},
    ],
}  # fmt: skip


def _subject(item: pypff.item) -> str:
    """PidTagSubject (0x0037) straight from the record set: Unicode (0x001F) or 8-bit (0x001E)."""
    for entry in item.record_sets[0].entries:
        if entry.entry_type == 0x0037:
            data = entry.data or b""
            text = data.decode("utf-16-le") if entry.value_type == 0x001F else data.decode("cp1252")
            return text.rstrip("\0")
    raise AssertionError("no subject record entry")


def _orphans(path: Path) -> list[tuple[int, str, pypff.item]]:
    """(NID, subject, item) of each orphan item; the items' values must not be read after this returns."""
    f = pypff.file()
    f.open(str(path))
    try:
        return _orphans_of(f)
    finally:
        f.close()


def _orphans_of(f: pypff.file) -> list[tuple[int, str, pypff.item]]:
    items = [f.get_orphan_item(i) for i in range(f.number_of_orphan_items)]
    return [(it.identifier, _subject(it), it) for it in items]


def _normal_items_read(path: Path, manifest: fixtures.Manifest, lost: tuple[str, ...] = ()) -> list[str]:
    """Every manifest item but `lost` reads through its folder; returns the read errors."""
    tree = read_store(path)
    errors = [e for f in tree.values() for e in f.errors]
    assert len(errors) == len(lost)
    read = sorted(i.subject for f in tree.values() for i in f.items)
    assert read == sorted(i.subject for i in manifest.items if i.subject not in lost)
    return errors


@pytest.mark.parametrize("fmt", ["pst", "ost", "ost4k", "ansi"])
def test_spec_orphans_are_libpff_orphan_items(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"o.{fmt}"
    manifest = fixtures.build(SPEC, path, format=fmt, encryption="permute")
    assert [o.subject for o in manifest.orphans] == [o["subject"] for o in SPEC["orphans"]]
    assert manifest.item_count == 2 and all(
        o.subject not in {i.subject for i in manifest.items} for o in manifest.orphans
    )
    found = _orphans(path)
    assert len(found) == len(SPEC["orphans"])
    by_nid = {o.nid: o for o in manifest.orphans}
    for nid, subject, item in found:
        assert isinstance(item, pypff.message)
        assert subject == by_nid[nid].subject
    _normal_items_read(path, manifest)


def test_orphan_nodes_name_a_missing_parent(tmp_path: Path) -> None:
    path = tmp_path / "o.pst"
    manifest = fixtures.build(SPEC, path, format="pst")
    nodes = NdbReader(path).nodes()
    lost = manifest.orphan_parent_nid
    assert lost & 0x1F == 0x02 and lost not in nodes
    assert {nodes[o.nid][2] for o in manifest.orphans} == {lost}
    assert all(nodes[i.nid][2] in nodes for i in manifest.items)


def test_orphan_content_reads(tmp_path: Path) -> None:
    path = tmp_path / "o.ost"
    fixtures.build(SPEC, path, format="ost")
    f = pypff.file()
    f.open(str(path))
    try:
        by_subject = {s: it for _, s, it in _orphans_of(f)}
        mail = by_subject["Lost mail — verloren"]
        assert mail.plain_text_body.decode("utf-8").startswith("recovered from the NBT")
        assert mail.recipients.number_of_recipients == 1
        att = by_subject["Lost with attachment"].get_attachment(0)
        assert att.read_buffer(att.size) == b"orphaned bytes"
        assert by_subject["Lost contact"].get_number_of_attachments() == 0
    finally:
        f.close()


def test_no_orphans_by_default_and_deterministic(tmp_path: Path) -> None:
    plain = {k: v for k, v in SPEC.items() if k != "orphans"}
    a, b, c = tmp_path / "a.pst", tmp_path / "b.pst", tmp_path / "c.pst"
    m = fixtures.build(plain, a, format="pst")
    assert m.orphans == [] and m.orphan_parent_nid == 0 and _orphans(a) == []
    fixtures.build(SPEC, b, format="pst")
    fixtures.build(SPEC, c, format="pst")
    assert b.read_bytes() == c.read_bytes()


def test_spec_key_alias_and_strictness() -> None:
    spec = fixtures.load_spec({"orphan": [{"subject": "x"}]})
    assert [o.subject for o in spec.orphans] == ["x"]
    with pytest.raises(fixtures.SpecError, match="unknown key 'subjct'"):
        fixtures.load_spec({"orphans": [{"subjct": "x"}]})


def test_cached_build_keeps_orphans_in_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXTURE_CACHE", str(tmp_path / "cache"))
    _, first = fixtures.cached_build(SPEC, "ost", "none")
    path, again = fixtures.cached_build(SPEC, "ost", "none")  # second call reads the JSON manifest
    assert again.orphans == first.orphans and isinstance(again.orphans[0], fixtures.ItemEntry)
    assert len(_orphans(path)) == len(SPEC["orphans"])


def test_orphan_item_damage_reparents_and_reseals(tmp_path: Path) -> None:
    path = tmp_path / "d.pst"
    manifest = fixtures.build(SPEC, path, format="pst")
    fixtures.apply(path, manifest, [fixtures.Damage("orphan-item", "Kept two")])
    info = manifest.damage[0]
    assert info["subject"] == "Kept two" and info["parent"] not in NdbReader(path).nodes()
    found = _orphans(path)
    assert len(found) == len(SPEC["orphans"]) + 1
    assert ("Kept two", True) in {(s, isinstance(it, pypff.message)) for _, s, it in found}
    r = NdbReader(path)
    for page in r.pages("nbt"):
        body = r.data[page.ib : page.ib + r.fmt.page_data]
        assert struct.unpack_from("<I", r.data, page.ib + r.fmt.page_data + 4)[0] == weak_crc32(body)
    # The folder's contents table still counts it, but libpff fetches sub messages through its item tree,
    # where the node now hangs off the missing parent: that one sub message fails, the rest read.
    errors = _normal_items_read(path, manifest, lost=("Kept two",))
    assert "unable to retrieve sub message" in errors[0]


def test_cli_orphan_item_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[[folders]]\nname = "Inbox"\nrole = "inbox"\n[[folders.items]]\nsubject = "a"\n'
        '[[folders.items]]\nsubject = "b"\n[[orphans]]\nsubject = "c"\n',
        "utf-8",
    )
    out, meta = tmp_path / "s.pst", tmp_path / "s.json"
    assert (
        cli_main(["build", str(spec), str(out), "--format", "ansi", "--orphan-item", "b", "--manifest", str(meta)]) == 0
    )
    assert "1 orphans" in capsys.readouterr().err
    data = json.loads(meta.read_text("utf-8"))
    assert [o["subject"] for o in data["orphans"]] == ["c"] and data["damage"][0]["kind"] == "orphan-item"
    assert sorted(s for _, s, _ in _orphans(out)) == ["b", "c"]
