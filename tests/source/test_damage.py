"""Block checks of the native reader: a flipped bit is reported, never read as if it were data.

Oracles: the fixture writer's own NDB reader (fixtures/reader.py, which shares no code with
pipeline/source/native) to find an item's block on disk, the manifest's attachment digests, and a
clean read of the same file.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

import fixtures
from fixtures.reader import NdbReader
from pipeline.model import SourceError
from pipeline.source import SourceOpenError
from pipeline.source.native import DamagedBlock, NativeSource
from tests.conftest import run_cli

ITEM = "RTF only body"
WITH_ATTACHMENTS = "HTML with inline image"


def _copy(tmp_path: Path, fmt: str = "pst", encryption: str = "permute") -> tuple[Path, fixtures.Manifest]:
    source, manifest = fixtures.cached_build("small", format=fmt, encryption=encryption)
    path = tmp_path / f"damaged{source.suffix}"
    shutil.copyfile(source, path)
    return path, manifest


def _flip(path: Path, offset: int, bit: int = 3) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ (1 << bit)]))


def _nid(manifest: fixtures.Manifest, subject: str) -> int:
    return next(i.nid for i in manifest.items if i.subject == subject)


def _entries(path: Path) -> dict[int, Any]:
    """node id -> SourceItem or SourceError, every folder."""
    found: dict[int, Any] = {}
    with NativeSource(path) as source:
        for folder in source.folders():
            for entry in source.items(folder):
                found[entry.node_id] = entry
    return found


@pytest.mark.parametrize("fmt", ["pst", "ost4k", "ansi"])
def test_flipped_bit_in_an_items_block_makes_that_item_a_source_error(tmp_path: Path, fmt: str) -> None:
    path, manifest = _copy(tmp_path, fmt)
    nid = _nid(manifest, ITEM)
    ndb = NdbReader(path)
    ref = ndb.blocks()[ndb.nodes()[nid][0] & ~1]
    _flip(path, ref.ib + ref.cb // 2)

    entries = _entries(path)
    bad = entries[nid]
    assert isinstance(bad, SourceError) and bad.what == "item"
    assert "damaged block, CRC mismatch" in bad.reason
    others = [e for n, e in entries.items() if n != nid]
    assert len(others) == manifest.item_count - 1
    assert not any(isinstance(e, SourceError) for e in others)


def test_flipped_bit_in_one_attachment_fails_that_attachment_only(tmp_path: Path) -> None:
    path, manifest = _copy(tmp_path, "pst", "none")  # no encoding: the attachment's bytes are on disk as is
    entry = next(i for i in manifest.items if i.subject == "Big attachment spanning an XBLOCK")
    big = next(a for a in entry.attachments if a.name == "big.bin")
    with NativeSource(path) as source:
        folder = next(
            f
            for f in source.folders()
            if f.node_id == next(fo.nid for fo in manifest.folders if fo.path == entry.folder)
        )
        item = next(i for i in source.items(folder) if i.node_id == entry.nid)
        data = next(a for a in item.attachments if a.filename == "big.bin").read()
    assert hashlib.sha256(data).hexdigest() == big.sha256
    disk = path.read_bytes()
    rng = random.Random(17)
    while True:  # a stretch of the attachment found exactly once in the file
        start = rng.randrange(0, len(data) - 64)
        if disk.count(data[start : start + 64]) == 1:
            break
    _flip(path, disk.index(data[start : start + 64]) + 10)

    with NativeSource(path) as source:
        entries = {e.node_id: e for folder in source.folders() for e in source.items(folder)}
        damaged = entries[entry.nid]
        assert not isinstance(damaged, SourceError)
        attachment = next(a for a in damaged.attachments if a.filename == "big.bin")
        with pytest.raises(DamagedBlock, match="damaged block, CRC mismatch"):
            attachment.read()
        body = next(a for a in damaged.attachments if a.filename != "big.bin") if len(damaged.attachments) > 1 else None
        if body is not None:
            body.read()
    assert not any(isinstance(e, SourceError) for e in entries.values())
    assert len(entries) == manifest.item_count

    out = tmp_path / "export"
    result = run_cli("export", "--ost", str(path), "--out", str(out), "--reader", "native")
    assert result.returncode == 0, result.stderr
    listed = json.loads((out / "manifest.json").read_text("utf-8"))["items"]
    warned = next(i for i in listed if i["node_id"] == entry.nid)
    assert any("data unreadable (DamagedBlock)" in w for w in warned["warnings"])
    assert sum(1 for i in listed if i["warnings"]) >= 1 and len(listed) >= manifest.item_count - 2


def test_flipped_bit_in_an_attachments_own_node_fails_that_attachment_only(tmp_path: Path) -> None:
    """The attachment's property context (found through the message's SLBLOCK with the writer's reader)."""
    path, manifest = _copy(tmp_path, "pst")
    entry = next(i for i in manifest.items if i.subject == WITH_ATTACHMENTS)
    ndb = NdbReader(path)
    blocks = ndb.blocks()
    sl = ndb.block_payload(blocks[ndb.nodes()[entry.nid][1] & ~1])  # SLBLOCK: 8-byte header, 24-byte entries
    count = struct.unpack_from("<H", sl, 2)[0]
    subnodes = [struct.unpack_from("<QQQ", sl, 8 + 24 * i) for i in range(count)]
    first_attachment = min(s for s in subnodes if s[0] & 0x1F == 0x05)
    ref = blocks[first_attachment[1] & ~1]
    _flip(path, ref.ib + ref.cb // 2)
    with NativeSource(path) as source:
        entries = {e.node_id: e for folder in source.folders() for e in source.items(folder)}
        item = entries[entry.nid]
        assert not isinstance(item, SourceError)
        assert len(item.attachments) == len(entry.attachments) >= 2
        with pytest.raises(DamagedBlock, match="damaged block, CRC mismatch"):
            item.attachments[0].read()
        rest = {(a.filename, hashlib.sha256(a.read()).hexdigest()) for a in item.attachments[1:]}
    assert rest == {(a.name, a.sha256) for a in entry.attachments[1:]}
    assert not any(isinstance(e, SourceError) for e in entries.values())


def test_export_names_the_damaged_item_and_exits_1(tmp_path: Path) -> None:
    path, manifest = _copy(tmp_path, "ost")
    nid = _nid(manifest, ITEM)
    ndb = NdbReader(path)
    ref = ndb.blocks()[ndb.nodes()[nid][0] & ~1]
    _flip(path, ref.ib + 7, bit=0)
    result = run_cli("export", "--ost", str(path), "--out", str(tmp_path / "out"), "--reader", "native")
    assert result.returncode == 1
    assert f"node {nid}:" in result.stderr and "damaged block, CRC mismatch" in result.stderr
    result = run_cli("export", "--ost", str(path), "--out", str(tmp_path / "out2"), "--reader", "libpff")
    assert f"node {nid}:" not in result.stderr  # libpff reads the bad bytes as if they were data


def _view(path: Path) -> tuple[dict[int, Any], set[tuple[str, ...]]] | None:
    """Per item: (folder, properties, recipients, attachment digests) or (folder, 'damaged'); None if the
    file was refused. Also the folders that reported an error of their own."""
    try:
        source = NativeSource(path)
    except SourceOpenError:
        return None
    items: dict[int, Any] = {}
    bad_folders = {e.folder_path for e in source.errors if e.what != "item"}
    with source:
        for folder in source.folders():
            for entry in source.items(folder):
                if isinstance(entry, SourceError):
                    if entry.what == "folder":
                        bad_folders.add(folder.path)
                    else:
                        items[entry.node_id] = (folder.path, "damaged")
                    continue
                try:
                    attachments = [hashlib.sha256(a.read()).hexdigest() for a in entry.attachments]
                except DamagedBlock:
                    items[entry.node_id] = (folder.path, "damaged")
                    continue
                items[entry.node_id] = (
                    folder.path,
                    entry.properties,
                    entry.named,
                    [r.properties for r in entry.recipients],
                    attachments,
                )
    return items, bad_folders


def test_200_bit_flips_none_changes_an_item_silently(tmp_path: Path) -> None:
    """Single and multi-bit flips, half in blocks' data, a quarter anywhere, a quarter in space the file does
    not use: every item either reads exactly as in the clean file or is reported (its own error, its
    folder's or a B-tree page's, or the file refused); flips in unused space change nothing at all."""
    clean_path, manifest = _copy(tmp_path, "pst")
    clean = _view(clean_path)
    assert clean is not None
    clean_items, clean_bad = clean
    assert not clean_bad and len(clean_items) == manifest.item_count
    ndb = NdbReader(clean_path)
    blocks = list(ndb.blocks().values())
    # What the file uses (per the writer's own reader): header, B-tree pages, block data and trailers.
    used = [(0, 564)] + [(p.ib, p.ib + ndb.fmt.page_size) for t in ("nbt", "bbt") for p in ndb.pages(t)]
    used += [
        r
        for b in blocks
        for r in ((b.ib, b.ib + b.cb), (ndb.trailer_offset(b), ndb.trailer_offset(b) + ndb.fmt.block_trailer))
    ]
    original = clean_path.read_bytes()
    rng = random.Random(2026)
    path = tmp_path / "variant.pst"
    outcomes = {"refused": 0, "items reported": 0, "folders reported": 0, "no change": 0, "unused space": 0}
    for variant in range(200):
        data = bytearray(original)
        in_use = False
        for _ in range(1 if variant % 2 else rng.randint(2, 5)):
            if variant % 4 < 2:  # in a block's data
                ref = rng.choice(blocks)
                offset = ref.ib + rng.randrange(ref.cb)
            elif variant % 4 == 2:  # anywhere
                offset = rng.randrange(len(data))
            else:  # somewhere the file does not use
                offset = rng.randrange(len(data))
                while any(start <= offset < end for start, end in used):
                    offset = rng.randrange(len(data))
            data[offset] ^= 1 << rng.randrange(8)
            in_use = in_use or any(start <= offset < end for start, end in used)
        path.write_bytes(data)
        found = _view(path)
        if not in_use:  # maps, padding, free space: nothing may change, nothing may be reported
            assert found == clean, f"variant {variant}: a flip in unused space changed the reading"
            outcomes["unused space"] += 1
            continue
        if found is None:
            outcomes["refused"] += 1
            continue
        items, bad_folders = found
        silent = []
        for nid, value in clean_items.items():
            now = items.get(nid)
            if now is None and bad_folders:
                continue  # not listed: a folder (or a B-tree page) reported the damage
            if now is not None and now[1:] in (value[1:], ("damaged",)):
                continue  # read exactly as in the clean file, or reported damaged
            silent.append(nid)
        assert not silent, f"variant {variant}: items {silent} changed without a report"
        if any(v[1] == "damaged" for v in items.values()):
            outcomes["items reported"] += 1
        elif bad_folders:
            outcomes["folders reported"] += 1
        else:
            assert items == clean_items
            outcomes["no change"] += 1
    print(outcomes)
    assert outcomes["items reported"] > 50 and outcomes["unused space"] >= 50
