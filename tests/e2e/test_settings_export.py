"""`inspect` lists each folder's settings and `export` writes them into _settings/ (issue 23), through the
CLI as a process; judged by the fixture spec and by ElementTree and a struct reader written here over the
files written, and by libpff's bytes for the real sample."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import fixtures
from fixtures.spec import load_spec
from tests.conftest import run_cli
from tests.source.libpff_fai import associated_contents

SPEC = load_spec("settings")


@pytest.fixture(scope="module")
def settings_ost() -> Path:
    return fixtures.cached_build("settings", "ost", "permute")[0]


def test_inspect_lists_the_settings_per_folder(settings_ost: Path):
    result = run_cli("inspect", "--ost", str(settings_ost), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    by_folder = {f["path"]: [s["kind"] for s in f["settings"]] for f in report["folders"] if f["settings"]}
    spec_kinds = {
        f.name: [
            "extended_rule" if s.kind == "rule" else s.kind if s.kind != "dictionary" else "configuration"
            for s in f.associated
        ]
        for f in SPEC.folders
        if f.associated
    }
    assert {path.rpartition("/")[2]: kinds for path, kinds in by_folder.items()} == {
        **spec_kinds,
        "Common Views": [s.kind for s in SPEC.common_views],
    }
    assert report["totals"]["settings"] == sum(len(k) for k in spec_kinds.values()) + len(SPEC.common_views)
    assert all(s["problem"] is None for f in report["folders"] for s in f["settings"])
    text = run_cli("inspect", "--ost", str(settings_ost)).stdout
    assert "setting category_list: 3 categories" in text and "setting junk_rule: 2 safe senders" in text


def test_export_writes_the_settings_beside_the_items(settings_ost: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run_cli("export", "--ost", str(settings_ost), "--out", str(out))
    assert result.returncode == 0, result.stderr
    folder = out / "_settings"
    index = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    assert len(index) == sum(len(f.associated) for f in SPEC.folders) + len(SPEC.common_views)
    by_kind = {entry["kind"]: entry for entry in index}
    categories = json.loads((folder / by_kind["category_list"]["file"]).read_text(encoding="utf-8"))
    xml = folder / categories["stream_files"]["0x7C08"]
    [spec] = [s for f in SPEC.folders for s in f.associated if s.kind == "category_list"]
    oracle = [(e.get("name"), int(e.get("color"))) for e in ET.fromstring(xml.read_bytes())]
    assert oracle == [(c.name, c.color) for c in spec.categories]
    assert [(c["name"], c["color"]) for c in categories["record"]["categories"]] == oracle
    autocomplete = json.loads((folder / by_kind["autocomplete"]["file"]).read_text(encoding="utf-8"))
    stream = (folder / autocomplete["stream_files"]["0x7C09"]).read_bytes()
    assert struct.unpack_from("<4I", stream)[::3] == (0xBAADF00D, 3)  # signature and 3 rows, as the spec has
    assert [e["legacy_dn"] is not None for e in autocomplete["record"]["entries"]] == [False, True, True]
    rules = [
        json.loads((folder / e["file"]).read_text(encoding="utf-8")) for e in index if e["kind"] == "extended_rule"
    ]
    assert sorted(r["record"]["name"] for r in rules) == sorted(
        s.rule.name for f in SPEC.folders for s in f.associated if s.kind == "rule"
    )
    for rule in rules:
        for stream_file in rule["stream_files"].values():
            assert (folder / stream_file).stat().st_size > 0  # the original condition and actions, beside it
    assert "settings (folder-associated messages) written" in result.stdout


@pytest.mark.samples
def test_export_of_the_sample_keeps_the_original_bytes(samples: Path, tmp_path: Path):
    by_libpff = associated_contents(samples / "SampleOstFile.ost")
    if by_libpff is None:
        pytest.skip("libpff's shared library is not on this machine")
    out = tmp_path / "out"
    result = run_cli("export", "--ost", str(samples / "SampleOstFile.ost"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = sorted(p.read_bytes() for p in (out / "_settings").iterdir() if p.suffix in (".bin", ".xml"))
    assert written == sorted(d for entries in by_libpff.values() for _, values in entries for d in values.values())
    hours = next((out / "_settings").glob("* work_hours *.xml")).read_bytes()
    ns = {"w": "WorkingHours.xsd"}
    assert ET.fromstring(hours).findtext(".//w:TimeZone/w:Name", namespaces=ns) == "Pakistan Standard Time"


def test_a_damaged_associated_message_is_listed_and_the_rest_still_read(tmp_path: Path):
    """The first associated message the writer stores (NID 0x100008) garbled: inspect names it as an error,
    export lists it as failed and still writes every other setting."""
    built, _ = fixtures.cached_build("settings", "ost", "none")
    path = tmp_path / "damaged.ost"
    path.write_bytes(built.read_bytes())
    fixtures.corrupt_item(path, 0x100008, mode="bytes")
    result = run_cli("inspect", "--ost", str(path), "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [e["node_id"] for e in report["errors"]] == [0x100008]
    total = sum(len(f.associated) for f in SPEC.folders) + len(SPEC.common_views)
    assert report["totals"]["settings"] == total - 1
    out = tmp_path / "out"
    exported = run_cli("export", "--ost", str(path), "--out", str(out))
    assert exported.returncode == 1 and "Traceback" not in exported.stderr
    assert len(json.loads((out / "_settings" / "settings.json").read_text(encoding="utf-8"))) == total - 1
    failures = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["failures"]
    assert [(f["what"], f["node_id"]) for f in failures] == [("setting", 0x100008)]
