"""Usable first (pipeline/rebuild/order.py and the run's steps): contacts, then the calendar's series and
recent items, then the last 30 days' mail newest first across folders, then the rest newest first; the
same identities as a folder-order run; exact after an interruption in any phase. Oracles: the fixture spec
(dates, kinds, what belongs where) and the in-memory server's own record of what arrived in which order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import fixtures
from pipeline.destination.fake import FakeDestination
from pipeline.model import FolderRole, SourceError, SourceFolder
from pipeline.rebuild.order import Phase, Step, Windows, plan
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.source.base import Moment
from pipeline.state.journal import Journal

MAILBOX = "olivia@corp.example"
NEWEST = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def at(days_before: float) -> str:
    return (NEWEST - timedelta(days=days_before)).isoformat()


def mail(subject: str, days_before: float) -> dict:
    return {
        "kind": "mail",
        "subject": subject,
        "sender": "a@example.com",
        "to": ["o@corp.example"],
        "sent": at(days_before + 0.01),
        "received": at(days_before),
    }


SPEC = {
    "store": {"name": "Usable", "seed": 5},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                mail("in-old-2023", 600),
                mail("in-recent-5", 5),
                mail("in-old-2024", 200),
                mail("in-newest", 0),
                mail("twin", 3),
                mail("twin", 3),
                mail("in-recent-20", 20),
                mail("in-old-twin", 400),
                mail("in-old-twin", 400),
            ],
        },
        {"name": "Sent Items", "role": "sentitems", "items": [mail("sent-old", 300), mail("sent-recent", 2)]},
        {"name": "Projects", "items": [mail("proj-recent", 10), mail("proj-old", 100)]},
        {
            "name": "Contacts",
            "role": "contacts",
            "items": [
                {
                    "kind": "contact",
                    "display_name": "Ann Example",
                    "given_name": "Ann",
                    "surname": "Example",
                    "emails": ["ann@example.com"],
                },
                {
                    "kind": "contact",
                    "display_name": "Bob Example",
                    "given_name": "Bob",
                    "surname": "Example",
                    "emails": ["bob@example.com"],
                },
            ],
        },
        {
            "name": "Calendar",
            "role": "calendar",
            "items": [
                {"kind": "appointment", "subject": "cal-old", "start": at(300), "end": at(299.9)},
                {
                    "kind": "appointment",
                    "subject": "cal-series",
                    "start": at(400),
                    "end": at(399.9),
                    "recurrence": {"pattern": "weekly", "days": ["mo"], "count": 200},
                },
                {"kind": "appointment", "subject": "cal-next-week", "start": at(-7), "end": at(-7.1)},
            ],
        },
        {"name": "Empty", "items": []},
    ],
}
SUBJECTS = Counter(
    [
        "in-old-2023",
        "in-recent-5",
        "in-old-2024",
        "in-newest",
        "twin",
        "twin",
        "in-recent-20",
        "in-old-twin",
        "in-old-twin",
        "sent-old",
        "sent-recent",
        "proj-recent",
        "proj-old",
        "Ann Example",
        "Bob Example",
        "cal-old",
        "cal-series",
        "cal-next-week",
    ]
)


@pytest.fixture(scope="module")
def ost() -> Path:
    path, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    assert Counter(i.subject or i.display_name for i in manifest.items) == SUBJECTS  # the oracle holds
    return path


def rebuild(
    ost: Path, tmp_path: Path, fake: FakeDestination, order: str = "usable-first", stop_after: int | None = None
):
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 2, "order": order}, {})
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return stop_after is not None and calls["n"] > stop_after

    with Journal(tmp_path / "journal.sqlite") as journal:
        return MailboxRun(RunOptions(ost, MAILBOX), settings, fake, journal, should_stop=should_stop).run()


def arrival(fake: FakeDestination) -> list[str]:
    return [item.subject for item in fake.store.items[MAILBOX]]


def test_usable_first_order_of_arrival(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    summary = rebuild(ost, tmp_path, fake)
    assert summary.status == "ok" and summary.uploaded == sum(SUBJECTS.values())
    got = arrival(fake)
    assert Counter(got) == SUBJECTS
    # people, then the calendar (the series and what is ahead; the old single meeting waits)
    assert set(got[:2]) == {"Ann Example", "Bob Example"}
    assert set(got[2:4]) == {"cal-series", "cal-next-week"}
    # the last 30 days, newest first within a folder, Inbox then Sent Items then the others
    assert got[4:11] == ["in-newest", "twin", "twin", "in-recent-5", "in-recent-20", "sent-recent", "proj-recent"]
    # then the rest by year, newest year first
    # (2025: Projects; 2024: Inbox newest first, Sent Items, the old meeting; 2023: Inbox)
    assert got[11:] == ["proj-old", "in-old-2024", "in-old-twin", "in-old-twin", "sent-old", "cal-old", "in-old-2023"]
    assert summary.usable_after is not None and summary.usable_after <= summary.elapsed


def test_same_identities_whatever_the_order(ost: Path, tmp_path: Path):
    """Items the fingerprint cannot tell apart (the twins) keep their ordinals: a folder-order run after a
    usable-first one finds everything present, and the other way round."""
    for first, then in (("usable-first", "folders"), ("folders", "usable-first")):
        fake = FakeDestination()
        rebuild(ost, tmp_path / first / "a", fake, order=first)
        again = rebuild(ost, tmp_path / first / "b", fake, order=then)  # a fresh journal: only the server knows
        assert again.uploaded == 0 and again.present == sum(SUBJECTS.values()), (first, then)
        assert Counter(arrival(fake)) == SUBJECTS


@pytest.mark.parametrize("stop_after", [1, 3, 6, 9, 14])
def test_interrupted_in_any_phase_then_resumed_is_exact(ost: Path, tmp_path: Path, stop_after: int):
    fake = FakeDestination()
    first = rebuild(ost, tmp_path, fake, stop_after=stop_after)
    assert first.status == "interrupted"
    second = rebuild(ost, tmp_path, fake)
    assert second.status == "ok"
    assert Counter(arrival(fake)) == SUBJECTS  # each once
    assert first.uploaded + second.uploaded == sum(SUBJECTS.values())


def folder(node_id: int, role: FolderRole = FolderRole.NONE, container: str = "IPF.Note", count: int = 1):
    return SourceFolder(node_id, (f"f{node_id}",), f"f{node_id}", container, role, count)


def test_plan_places_unreadable_rows_and_timeless_items_last():
    inbox = folder(1, FolderRole.INBOX, count=3)
    moments = {
        1: [Moment(10, "IPM.Note", NEWEST), SourceError(("f1",), 11, "item", "bad"), Moment(12, "IPM.Note", None)]
    }
    steps = plan([inbox], moments, NEWEST + timedelta(days=1), Windows())
    assert steps == [Step(1, Phase.RECENT, (0,)), Step(1, Phase.REST, (1, 2), last=True)]


def test_plan_anchor_ignores_items_dated_in_the_future():
    now = NEWEST
    inbox = folder(1, FolderRole.INBOX, count=2)
    moments = {1: [Moment(10, "IPM.Note", now - timedelta(days=40)), Moment(11, "IPM.Note", now + timedelta(days=900))]}
    steps = plan([inbox], moments, now, Windows(mail_days=30))
    # anchored on the newest item not in the future (40 days back), so that item is recent; the one dated in
    # the future is newer than the anchor, so it is recent too, and comes first (newest first)
    assert [s.phase for s in steps] == [Phase.RECENT]
    assert steps[0].indexes == (1, 0)
