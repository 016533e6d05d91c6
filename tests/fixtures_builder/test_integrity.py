"""Structural checks with the package's own NDB reader: CRCs, signatures, AMaps, B-tree depth, determinism.

Independent of pypff so a bug that pypff happens to tolerate still shows up here.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import fixtures
from fixtures.crc import compute_sig, weak_crc32
from fixtures.reader import NdbReader

from .helpers import read_store

MANY = {
    "name": "Many",
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": 700, "size_min": 300, "size_max": 3000, "folders": 2, "seed": 3, "parent": "Inbox"}],
}


@pytest.mark.parametrize("fmt", ["pst", "ost4k"])
def test_blocks_pages_and_maps_are_consistent(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "s.pst"
    fixtures.build("small", path, format=fmt, encryption="permute")
    r = NdbReader(path)
    fm = r.fmt
    assert r.header_crc_ok()
    blocks = r.blocks()
    assert blocks and all(r.block_crc_ok(b) for b in blocks.values())
    for b in blocks.values():
        off = r.trailer_offset(b)
        cb, sig = struct.unpack_from("<HH", r.data, off)
        assert cb == b.cb and sig == compute_sig(b.ib, b.bid)
    for tree in ("nbt", "bbt"):
        for page in r.pages(tree):
            body = r.data[page.ib : page.ib + fm.page_data]
            ptype, _, sig, crc, bid = struct.unpack_from("<BBHIQ", r.data, page.ib + fm.page_data)
            assert ptype == (0x81 if tree == "nbt" else 0x80)
            assert crc == weak_crc32(body) and sig == compute_sig(page.ib, bid)
    # every block lies inside allocated AMap bits
    region = fm.amap_coverage
    for b in blocks.values():
        k = (b.ib - fm.amap_first) // region
        amap = fm.amap_first + k * region
        bit = (b.ib - amap) // fm.amap_unit
        assert r.data[amap + bit // 8] & (0x80 >> (bit % 8)), hex(b.ib)
        page = r.data[amap : amap + fm.page_size]
        assert struct.unpack_from("<I", page, fm.page_data + 4)[0] == weak_crc32(page[: fm.page_data])


def test_large_folder_needs_multilevel_trees_and_subnode_rows(tmp_path: Path) -> None:
    path = tmp_path / "many.pst"
    manifest = fixtures.build(MANY, path, format="pst", encryption="permute")
    r = NdbReader(path)
    assert max(p.level for p in r.pages("nbt")) >= 1
    assert max(p.level for p in r.pages("bbt")) >= 1
    tree = read_store(path)
    for folder in manifest.folders:
        assert len(tree[folder.path].items) == folder.items
    assert sum(len(tree[f.path].items) for f in manifest.folders) == 700
    bulk_folder = next(f for f in manifest.folders if f.name.startswith("Bulk"))
    assert bulk_folder.items == 350
    # the contents table of a 350-row folder exceeds one heap item, so its rows live in a subnode
    contents = r.nodes()[(bulk_folder.nid & ~0x1F) | 0x0E]
    assert contents[1] != 0


def test_same_spec_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pst", tmp_path / "sub" / "b.pst", tmp_path / "c.pst"
    fixtures.build("small", a)
    fixtures.build("small", b)
    fixtures.build("small", c, seed=99)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_cache_builds_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXTURE_CACHE", str(tmp_path / "cache"))
    first = fixtures.cached("small", "ost")
    stamp = first.stat().st_mtime_ns
    again, manifest = fixtures.cached_build("small", "ost")
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.parent == tmp_path / "cache" and first.suffix == ".ost"
    assert manifest.item_count == 18 and manifest.format == "ost"
    other = fixtures.cached({"folders": [{"name": "X", "items": [{"subject": "s"}]}]}, "pst")
    assert other != first and other.exists()


def test_spec_errors_are_loud() -> None:
    with pytest.raises(fixtures.SpecError, match="unknown key 'subjekt'"):
        fixtures.load_spec({"folders": [{"name": "A", "items": [{"subjekt": "typo"}]}]})
    with pytest.raises(fixtures.SpecError, match="unknown role"):
        fixtures.load_spec({"folders": [{"name": "A", "role": "inboxx"}]})
    with pytest.raises(fixtures.SpecError, match="unknown kind"):
        fixtures.load_spec({"folders": [{"name": "A", "items": [{"kind": "fax"}]}]})


def test_file_beyond_128_amaps_has_fmap_and_reads(tmp_path: Path) -> None:
    spec = {
        "folders": [{"name": "Inbox", "role": "inbox"}],
        "bulk": [
            {
                "count": 400,
                "size_min": 90000,
                "size_max": 110000,
                "folders": 2,
                "seed": 5,
                "parent": "Inbox",
                "attachment_ratio": 1.0,
            }
        ],
    }
    path = tmp_path / "big.pst"
    manifest = fixtures.build(spec, path, item_details=False)
    r = NdbReader(path)
    fm = r.fmt
    assert manifest.size > fm.amap_first + 129 * fm.amap_coverage
    region = fm.amap_first + 128 * fm.amap_coverage
    kinds = [r.data[region + i * fm.page_size + fm.page_data] for i in range(3)]
    assert kinds == [0x84, 0x83, 0x82]  # AMap, PMap (every 8th), FMap (after the header's 128)
    tree = read_store(path)
    assert sum(len(f.items) for f in tree.values()) == 400
    assert not any(f.errors for f in tree.values())
