"""Canonical specs load, the CLI lists and builds them, and our layout matches Outlook's sample PST.

The sample comparison skips when ../shared/samples is absent.
"""

from __future__ import annotations

from pathlib import Path

import pypff
import pytest

import fixtures
from fixtures.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "samples"


def test_canonical_specs_load() -> None:
    bulk = fixtures.load_spec("bulk")
    assert (bulk.bulk[0].count, bulk.bulk[0].size_min, bulk.bulk[0].size_max, bulk.bulk[0].folders) == (
        20000,
        5000,
        200000,
        50,
    )
    small = fixtures.load_spec("small")
    kinds = set()

    def walk(folders: list) -> None:
        for f in folders:
            kinds.update(i.kind for i in f.items)
            walk(f.folders)

    walk(small.folders)
    assert kinds == {"mail", "smime", "appointment", "meeting", "contact", "distlist", "task", "note", "journal"}


def test_cli_list_and_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert {"small", "bulk"} <= set(capsys.readouterr().out.split())
    out = tmp_path / "x.ost"
    assert main(["build", "small", str(out), "--format", "ost4k", "--seed", "3", "--manifest", "-"]) == 0
    assert '"format": "ost4k"' in capsys.readouterr().out
    assert out.read_bytes()[8:12] == b"SO\x24\x00"


def test_layout_matches_outlook_sample(tmp_path: Path) -> None:
    sample = SAMPLES / "Outlook.pst"
    if not sample.exists():
        pytest.skip(f"sample files not found at {SAMPLES}")
    ours = tmp_path / "o.pst"
    fixtures.build({"folders": []}, ours)

    def top(path: Path) -> tuple[set[str], set[str]]:
        f = pypff.file()
        f.open(str(path))
        root = f.get_root_folder()
        names = {s.name for s in root.sub_folders}
        ipm = next(s for s in root.sub_folders if s.name == "Top of Personal Folders")
        inner = {s.name for s in ipm.sub_folders}
        f.close()
        return names, inner

    s_root, s_ipm = top(sample)
    o_root, o_ipm = top(ours)
    assert {"Top of Personal Folders", "Search Root", "IPM_VIEWS", "IPM_COMMON_VIEWS"} <= o_root & s_root
    assert s_ipm - {"RSS Feeds"} <= o_ipm
