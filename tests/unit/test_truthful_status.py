"""Issue 28: a summary is "ok" only when the run reached its end; a crash (here: the journal's disk full) makes
it "crashed" with true counts, the outcomes of batches in flight included; the JSON report is whole or absent.

The oracle is what the in-memory server holds, counted in the test, and the json module reading the report.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import fixtures
from pipeline.destination.base import Outcome, OutcomeState, SendStats
from pipeline.destination.fake import FakeDestination, FakeItem, FakeMailbox
from pipeline.destination.inflight import InFlight
from pipeline.fingerprint import Stamp
from pipeline.rebuild.run import MailboxRun, RunOptions, Summary
from pipeline.rebuild.status import RunStatus
from pipeline.settings import load_settings
from pipeline.state.journal import Journal
from pipeline.state.reports import write_reports

MAILBOX = "crash@corp.example"
SPEC = {
    "store": {"name": "Crash", "seed": 5},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": 60, "size_min": 200, "size_max": 400, "folders": 1, "seed": 5, "parent": "Inbox"}],
}


class FullJournal(Journal):
    """A journal whose disk fills up after `room` batches of outcomes, as SQLite reports it."""

    room = 3

    def record(self, mailbox, source, records):  # type: ignore[override]
        records = list(records)
        if not records:
            return
        if self.room <= 0:
            raise sqlite3.OperationalError("database or disk is full")
        self.room -= 1
        super().record(mailbox, source, records)

    def finish_run(self, run_id, status, summary_json):  # type: ignore[override]
        raise sqlite3.OperationalError("database or disk is full")


class SlowSender(InFlight):
    """Batches in flight on threads, as the EWS and Graph senders send them; each takes a moment."""

    def __init__(self, mailbox: FakeMailbox, handle, depth: int) -> None:
        super().__init__(handle, depth, "slow")
        self.mailbox = mailbox
        self.stats = SendStats()
        self._store_lock = threading.Lock()

    def _deliver(self, folder, batch) -> None:
        time.sleep(0.05)
        outcomes = []
        with self._store_lock:
            for upload in batch:
                item = FakeItem(
                    f"i{next(self.mailbox.store.ids)}",
                    folder.id,
                    upload.subject,
                    upload.item_class,
                    Stamp(upload.identity, upload.series_pending),
                    upload=upload,
                )
                self.mailbox.store.items[self.mailbox.address].append(item)
                outcomes.append(Outcome(upload, OutcomeState.UPLOADED, server_id=item.id))
        self.outcomes.put(outcomes)


@pytest.fixture(scope="module")
def ost() -> Path:
    return fixtures.cached(SPEC, "ost")


def run_with(ost: Path, tmp_path: Path, fake: FakeDestination) -> Summary:
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 4, "requests_in_flight": 4}, {})
    with FullJournal(tmp_path / "journal.sqlite") as journal:
        return MailboxRun(RunOptions(ost, MAILBOX), settings, fake, journal).run()


def stored(fake: FakeDestination) -> int:
    return len(fake.store.items[MAILBOX])


def test_a_full_journal_makes_the_run_crashed_with_true_counts(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    summary = run_with(ost, tmp_path, fake)
    assert summary.status == RunStatus.CRASHED == "crashed"
    assert "no space left" in (summary.fatal or "") and "journal.sqlite" in (summary.fatal or "")
    assert 0 < stored(fake) < 60
    assert summary.uploaded == stored(fake)  # every item the server holds is counted, none more
    assert json.loads(json.dumps(summary.as_dict(), default=str))["status"] == "crashed"


def test_batches_in_flight_at_the_crash_are_counted(ost: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(FakeMailbox, "sender", lambda self, handle, depth: SlowSender(self, handle, depth))
    fake = FakeDestination()
    summary = run_with(ost, tmp_path, fake)
    assert summary.status == RunStatus.CRASHED
    assert stored(fake) > 3 * 4  # batches were in flight past the last one the journal took
    assert summary.uploaded == stored(fake)


def test_a_summary_is_running_until_its_run_ends():
    assert Summary("a@b.c", "x.ost").status == RunStatus.RUNNING != RunStatus.OK


def test_the_json_report_is_whole_or_absent(tmp_path: Path):
    class Exploding(Summary):
        def as_dict(self):  # type: ignore[override]
            data = super().as_dict()
            data["later"] = Unserializable()
            return data

    class Unserializable:
        def __str__(self) -> str:
            raise OSError(28, "No space left on device")

    good = Summary("a@b.c", "x.ost", status=RunStatus.OK)
    first = write_reports(tmp_path, [good])
    assert json.loads(first[0].read_text("utf-8"))[0]["status"] == "ok"
    with pytest.raises(OSError):
        write_reports(tmp_path, [good, Exploding("d@e.f", "y.ost")])
    reports = sorted(tmp_path.glob("run-*.json"))
    assert reports == [first[0]]  # no half-written report, no temporary file left
    assert not list(tmp_path.glob(".*tmp"))
