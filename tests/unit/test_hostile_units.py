"""The small pure pieces of issue 12: terminal escaping, spreadsheet-safe CSV, the address check, the
reachability probe, the closing summary's naming of warnings. Oracles: hand-written expectations, Python's
csv module, a socket that refuses."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest

from pipeline.cli.report import render_summary
from pipeline.destination.reach import Unreachable, check_reachable
from pipeline.logs.terminal import shown
from pipeline.rebuild.run import Summary
from pipeline.source.gate import is_smtp_address
from pipeline.state.reports import spreadsheet_safe, write_csv


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("plain — grüße 你好 😀", "plain — grüße 你好 😀"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("a\x1b[2Jb\tc\r\nd", "a\\x1b[2Jb\\x09c\\x0d\\x0ad"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("nbsp\u00a0ok", "nbsp\u00a0ok"),
    ],
)
def test_shown_escapes_controls_only(raw: str, seen: str):
    assert shown(raw) == seen


def test_spreadsheet_safe_cells_and_file(tmp_path: Path):
    for cell in ("=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"):
        assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("plain") == "plain" and spreadsheet_safe(None) == ""
    path = write_csv(tmp_path / "r.csv", ["subject"], [['=HYPERLINK("http://x")'], ["ok, with comma"]])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh)) == [["subject"], ['\'=HYPERLINK("http://x")'], ["ok, with comma"]]


@pytest.mark.parametrize("address", ["a@b@c", "user@", "@example.com", "a b@c.d", "x@-bad.com", "a@b..c", ""])
def test_bad_addresses(address: str):
    assert not is_smtp_address(address)


@pytest.mark.parametrize("address", ["alice@corp.example", "first.last+tag@sub.corp-1.example", "demo@sandbox.local"])
def test_good_addresses(address: str):
    assert is_smtp_address(address)


def test_unreachable_server_is_one_line_after_the_shown_budget():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    said: list[str] = []
    slept: list[float] = []
    url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"
    with pytest.raises(Unreachable) as caught:
        check_reachable(url, waits=(1.0, 3.0), sleep=slept.append, say=said.append)
    assert str(caught.value) == f"cannot reach {url}: connection refused (3 attempts)"
    assert slept == [1.0, 3.0] and len(said) == 2 and "attempt 1 of 3" in said[0]


def test_summary_names_items_carried_with_a_warning():
    summary = Summary("a@corp.example", "a.ost", found=1, uploaded=1, status="ok")
    summary.warnings["fields EWS cannot take"] = 1
    summary.warning_items.append(
        {
            "folder": "Kalender",
            "item_class": "IPM.Appointment",
            "subject": "Weekly\x1b[2J sync",
            "warning": "fields EWS cannot take: organizer",
        }
    )
    text = render_summary(summary)
    assert "warning: Kalender | IPM.Appointment | Weekly\\x1b[2J sync | fields EWS cannot take: organizer" in text


def test_a_web_server_without_ews_is_refused_at_once(tmp_path: Path):
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx"
    try:
        with pytest.raises(Unreachable, match="HTTP 404, no EWS endpoint") as caught:
            check_reachable(url, sleep=lambda s: pytest.fail("a 404 is not retried"))
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.attempts == 1


def test_map_table_counts_and_names_warnings():
    from pipeline.cli.report import render_table

    summary = Summary("b@corp.example", "b.ost", found=2, uploaded=2, status="ok")  # a run that reached its end
    summary.warnings["fields EWS cannot take"] = 1
    summary.warning_items.append(
        {
            "folder": "Calendar",
            "item_class": "IPM.Appointment",
            "subject": "Sync",
            "warning": "fields EWS cannot take: organizer",
        }
    )
    lines = render_table([summary]).splitlines()
    assert lines[2].split()[-2:] == ["1", "ok"]
    assert lines[3] == "warning: b@corp.example | Calendar | IPM.Appointment | Sync | fields EWS cannot take: organizer"


def test_a_root_folder_libpff_cannot_build_is_one_line(monkeypatch: pytest.MonkeyPatch):
    """Two bit-flip variants made pypff raise MemoryError from root_folder: that is 'does not open'."""
    import fixtures
    from pipeline.source import SourceOpenError, open_source, pff

    class Broken:
        ascii_codepage = b"cp1252"
        number_of_orphan_items = 0
        message_store = None
        name_to_id_map = None

        def open(self, path: str) -> None:
            pass

        def close(self) -> None:
            pass

        @property
        def root_folder(self) -> None:
            raise MemoryError("pypff_file_get_root_folder: unable to create folder object.")

    monkeypatch.setattr(pff.pypff, "file", Broken)
    ost = fixtures.cached("small", format="ost")
    with pytest.raises(SourceOpenError) as caught:
        open_source(ost, reader="libpff")  # the libpff reader (the native one reads this file)
    assert str(caught.value) == f"{ost}: the root folder cannot be read (the folder tree is damaged)"
    assert "pypff_file_get_root_folder" in caught.value.detail
