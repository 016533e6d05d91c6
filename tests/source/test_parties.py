"""The native reader's cheap walk for the address book (NativeSource.parties) against its full read.

Oracle: items() of the same reader on the same file (every property, recipient and attachment read), and
learn() over it: the book built from parties() must be exactly the one built from items(), and every value
parties() hands over must be the full item's. Block damage is placed with the fixture writer's own NDB
reader (fixtures/reader.py), which shares no code with pipeline/source/native.
"""

from __future__ import annotations

import shutil
import struct
import tomllib
from pathlib import Path
from typing import Any

import pytest

import fixtures
from fixtures.reader import NdbReader
from pipeline import mapi
from pipeline.convert.addressbook import to_dict
from pipeline.model import SourceError, SourceItem
from pipeline.rebuild.address_books import build_book
from pipeline.source.native import NativeSource

SPECS = Path(fixtures.__file__).parent / "specs"
#: The format each canonical spec is built in (its tests' own), small in two layouts.
FORMATS = {"ansi-cp1251": ["ansi"], "ansi-cp932": ["ansi"], "exchange-senders": ["ost"], "small": ["pst", "ost4k"]}
#: What learn() reads of an item (sender and represented party, class, code pages) and of a contact, and
#: whom it was delivered to (source/owner.py, for `rebuild discover`).
PARTY_IDS = {
    mapi.PR_MESSAGE_CLASS,
    mapi.PR_MESSAGE_CODEPAGE,
    mapi.PR_INTERNET_CPID,
    mapi.PR_SENDER_NAME,
    mapi.PR_SENDER_ADDRTYPE,
    mapi.PR_SENDER_EMAIL_ADDRESS,
    mapi.PR_SENDER_SMTP_ADDRESS,
    mapi.PR_SENT_REPRESENTING_NAME,
    mapi.PR_SENT_REPRESENTING_ADDRTYPE,
    mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
    mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
    mapi.PR_RECEIVED_BY_NAME,
    mapi.PR_RECEIVED_BY_EMAIL_ADDRESS,
    mapi.PR_RECEIVED_BY_SMTP_ADDRESS,
}
#: What a Recipient is made of (and learn() reads of a recipient).
RECIPIENT_IDS = {
    mapi.PR_RECIPIENT_TYPE,
    mapi.PR_DISPLAY_NAME,
    mapi.PR_EMAIL_ADDRESS,
    mapi.PR_ADDRTYPE,
    mapi.PR_SMTP_ADDRESS,
}
CONTACT_LIDS = {
    lid
    for n in (1, 2, 3)
    for lid in (
        getattr(mapi, f"LID_EMAIL{n}_EMAIL_ADDRESS"),
        getattr(mapi, f"LID_EMAIL{n}_ADDRTYPE"),
        getattr(mapi, f"LID_EMAIL{n}_ORIGINAL_DISPLAY_NAME"),
        getattr(mapi, f"LID_EMAIL{n}_DISPLAY_NAME"),
    )
}


def _small_bulk() -> dict[str, Any]:
    """bulk.toml with 40 items in 3 folders (the canonical 20,000 are for benchmarks): its mails' bodies
    are kept in subnodes."""
    spec = tomllib.loads((SPECS / "bulk.toml").read_text(encoding="utf-8"))
    spec["bulk"][0].update(count=40, folders=3)
    return spec


def _stores() -> list[Any]:
    out = []
    for spec in sorted(SPECS.glob("*.toml")):
        for fmt in FORMATS.get(spec.stem, ["pst"]):
            out.append(pytest.param(spec.stem, fmt, id=f"{spec.stem}-{fmt}"))
    return out


class _ItemsOnly:
    """The source seen without its cheap walk: its parties() are its items() in full."""

    def __init__(self, source: NativeSource) -> None:
        self.items = self.parties = source.items


def _entry_view(entry: SourceItem | SourceError) -> Any:
    if isinstance(entry, SourceError):
        return ("error", entry.node_id, entry.reason)
    return entry.node_id


def _compare(source: NativeSource) -> tuple[dict[str, object], int]:
    """Checks parties() against items() item by item; returns the book learnt from parties() and the
    number of items compared."""
    compared = 0
    for folder in source.folders():
        full, cheap = list(source.items(folder)), list(source.parties(folder))
        assert [_entry_view(e) for e in cheap] == [_entry_view(e) for e in full], folder.path
        for whole, part in zip(full, cheap, strict=True):
            if isinstance(whole, SourceError):
                continue
            assert isinstance(part, SourceItem)
            assert part.properties == {k: v for k, v in whole.properties.items() if k in PARTY_IDS}
            assert part.named == {
                k: v for k, v in whole.named.items() if k[0] == mapi.PSETID_ADDRESS and k[1] in CONTACT_LIDS
            }
            assert part.message_class == whole.message_class and part.codepage == whole.codepage
            assert [
                (r.kind, r.display_name, r.email, r.address_type, r.smtp_address, r.properties) for r in part.recipients
            ] == [
                (
                    r.kind,
                    r.display_name,
                    r.email,
                    r.address_type,
                    r.smtp_address,
                    {k: v for k, v in r.properties.items() if k in RECIPIENT_IDS},
                )
                for r in whole.recipients
            ]
            assert part.attachments == []
            compared += 1
    folders = source.folders()
    expected = to_dict(build_book(_ItemsOnly(source), folders, "owner@example.com"))
    got = to_dict(build_book(source, folders, "owner@example.com"))
    assert got == expected
    return got, compared


@pytest.mark.parametrize(("name", "fmt"), _stores())
def test_parties_gives_the_book_and_values_of_the_full_read_on_every_canonical_fixture(name: str, fmt: str) -> None:
    path, manifest = fixtures.cached_build(_small_bulk() if name == "bulk" else name, format=fmt)
    with NativeSource(path) as source:
        book, compared = _compare(source)
    assert compared == manifest.item_count  # every item the writer put in, none refused
    if name == "exchange-senders":  # the fixture made for the book: it must not be empty here
        assert len(book["entries"]) >= 3 and any(e["smtp"] for e in book["entries"])  # type: ignore[union-attr]


def test_parties_gives_the_book_and_values_of_the_full_read_on_every_sample(samples: Path) -> None:
    files = sorted(p for p in samples.iterdir() if p.suffix.lower() in (".pst", ".ost"))
    assert len(files) >= 9
    total = entries = 0
    for path in files:
        with NativeSource(path) as source:
            book, compared = _compare(source)
        total += compared
        entries += len(book["entries"])  # type: ignore[arg-type]
    assert total >= 100 and entries >= 1


def _subnodes(ndb: NdbReader, nid: int) -> list[tuple[int, int, int]]:
    """(nid, bid_data, bid_sub) of a message's SLBLOCK (Unicode layout: 8-byte header, 24-byte entries)."""
    sl = ndb.block_payload(ndb.blocks()[ndb.nodes()[nid][1] & ~1])
    assert sl[0] == 0x02 and sl[1] == 0, "a one-level subnode tree"
    return [struct.unpack_from("<QQQ", sl, 8 + 24 * i) for i in range(struct.unpack_from("<H", sl, 2)[0])]


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ 0x08]))


def _walks(path: Path) -> tuple[dict[int, Any], dict[int, Any]]:
    with NativeSource(path) as source:
        return (
            {e.node_id: e for f in source.folders() for e in source.items(f)},
            {e.node_id: e for f in source.folders() for e in source.parties(f)},
        )


@pytest.mark.parametrize("where", ["property context", "subnode tree", "recipient table"])
def test_a_damaged_block_parties_reads_is_a_source_error_as_in_items(tmp_path: Path, where: str) -> None:
    source, manifest = fixtures.cached_build("small", format="pst")
    path = tmp_path / "damaged.pst"
    shutil.copyfile(source, path)
    nid = next(i.nid for i in manifest.items if i.subject == "HTML with inline image")
    ndb = NdbReader(path)
    if where == "property context":
        bid = ndb.nodes()[nid][0]
    elif where == "subnode tree":
        bid = ndb.nodes()[nid][1]
    else:
        bid = next(s[1] for s in _subnodes(ndb, nid) if s[0] == 0x692)
    ref = ndb.blocks()[bid & ~1]
    _flip(path, ref.ib + ref.cb // 2)
    full, cheap = _walks(path)
    assert isinstance(full[nid], SourceError) and isinstance(cheap[nid], SourceError)
    assert "damaged block, CRC mismatch" in cheap[nid].reason and cheap[nid].reason == full[nid].reason
    assert not any(isinstance(e, SourceError) for n, e in cheap.items() if n != nid)
    assert len(cheap) == len(full) == manifest.item_count


def test_parties_does_not_read_a_body_kept_in_a_subnode(tmp_path: Path) -> None:
    """A damaged body subnode fails items() (which reads it) but not parties(), which never looks at it:
    the proof that the cheap walk skips what it does not want."""
    source, manifest = fixtures.cached_build(_small_bulk(), format="ost")
    path = tmp_path / "damaged.ost"
    shutil.copyfile(source, path)
    ndb = NdbReader(path)
    nid, value = next((i.nid, s) for i in manifest.items for s in _subnodes(ndb, i.nid) if s[0] & 0x1F == 0x1F)
    ref = ndb.blocks()[value[1] & ~1]  # a property value kept in a subnode (NID_TYPE_LTP): the body here
    _flip(path, ref.ib + ref.cb // 2)
    full, cheap = _walks(path)
    assert isinstance(full[nid], SourceError) and "damaged block, CRC mismatch" in full[nid].reason
    assert isinstance(cheap[nid], SourceItem) and cheap[nid].properties
