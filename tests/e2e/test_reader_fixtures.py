"""The reader on fixture-built files: every format, localized folder names, and damage on purpose.

Roles must come from store properties ('Posteingang' is the inbox), and damage must stay contained.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import fixtures
from pipeline.cli.inspect import build_report
from pipeline.model import SourceError
from pipeline.sandbox import views
from pipeline.sandbox.store import SandboxStore
from pipeline.source import open_source
from tests.conftest import run_cli

LOCALIZED = {
    "Posteingang": "inbox",
    "Gesendete Elemente": "sentitems",
    "Kalender": "calendar",
    "Kontakte": "contacts",
    "Aufgaben": "tasks",
    "Notizen": "notes",
    "Entwürfe": "drafts",
}


@pytest.mark.parametrize("fmt", ["pst", "ost", "ost4k", "ansi"])
def test_every_format_reads_with_roles_and_counts(fmt: str):
    path, manifest = fixtures.cached_build("small", format=fmt)
    report = build_report(path)
    assert report["kind"] == ("pst" if fmt in ("pst", "ansi") else "ost")
    assert report["format"] == {"pst": "unicode", "ost": "unicode", "ost4k": "unicode-4k", "ansi": "ansi"}[fmt]
    folders = {f["name"]: f for f in report["folders"] if not f["outside_ipm"]}
    for name, role in LOCALIZED.items():
        assert folders[name]["role"] == role, (fmt, name)
    expected = {f.name: f.items for f in manifest.folders}
    for name, folder in folders.items():
        if name in expected:
            assert folder["items_read"] == expected[name], (fmt, name)
    assert report["errors"] == []


def test_items_carry_every_written_subject_and_attachment(tmp_path: Path):
    path, manifest = fixtures.cached_build("small", format="ost")
    wanted = {(i.subject, a.name, a.sha256) for i in manifest.items for a in i.attachments if a.method == 1}
    found = set()
    embedded_depth = 0
    with open_source(path) as source:
        for folder in source.folders():
            for item in source.items(folder):
                assert not isinstance(item, SourceError)
                for attachment in item.attachments:
                    if attachment.method == 1:
                        found.add((item.subject, attachment.filename, hashlib.sha256(attachment.read()).hexdigest()))
                    depth, inner = 0, attachment.embedded()
                    while inner is not None:
                        depth += 1
                        inner = next((a.embedded() for a in inner.attachments if a.method == 5), None)
                    embedded_depth = max(embedded_depth, depth)
    assert wanted <= found
    assert embedded_depth >= 3


def test_corrupt_item_is_reported_and_the_rest_is_read(tmp_path: Path):
    path, manifest = fixtures.cached_build("small", format="ost")
    damaged = tmp_path / "damaged.ost"
    shutil.copy(path, damaged)
    victim = next(i for i in manifest.items if i.subject.startswith("Plain hello"))
    fixtures.corrupt_item(damaged, victim.nid)
    result = run_cli("inspect", "--ost", str(damaged), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert len(report["errors"]) == 1 and report["errors"][0]["node_id"] in (victim.nid, None)
    assert report["totals"]["items"] == len(manifest.items) - 1


def test_broken_btree_page_is_contained(tmp_path: Path):
    path, manifest = fixtures.cached_build("small", format="pst")
    damaged = tmp_path / "broken.pst"
    shutil.copy(path, damaged)
    fixtures.break_btree_page(damaged, "bbt")
    report = build_report(damaged)
    assert 0 < report["totals"]["items"] <= len(manifest.items)


def test_truncated_fixture_exits_2_with_one_line(tmp_path: Path):
    path = fixtures.cached("small", format="ost")
    cut = tmp_path / "cut.ost"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    result = run_cli("inspect", "--ost", str(cut))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "truncated" in result.stderr and str(cut) in result.stderr


def test_orphans_are_counted_and_recover_offers_them(tmp_path: Path):
    spec = {
        "store": {"name": "orphans", "seed": 5},
        "folders": [{"name": "Inbox", "role": "inbox", "items": [{"subject": "kept", "body": "k"}]}],
        "orphans": [{"subject": f"Lost {i}", "body": "recovered"} for i in range(3)],
    }
    ost = fixtures.cached(spec, format="ost")
    plain = build_report(ost)
    assert plain["orphan_items"] == 3 and plain["recovered"] is None
    recovered = json.loads(run_cli("inspect", "--ost", str(ost), "--recover", "--json").stdout)
    assert recovered["recovered"] == {"items": 3, "classes": {"IPM.Note": 3}}

    state = tmp_path / "state"
    without = run_cli("--ost", str(ost), "--mailbox", "orphans@sandbox.local", "--state", str(state), "--json")
    assert without.returncode == 0, without.stderr
    assert json.loads(without.stdout)["uploaded"] == 1
    with_recover = run_cli(
        "--ost", str(ost), "--mailbox", "orphans@sandbox.local", "--state", str(state), "--recover", "--json"
    )
    assert with_recover.returncode == 0, with_recover.stderr
    assert json.loads(with_recover.stdout)["uploaded"] == 3
    store = SandboxStore(state / "sandbox")
    try:
        subjects = sorted(i["subject"] for i in views.items(store, "orphans@sandbox.local", ("Recovered items",)))
    finally:
        store.close()
    assert subjects == ["Lost 0", "Lost 1", "Lost 2"]


def test_rebuild_of_a_damaged_ost_reports_the_bad_item_and_uploads_the_rest(tmp_path: Path):
    path, manifest = fixtures.cached_build("small", format="ost")
    damaged = tmp_path / "damaged.ost"
    shutil.copy(path, damaged)
    victim = next(i for i in manifest.items if i.subject.startswith("Plain hello"))
    fixtures.corrupt_item(damaged, victim.nid)
    state = tmp_path / "state"
    result = run_cli("--ost", str(damaged), "--mailbox", "damaged@sandbox.local", "--state", str(state), "--json")
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed_total"] == 1 and summary["source_errors"] == 1
    (failure,) = summary["failures"]
    assert failure["folder"] == "Posteingang" and failure["reason"].startswith("unreadable item")
    assert summary["uploaded"] == summary["found"] - 1 - sum(summary["skipped"].values())
