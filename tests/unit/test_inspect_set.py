"""`rebuild inspect --ost A --ost B --ost C` of a mailbox's set: each file's report, then the merged view.

Oracle: the cache set's spec (fixtures/caches.py): the items per folder after the merge are its expected
items' folders, the items only one file holds are the items with one copy, and the coverage per file and
folder counts the spec's copies there and the copies that decide their item (never the project's index)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fixtures.caches import expected, load_cache_set
from pipeline.cli.main import main
from tests.unit.test_merge_run import caches  # noqa: F401 - a fixture: alice's three files


def test_the_set_is_shown_file_by_file_then_merged_as_the_spec_says(
    caches: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
):
    cache_set = load_cache_set("alice")
    order = ["laptop", "archive", "desktop"]
    code = main(["inspect", *(a for n in order for a in ("--ost", str(caches[n]))), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert [Path(f["file"]).stem for f in report["files"]] == order  # each file, in the order given
    for one in report["files"]:  # each file's own inspect report, as `inspect --ost` alone gives it
        copies = sum(1 for i in cache_set.items for c in i.copies if c.cache == Path(one["file"]).stem)
        assert one["totals"]["items"] == copies
    merged = report["merged"]
    wanted = expected(cache_set)
    assert {f["folder"]: f["items"] for f in merged["folders"]} == dict(Counter(e.folder for e in wanted))
    assert merged["identities"] == len(wanted)
    assert merged["copies"] == sum(len(i.copies) for i in cache_set.items)
    only = Counter(i.copies[0].cache for i in cache_set.items if len({c.cache for c in i.copies}) == 1)
    assert {Path(o["file"]).stem: o["items"] for o in merged["only_in"]} == {n: only[n] for n in order}
    held = Counter((c.cache, c.folder) for i in cache_set.items for c in i.copies)
    won = Counter((e.decided_by, e.folder) for e in wanted)
    assert {(Path(c["file"]).stem, c["folder"]): (c["items"], c["contributed"]) for c in merged["coverage"]} == {
        key: (count, won[key]) for key, count in held.items()
    }
    code = main(["inspect", *(a for n in order for a in ("--ost", str(caches[n])))])
    text = capsys.readouterr().out
    assert code == 0 and f"merged view of 3 files: {merged['copies']} copies of {len(wanted)} items" in text
    assert "  only in one file: archive.pst 1, desktop.ost 2, laptop.ost4k 0\n" in text, text


def test_a_bad_file_of_the_set_is_one_line_and_exit_2(
    caches: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    bad = tmp_path / "laptop.ost"
    bad.write_bytes(b"not a store" * 100)
    code = main(["inspect", "--ost", str(caches["desktop"]), "--ost", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(bad) in err, err
    code = main(["inspect", "--ost", str(caches["desktop"]), "--ost", str(caches["desktop"])])
    assert code == 2 and "given twice" in capsys.readouterr().err
