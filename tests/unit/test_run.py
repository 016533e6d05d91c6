"""The run against the in-memory destination (pipeline.destination.fake): folders, dedupe, identical items,
interrupts, lost answers, refusals, pending series, and verify. The oracle is the fixture's own manifest
(what the builder wrote), compared with what the fake server holds."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import fixtures
from pipeline.destination.base import FailureKind
from pipeline.destination.fake import FakeDestination, FakeItem, Faults
from pipeline.fingerprint import Stamp
from pipeline.folder_plan import MAX_NAME
from pipeline.lease import LeaseHolder
from pipeline.rebuild.run import MailboxRun, RunOptions, duplicate_copies
from pipeline.rebuild.verify import verify_mailbox
from pipeline.settings import load_settings
from pipeline.state.journal import Journal

MAILBOX = "alice@corp.example"
LONG = "L" * 300


def mail(subject: str, **extra: object) -> dict:
    return {
        "kind": "mail",
        "subject": subject,
        "body": f"body of {subject}",
        "sender": "a@example.com",
        "to": ["b@example.com"],
        **extra,
    }


SPEC = {
    "store": {"name": "Integrity", "seed": 3},
    "folders": [
        {
            "name": "Posteingang",
            "role": "inbox",
            "items": [mail("a"), mail("b")],
            "folders": [
                {"name": "Projekte", "items": [mail("twin"), mail("twin"), mail("c")]},
                {"name": "Archiv", "folders": [{"name": "2023", "items": [mail("d")]}]},
            ],
        },
        {
            "name": "Notizen",
            "role": "notes",
            "items": [
                {"kind": "note", "subject": "N", "body": "same", "color": "yellow"},
                {"kind": "note", "subject": "N", "body": "same", "color": "blue"},
                {"kind": "note", "subject": "N", "body": "same", "color": "yellow"},
            ],
        },
        {"name": "CaseTest", "items": [mail("e")]},
        {"name": "casetest", "items": [mail("f")]},
        {"name": "  Padded\x07 ", "items": [mail("g")]},
        {"name": LONG, "items": [mail("h")]},
    ],
}

#: What the server must hold, by folder path (role folders by the fake server's own names).
EXPECTED = {
    "Inbox": ["a", "b"],
    "Inbox/Projekte": ["c", "twin", "twin"],
    "Inbox/Archiv/2023": ["d"],
    "Notes": ["N", "N", "N"],
    "CaseTest": ["e"],
    "casetest (2)": ["f"],
    "Padded": ["g"],
    "L" * MAX_NAME: ["h"],
}


@pytest.fixture(scope="module")
def ost() -> Path:
    path, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    written = Counter(i.subject for i in manifest.items)
    assert written == Counter(s for subjects in EXPECTED.values() for s in subjects)  # the oracle holds
    return path


def rebuild(
    ost: Path,
    tmp_path: Path,
    destination: FakeDestination,
    journal_name: str = "journal.sqlite",
    stop_after: int | None = None,
    settings: dict | None = None,
    **options: object,
) -> object:
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 2, **(settings or {})}, {})
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return stop_after is not None and calls["n"] > stop_after

    with Journal(tmp_path / journal_name) as journal:
        return MailboxRun(
            RunOptions(ost, MAILBOX, **options), settings, destination, journal, should_stop=should_stop
        ).run()


def test_full_run_then_rerun(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    first = rebuild(ost, tmp_path, fake)
    assert first.status == "ok" and first.uploaded == 13
    assert fake.store.listing(MAILBOX) == EXPECTED
    again = rebuild(ost, tmp_path, fake)
    assert (again.uploaded, again.present) == (0, 13)
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_a_folder_emptied_on_the_server_after_a_complete_run_is_restored(ost: Path, tmp_path: Path):
    """The journal says every folder is complete; the server has lost the Inbox's items since. The rerun
    does not believe the journal alone: it reads the folder's stamps, walks it again and restores it."""
    fake = FakeDestination()
    assert rebuild(ost, tmp_path, fake).status == "ok"
    inbox = [i for i in fake.store.items[MAILBOX] if fake.store.path(MAILBOX, i.folder) == "Inbox"]
    assert inbox
    fake.store.items[MAILBOX] = [i for i in fake.store.items[MAILBOX] if i not in inbox]
    again = rebuild(ost, tmp_path, fake)
    assert again.status == "ok" and again.uploaded == len(inbox)
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_extra_copies_are_removed_keeping_one_and_never_an_unstamped_item(ost: Path, tmp_path: Path):
    """Copies of one identity (a paused writer's late batch) are reduced to one at the end of the next run:
    the finished copy over a pending one, then the smallest server id. Items without a stamp stay."""
    fake = FakeDestination()
    rebuild(ost, tmp_path, fake)
    items = fake.store.items[MAILBOX]
    original = items[0]
    twin = dataclasses.replace(original, id="a-copy", stamp=Stamp(original.stamp.identity, True))
    stranger = dataclasses.replace(original, id="b-users-own", stamp=Stamp("", False), subject="mine")
    items.extend([twin, stranger])
    again = rebuild(ost, tmp_path, fake)
    assert again.status == "ok" and again.duplicates_removed == 1
    ids = [i.id for i in fake.store.items[MAILBOX]]
    assert original.id in ids and "a-copy" not in ids and "b-users-own" in ids
    assert duplicate_copies([Stamp("x", False, "z9"), Stamp("x", False, "a1"), Stamp("x", True, "a0")]) == ["z9", "a0"]


def test_items_gone_during_the_run_are_sent_again_before_ok(ost: Path, tmp_path: Path):
    """Items stored and then deleted on the server before the run ends (here: right after each batch) are
    found missing by the read-back at the end and sent again; ok only after that."""
    fake = FakeDestination()
    original = fake.open
    vanished: list[str] = []

    def open_(mailbox: str, target_root: str | None = None):  # noqa: ANN202
        box = original(mailbox, target_root)
        make_sender = box.sender

        def sender(handle, in_flight):  # noqa: ANN001, ANN202
            real = make_sender(handle, in_flight)
            send = real.send

            def send_and_lose(folder, batch):  # noqa: ANN001, ANN202
                send(folder, batch)
                if not vanished:  # the first batch is lost once, after it was acknowledged
                    lost = [i for i in fake.store.items[MAILBOX] if i.folder == folder.id]
                    vanished.extend(i.id for i in lost)
                    fake.store.items[MAILBOX] = [i for i in fake.store.items[MAILBOX] if i not in lost]

            real.send = send_and_lose
            return real

        box.sender = sender  # type: ignore[method-assign]
        return box

    fake.open = open_  # type: ignore[method-assign]
    summary = rebuild(ost, tmp_path, fake)
    assert vanished and summary.status == "ok" and summary.restored == len(vanished)
    assert summary.uploaded == 13 and summary.found == 13
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_partial_run_then_full_run_makes_no_stray_inbox(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    partial = rebuild(ost, tmp_path, fake, exclude=("Posteingang/Projekte",))
    assert partial.status == "ok" and "Inbox/Projekte" not in fake.store.listing(MAILBOX)
    rebuild(ost, tmp_path, fake)
    assert fake.store.listing(MAILBOX) == EXPECTED
    names = {name for parent, name in fake.store.folders[MAILBOX].values() if parent == "msgfolderroot"}
    assert "Posteingang" not in names


def test_only_a_subfolder_goes_under_the_real_inbox(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    rebuild(ost, tmp_path, fake, only=("Posteingang/Archiv",))
    assert fake.store.listing(MAILBOX) == {"Inbox/Archiv/2023": ["d"]}


def test_lost_journal_uploads_nothing_again(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    rebuild(ost, tmp_path, fake)
    again = rebuild(ost, tmp_path, fake, journal_name="other.sqlite")
    assert (again.uploaded, again.present) == (0, 13)
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_interrupt_then_resume(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    stopped = rebuild(ost, tmp_path, fake, stop_after=5)
    assert stopped.status == "interrupted"
    assert sum(map(len, fake.store.listing(MAILBOX).values())) < 13
    rebuild(ost, tmp_path, fake)
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_lost_answers_make_no_duplicate(ost: Path, tmp_path: Path):
    fake = FakeDestination(faults=Faults(drop_answers=3))
    summary = rebuild(ost, tmp_path, fake)
    assert summary.status == "ok" and summary.in_doubt_found >= 3
    assert fake.store.listing(MAILBOX) == EXPECTED


def test_refused_item_is_a_typed_failure_and_the_rest_lands(ost: Path, tmp_path: Path):
    fake = FakeDestination(faults=Faults(refuse={"c"}))
    summary = rebuild(ost, tmp_path, fake)
    assert summary.status == "failed-items"
    assert summary.failed == Counter({str(FailureKind.REFUSED): 1})
    assert summary.failures[0]["kind"] == "refused" and summary.failures[0]["folder"] == "Posteingang/Projekte"
    expected = {k: [s for s in v if s != "c"] for k, v in EXPECTED.items()}
    assert fake.store.listing(MAILBOX) == expected


@pytest.mark.parametrize(("order", "fatal_after"), [("folders", 6), ("usable-first", 16)])
def test_fatal_error_stops_the_mailbox_with_true_counts(ost: Path, tmp_path: Path, order: str, fatal_after: int):
    # usable first makes the whole folder tree (a request per folder) before the first item
    fake = FakeDestination(faults=Faults(fatal_after=fatal_after))
    summary = rebuild(ost, tmp_path, fake, settings={"order": order})
    assert summary.status == "fatal" and "UnauthorizedError" in summary.fatal
    stored = sum(map(len, fake.store.listing(MAILBOX).values()))
    assert summary.uploaded == stored > 0 and stored < sum(map(len, EXPECTED.values()))
    assert summary.found >= summary.uploaded


def test_verify_finds_every_defect(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    rebuild(ost, tmp_path, fake)
    options = RunOptions(ost, MAILBOX)
    assert verify_mailbox(options, fake).ok
    items = fake.store.items[MAILBOX]
    inbox = [i for i in items if i.folder == "inbox"]

    items.append(FakeItem("dup", inbox[0].folder, inbox[0].subject, inbox[0].item_class, inbox[0].stamp))
    result = verify_mailbox(options, fake)
    assert not result.ok and result.duplicated == 1
    items.remove(items[-1])

    removed = inbox[1]
    items.remove(removed)
    result = verify_mailbox(options, fake)
    assert not result.ok and result.missing == 1

    items.append(FakeItem("moved", "notes", removed.subject, removed.item_class, removed.stamp))
    result = verify_mailbox(options, fake)
    assert not result.ok and (result.missing, result.misplaced) == (0, 1)
    items.remove(items[-1])
    items.append(removed)

    fake.store.folders[MAILBOX]["stray"] = ("msgfolderroot", "Posteingang")
    items.append(FakeItem("copy", "stray", removed.subject, removed.item_class, removed.stamp))
    result = verify_mailbox(options, fake)
    assert not result.ok and [s.name for s in result.strays] == ["Posteingang"]
    items.remove(items[-1])
    items.append(FakeItem("pending", "inbox", "s", "IPM.Appointment", Stamp("x", pending=True)))
    assert verify_mailbox(options, fake).pending == 1


def test_verify_applies_the_runs_selection(ost: Path, tmp_path: Path):
    fake = FakeDestination()
    rebuild(ost, tmp_path, fake, exclude=("Notizen",))
    assert not verify_mailbox(RunOptions(ost, MAILBOX), fake).ok  # the notes are missing
    assert verify_mailbox(RunOptions(ost, MAILBOX, exclude=("Notizen",)), fake).ok


def _other_holder(**changes: object) -> LeaseHolder:
    return dataclasses.replace(LeaseHolder.me(), token="someone-else", **changes)


def _renewing(fake: FakeDestination) -> None:
    """The holder in the fake's store is alive: it renews its lease while a taker watches."""

    def sleep(seconds: float) -> None:
        fake.now += seconds
        fake.store.leases[MAILBOX] = fake.store.leases[MAILBOX].renewed()

    fake.sleep = sleep  # type: ignore[method-assign]


def test_a_second_run_is_refused_before_writing_anything(ost: Path, tmp_path: Path):
    """A holder seen renewing is alive, whatever its record's wall-clock expiry says (here: long past, as
    a machine whose clock runs behind would write it)."""
    fake = FakeDestination()
    fake.store.mailbox(MAILBOX)
    live = _other_holder(host="other-machine", pid=4242, expires=datetime.now(UTC) - timedelta(hours=1))
    fake.store.leases[MAILBOX] = live
    _renewing(fake)
    summary = rebuild(ost, tmp_path, fake)
    assert summary.status == "busy" and "other-machine" in summary.fatal
    assert fake.store.items[MAILBOX] == [] and len(fake.store.folders[MAILBOX]) == 12  # nothing created
    assert fake.store.leases[MAILBOX].token == live.token  # and the holder keeps it
    assert fake.now < live.seconds  # decided as soon as the renewal was seen


def test_expired_dead_or_broken_leases_are_taken_over(ost: Path, tmp_path: Path):
    """An unrenewed holder elsewhere is taken over after a full period watched on the taker's own clock,
    even when its record says it runs for another day (a clock ahead); a holder on this host whose process
    is gone, or --break-lease, at once."""
    ahead = datetime.now(UTC) + timedelta(days=1)
    for held, options, watched in (
        (_other_holder(host="other-machine", expires=ahead), {}, True),
        (_other_holder(pid=2**22 + 12345), {}, False),  # this host, a process gone
        (_other_holder(host="other-machine"), {"break_lease": True}, False),
    ):
        fake = FakeDestination()
        fake.store.mailbox(MAILBOX)
        fake.store.leases[MAILBOX] = held
        assert rebuild(ost, tmp_path / str(id(held)), fake, **options).status == "ok"
        assert MAILBOX not in fake.store.leases  # released at the end
        assert (fake.now >= held.seconds) is watched, (held, fake.now)


def test_a_run_whose_lease_ran_out_sends_nothing_more(ost: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The fence: once the last acknowledged renewal is older than the lease minus the margin on the run's
    own clock, no request is sent; the run stops as lease-lost (exit 3) and does not release a lease that
    may be another run's by now."""
    fake = FakeDestination()
    run_clock = {"now": 0.0}
    sent: list[int] = []
    original = fake.open

    def open_(mailbox: str, target_root: str | None = None):  # noqa: ANN202
        box = original(mailbox, target_root)
        tick = box._tick

        def ticking() -> None:
            tick()
            sent.append(1)
            if len(sent) == 5:
                run_clock["now"] += 10_000  # the machine slept (a paused VM): far past the lease

        box._tick = ticking  # type: ignore[method-assign]
        return box

    fake.open = open_  # type: ignore[method-assign]
    monkeypatch.setattr("pipeline.lease.steady", lambda: run_clock["now"])
    summary = rebuild(ost, tmp_path, fake, settings={"lease_seconds": 400})
    assert summary.status == "lease-lost" and "could not be renewed" in summary.fatal
    assert len(sent) == 5  # not one request after the clock jumped
    assert MAILBOX in fake.store.leases  # not released: it may be another run's by now


BIG = {
    "store": {"name": "Big", "seed": 5},
    "folders": [
        {
            "name": "Posteingang",
            "role": "inbox",
            "items": [
                mail("small one"),
                mail(
                    "big one", attachments=[{"name": "huge.bin", "size": 2_500_000}, {"name": "small.txt", "size": 100}]
                ),
                mail("small two"),
            ],
        }
    ],
}


def test_an_item_over_the_limit_is_reported_and_the_rest_lands(tmp_path: Path):
    ost, _ = fixtures.cached_build(BIG, "ost", "permute")
    fake = FakeDestination()
    summary = rebuild(ost, tmp_path, fake, settings={"max_item_mb": 1})
    assert summary.status == "failed-items" and summary.failed == Counter({"too large": 1})
    failure = summary.failures[0]
    assert (failure["folder"], failure["subject"]) == ("Posteingang", "big one") and "MB, over the 1 MB" in failure[
        "reason"
    ]
    assert fake.store.listing(MAILBOX) == {"Inbox": ["small one", "small two"]}


def test_strip_sends_it_without_its_largest_attachment(tmp_path: Path):
    ost, manifest = fixtures.cached_build(BIG, "ost", "permute")
    [big] = [i for i in manifest.items if i.subject == "big one"]
    [huge] = [a for a in big.attachments if a.name == "huge.bin"]
    fake = FakeDestination()
    summary = rebuild(ost, tmp_path, fake, settings={"max_item_mb": 1, "large_items": "strip"})
    assert summary.status == "ok" and summary.uploaded == 3
    [sent] = [i.upload for i in fake.store.items[MAILBOX] if i.subject == "big one"]
    assert sent.size < 1024 * 1024 and b"small.txt" in sent.mime and b"huge.bin" in sent.mime  # named in the note
    [saved] = (tmp_path / "reports" / "large-attachments").rglob("*huge.bin")
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == huge.sha256


SERIES = {
    "store": {"name": "Series", "seed": 6},
    "folders": [
        {
            "name": "Kalender",
            "role": "calendar",
            "items": [
                {
                    "kind": "meeting",
                    "subject": "Weekly sync",
                    "start": "2024-03-04T09:00:00",
                    "end": "2024-03-04T09:30:00",
                    "timezone": "W. Europe Standard Time",
                    "sender": "a@example.com",
                    "attendees": ["b@example.com"],
                    "recurrence": {
                        "pattern": "weekly",
                        "days": ["mo"],
                        "count": 10,
                        "deleted": ["2024-03-18T00:00:00"],
                        "exceptions": [
                            {
                                "date": "2024-03-11T00:00:00",
                                "start": "2024-03-11T10:00:00",
                                "end": "2024-03-11T10:30:00",
                                "subject": "Weekly sync (moved)",
                            }
                        ],
                    },
                },
                {
                    "kind": "appointment",
                    "subject": "Dentist",
                    "start": "2024-03-05T08:00:00",
                    "end": "2024-03-05T09:00:00",
                },
            ],
        }
    ],
}


def test_a_series_left_pending_is_finished_by_the_rerun(tmp_path: Path):
    ost, _ = fixtures.cached_build(SERIES, "ost", "permute")
    fake = FakeDestination(faults=Faults(series_fail=1))
    first = rebuild(ost, tmp_path, fake)
    [series] = [i for i in fake.store.items[MAILBOX] if i.subject == "Weekly sync"]
    assert first.warnings["series exceptions pending"] == 1
    assert series.stamp.pending and not series.exceptions_applied
    assert not verify_mailbox(RunOptions(ost, MAILBOX), fake).ok  # verify says the series is not done
    again = rebuild(ost, tmp_path, fake)
    assert again.status == "ok" and again.uploaded == 1 and again.present == 1  # finished, not sent again
    assert [i.subject for i in fake.store.items[MAILBOX]] == ["Weekly sync", "Dentist"]
    assert not series.stamp.pending and series.exceptions_applied
    assert verify_mailbox(RunOptions(ost, MAILBOX), fake).ok


def test_a_folder_counted_empty_that_lists_items_reads_the_servers_stamps_before_sending(
    ost: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A folder whose count says 0 has its stamps read only when an item turns up after all (a damaged
    count): a rerun without the journal finds the Inbox's items on the server and sends none again."""
    import contextlib

    import pipeline.rebuild.run as run_module

    fake = FakeDestination()
    assert rebuild(ost, tmp_path, fake).status == "ok"
    real = run_module.open_source

    class CountedEmpty:
        def __init__(self, source: object) -> None:
            self._source = source

        def __getattr__(self, name: str) -> object:
            return getattr(self._source, name)

        def folders(self) -> list:
            return [
                dataclasses.replace(f, item_count=0) if f.path[-1:] == ("Posteingang",) else f
                for f in self._source.folders()
            ]

    @contextlib.contextmanager
    def counted_empty(*args: object, **kwargs: object):
        with real(*args, **kwargs) as source:
            yield CountedEmpty(source)

    monkeypatch.setattr(run_module, "open_source", counted_empty)
    again = rebuild(ost, tmp_path, fake, journal_name="lost.sqlite")
    assert again.status == "ok" and again.uploaded == 0 and again.duplicates_removed == 0, again
    assert fake.store.listing(MAILBOX) == EXPECTED
