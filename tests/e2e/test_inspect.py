"""`rebuild inspect` on the real sample files and on broken input, through the CLI as a process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.cli.inspect import build_report
from pipeline.source import open_source
from tests.conftest import run_cli


def _by_path(report: dict) -> dict[str, dict]:
    return {f["path"]: f for f in report["folders"] if not f["outside_ipm"]}


def test_outlook_pst_tree_counts_and_roles(samples: Path):
    result = run_cli("inspect", "--ost", str(samples / "Outlook.pst"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "pst" and report["format"] == "unicode"
    folders = _by_path(report)
    assert folders["Inbox"]["items_read"] == 6 and folders["Inbox"]["role"] == "inbox"
    assert folders["Inbox/SubInbox"]["items_read"] == 0
    assert folders["Sent Items"]["items_read"] == 5 and folders["Sent Items"]["role"] == "sentitems"
    assert folders["Calendar"]["classes"] == {"IPM.Appointment": 1}
    assert folders["Calendar"]["role"] == "calendar"
    assert folders["Contacts"]["classes"] == {"IPM.Contact": 1}
    assert folders["Contacts"]["role"] == "contacts"
    assert folders["Deleted Items"]["role"] == "deleteditems"
    assert folders["Deleted Items"]["role_evidence"] == "store"
    outside = {f["name"]: f for f in report["folders"] if f["outside_ipm"]}
    assert outside["Freebusy Data"]["system"] is True
    assert outside["Search Root"]["role"] == "search" and outside["Search Root"]["system"] is True
    assert report["errors"] == []


def test_sample_ost_is_an_ost_with_roles(samples: Path):
    report = build_report(samples / "SampleOstFile.ost")
    assert report["kind"] == "ost"
    folders = _by_path(report)
    expected = {"Inbox": 12, "Inbox/sub1": 25, "Inbox/sub2": 29, "Deleted Items": 10, "Sent Items": 6, "Calendar": 1}
    assert {path: folders[path]["items_read"] for path in expected} == expected
    assert folders["Sync Issues"]["role"] == "syncissues"
    assert folders["Deleted Items"]["role"] == "deleteditems"
    assert folders["Sent Items"]["role"] == "sentitems"
    assert folders["Calendar"]["role"] == "calendar"
    assert folders["Junk E-Mail"]["role"] == "junkemail"


def test_truncated_sample_exits_2(tmp_path: Path, samples: Path):
    cut = tmp_path / "cut.pst"
    cut.write_bytes((samples / "Outlook.pst").read_bytes()[:200_000])
    result = run_cli("inspect", "--ost", str(cut))
    assert result.returncode == 2 and "truncated" in result.stderr and str(cut) in result.stderr


def test_header_decides_kind_not_name(samples: Path):
    assert build_report(samples / "PersonalStorageFile.ost")["kind"] == "pst"


def test_ansi_pst_opens_with_codepage(samples: Path):
    report = build_report(samples / "ansi-32-bit.pst")
    assert report["format"] == "ansi" and report["version"] == 14
    assert report["codepage"] == "cp1252"
    assert report["totals"]["items"] == 1


def test_every_sample_walks_to_the_end(samples: Path):
    for path in sorted(samples.iterdir()):
        if path.suffix.lower() not in (".pst", ".ost"):
            continue
        with open_source(path) as source:
            items = errors = 0
            for folder in source.folders():
                for entry in source.items(folder):
                    if hasattr(entry, "message_class"):
                        items += 1
                        for attachment in entry.attachments:
                            assert len(attachment.read()) == attachment.size or attachment.method == 5
                    else:
                        errors += 1
            assert items + errors > 0 or path.name == "PersonalStorageFile.ost", path.name


def test_damaged_pst_reports_broken_folders_and_goes_on(samples: Path):
    result = run_cli("inspect", "--ost", str(samples / "damaged-Outlook_part0.pst"), "--json", "--reader", "libpff")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"], "the broken folder must be reported"
    assert any("no value array" in e["reason"] for e in report["errors"])
    assert _by_path(report)["Inbox"]["items_read"] == 2


def test_damaged_pst_with_the_native_reader(samples: Path):
    """The table libpff refuses is an empty one by [MS-PST] (row index without records, no row matrix):
    the native reader lists Deleted Items empty, as its PR_CONTENT_COUNT (0) and readpst say."""
    result = run_cli("inspect", "--ost", str(samples / "damaged-Outlook_part0.pst"), "--json", "--reader", "native")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == []
    assert _by_path(report)["Inbox"]["items_read"] == 2
    assert _by_path(report)["Deleted Items"]["items_read"] == 0


def test_embedded_messages_are_reachable(samples: Path):
    with open_source(samples / "Outlook.pst") as source:
        inbox = next(f for f in source.folders() if f.role.value == "inbox")
        attachments = [a for item in source.items(inbox) for a in item.attachments if a.method == 5]
        embedded = [a.embedded() for a in attachments]
        again = [a.embedded() for a in attachments]  # libpff gives the sub-item out once: kept, not lost
    assert embedded and all(e is not None for e in embedded)
    assert [e.subject for e in again] == [e.subject for e in embedded]
    assert {e.subject for e in embedded} >= {"message 1", "message 2"}
    assert all(e.message_class == "IPM.Note" for e in embedded)


@pytest.mark.parametrize(
    "content", [b"", os.urandom(4096), b"!BDN" + os.urandom(4092)], ids=["zero-bytes", "random", "signature-then-noise"]
)
def test_bad_files_exit_2_with_one_line(tmp_path: Path, content: bytes):
    bad = tmp_path / "bad.ost"
    bad.write_bytes(content)
    result = run_cli("inspect", "--ost", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
