"""Issue 28: a file built to explode a reader's memory (120 inflate bombs, XBLOCKs and XXBLOCKs that list one
block thousands of times, a 4 GB lcbTotal) goes through `export` and the main job with a flat peak RSS, its
hostile items reported one by one, every other item intact.

The commands run as child processes of a fresh wrapper process that reports the peak RSS of what it waited
for (resource.getrusage(RUSAGE_CHILDREN): the CLI and the processes it starts), measured from outside. Oracles:
the fixture manifest (which items are hostile, every attachment's sha256), the export directory's files, the
sandbox's own store read in the test, and the same file built without the damage as the clean baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import fixtures
from fixtures.hostile import spec as hostile_spec
from tests.conftest import REPO, sandbox_items

MIB = 1 << 20
LIMIT = 300 * MIB
#: Runs argv[2:] as a child, waits, and writes the children's peak RSS in bytes to argv[1] ("" without the
#: resource module, e.g. on Windows). Linux counts ru_maxrss in KiB, macOS in bytes.
WRAPPER = """
import subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
try:
    import resource
except ImportError:
    peak = ""
else:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
open(sys.argv[1], "w").write(str(peak))
sys.exit(code)
"""


def measured(tmp: Path, *args: str, timeout: float = 180) -> tuple[subprocess.CompletedProcess[str], int | None]:
    """`python -m pipeline ARGS` as the grandchild of this test; (its result, peak RSS in bytes or None)."""
    peak_file = tmp / f"peak-{len(list(tmp.glob('peak-*')))}"
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(peak_file), sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    text = peak_file.read_text() if peak_file.exists() else ""
    return result, int(text) if text else None


def check_peak(peak: int | None, what: str) -> None:
    if peak is None:
        print(f"peak RSS of {what} not measured: this platform has no resource.getrusage")
        return
    print(f"peak RSS of {what}: {peak / MIB:.0f} MB")
    assert peak < LIMIT, f"{what} peaked at {peak / MIB:.0f} MB"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, fixtures.Manifest]:
    path = tmp_path_factory.mktemp("hostile") / "hostile.ost"
    return path, fixtures.build_hostile(path, bombs=120, clean=40)


def test_export_of_the_hostile_file_stays_flat_and_reports_each_hostile_item(
    tmp_path: Path, hostile: tuple[Path, fixtures.Manifest]
):
    path, manifest = hostile
    hostile_nids = {d["nid"] for d in manifest.damage}
    assert len(hostile_nids) == 120 + 6
    result, peak = measured(tmp_path, "export", "--ost", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    check_peak(peak, "export of the hostile file")

    exported = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    warned = {item["node_id"]: item["warnings"] for item in exported["items"] if item["warnings"]}
    assert set(warned) == hostile_nids, "each hostile item reported, and only those"
    assert all(w.startswith("attachment ") and "unreadable" in w for ws in warned.values() for w in ws), warned
    files = {item["node_id"]: item["file"] for item in exported["items"]}
    assert set(files) == {i.nid for i in manifest.items}, "every item of the spec exported, hostile ones too"
    for item in manifest.items:
        eml = (tmp_path / "out" / files[item.nid]).read_bytes()
        assert f"Subject: {item.subject}".encode() in eml
        if item.nid not in hostile_nids:
            for attachment in item.attachments:
                assert attachment.name.encode() in eml

    # The baseline: the same spec built without the damage, read by the same command.
    clean = tmp_path / "clean.ost"
    fixtures.build(hostile_spec(120, 40), clean, format="ost4k", encryption="none")
    baseline, clean_peak = measured(tmp_path, "export", "--ost", str(clean), "--out", str(tmp_path / "clean-out"))
    assert baseline.returncode == 0, baseline.stderr
    if peak is not None and clean_peak is not None:
        print(f"peak RSS of export of the clean file: {clean_peak / MIB:.0f} MB")
        # An item may still read as much as the whole file (the 40 attachments sharing one tree read four
        # copies of it, 16 MB, before the fifth is refused), and a converted byte costs a few in memory.
        assert peak < clean_peak + 6 * manifest.size, "as flat on the hostile file as on the clean one"


def test_main_job_on_the_hostile_file_stays_flat_reports_each_item_and_uploads_the_rest(
    tmp_path: Path, hostile: tuple[Path, fixtures.Manifest]
):
    path, manifest = hostile
    state, mailbox = tmp_path / "state", "hostile@sandbox.local"
    result, peak = measured(
        tmp_path, "--ost", str(path), "--mailbox", mailbox, "--state", str(state), "--json", "--log-level", "error"
    )
    assert result.returncode == 1, result.stderr  # README: 1 when some items failed
    assert "Traceback" not in result.stderr
    check_peak(peak, "the main job on the hostile file")

    summary = json.loads(result.stdout)
    hostile_subjects = set(fixtures.hostile_subjects(manifest))
    # 40 attachments naming one 4 MB tree declare 160 MB: over --max-item-mb, refused before any is read.
    [failure] = summary["failures"]
    assert failure["subject"] == "attachments share one data tree" and failure["kind"] == "too large", failure
    warned = Counter(w["subject"] for w in summary["warning_items"])
    assert set(warned) == hostile_subjects - {failure["subject"]}, "each hostile item reported by name, only those"
    assert all("unreadable" in w["warning"] for w in summary["warning_items"])
    # One line per damaged attachment: the item with three hostile attachments has three.
    assert warned["xxblock of repeating xblocks"] == 3 and warned["bomb 000"] == 1

    # The server, read straight from the sandbox's store: every item of the spec once; intact attachments
    # byte for byte (the hostile items arrive without the data their damage made unreadable).
    on_server = sandbox_items(state / "sandbox", mailbox)
    sent = Counter(i.subject for i in manifest.items if i.subject != failure["subject"])
    assert Counter(i["subject"] for i in on_server) == sent
    digests = {i["subject"]: dict(i["attachments"]) for i in on_server}
    for item in manifest.items:
        if item.subject not in hostile_subjects:
            assert digests[item.subject] == {a.name: a.sha256 for a in item.attachments}, item.subject
