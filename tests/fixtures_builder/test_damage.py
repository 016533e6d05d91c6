"""Damage on demand: a broken item, CRC, B-tree page or truncated file, read back with pypff.

The point is that the reader reports the bad item and still reads the others.
"""

from __future__ import annotations

from pathlib import Path

import pypff
import pytest

import fixtures
from fixtures.reader import NdbReader

from .helpers import read_store


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, fixtures.Manifest]:
    path = tmp_path / "d.pst"
    return path, fixtures.build("small", path, format="pst", encryption="permute")


def _counts(path: Path) -> tuple[int, int, set[str]]:
    tree = read_store(path)
    ok = sum(len(f.items) for f in tree.values())
    bad = sum(len(f.errors) for f in tree.values())
    return ok, bad, {i.subject for f in tree.values() for i in f.items}


def test_corrupt_one_item_others_still_read(small) -> None:
    path, manifest = small
    fixtures.apply(path, manifest, [fixtures.Damage("item-bytes", "RTF only body")])
    ok, bad, subjects = _counts(path)
    assert (ok, bad) == (manifest.item_count - 1, 1)
    assert "RTF only body" not in subjects and "Plain hello — grüße 你好" in subjects
    assert manifest.damage[0]["subject"] == "RTF only body"


def test_corrupt_crc_only_is_detectable_but_readable(small) -> None:
    path, manifest = small
    item = next(i for i in manifest.items if i.subject == "Dentist")
    fixtures.corrupt_item(path, item.nid, mode="crc")
    r = NdbReader(path)
    bad = [b for b in r.blocks().values() if not r.block_crc_ok(b)]
    assert len(bad) == 1 and bad[0].bid == r.nodes()[item.nid][0]
    ok, errors, _ = _counts(path)
    assert ok == manifest.item_count and errors == 0  # libpff does not enforce block CRCs


@pytest.mark.parametrize("tree", ["nbt", "bbt"])
def test_broken_btree_page_loses_some_items_only(small, tree: str) -> None:
    path, manifest = small
    fixtures.break_btree_page(path, tree)
    ok, bad, _ = _counts(path)
    assert bad >= 1 and ok >= 1 and ok + bad <= manifest.item_count


def test_truncated_file_fails_cleanly(small) -> None:
    path, manifest = small
    info = fixtures.truncate(path, 0.5)
    assert path.stat().st_size == info["size"] < manifest.size
    f = pypff.file()
    with pytest.raises(OSError):
        f.open(str(path))


def test_cli_damage_flags(tmp_path: Path) -> None:
    from fixtures.cli import main

    out = tmp_path / "c.ost"
    assert (
        main(
            [
                "build",
                "small",
                str(out),
                "--encryption",
                "none",
                "--corrupt-item",
                "Dentist",
                "--manifest",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    ok, bad, subjects = _counts(out)
    assert bad == 1 and "Dentist" not in subjects
    assert '"item-bytes"' in (tmp_path / "m.json").read_text()
