"""Answers that arrive while the run is already in a later folder (batches stay in flight across folders):
a folder is journaled as finished only when its own items all landed, whichever folder the run is in when
their outcomes come back. Oracle: the fixture spec (which items the fake server refuses, where they are)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import fixtures
from pipeline.destination.base import Outcome
from pipeline.destination.fake import FakeDestination, FakeMailbox, FakeSender, Faults
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.state.journal import Journal, source_identity

MAILBOX = "alice@corp.example"


def mail(subject: str) -> dict:
    return {
        "kind": "mail",
        "subject": subject,
        "body": f"body of {subject}",
        "sender": "a@example.com",
        "to": ["b@example.com"],
    }


SPEC = {
    "store": {"name": "Late", "seed": 5},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [mail("a"), mail("b")],
            "folders": [
                {"name": "Refused", "items": [mail("c"), mail("refused")]},
                {"name": "Fine", "items": [mail("d"), mail("e")]},
            ],
        },
        {"name": "Last", "items": [mail("f")]},
    ],
}


class LateSender:
    """Hands each batch's outcomes over only when the next batch is sent (or at wait), and runs a step once
    every batch sent before it has been handed over, as InFlight does with answers that come late."""

    def __init__(self, mailbox: FakeMailbox, handle: Callable[[list[Outcome]], None]) -> None:
        self.handle = handle
        self.inner = FakeSender(mailbox, self._hold)
        self.stats = self.inner.stats
        self.held: list[list[Outcome]] = []
        self.sent = self.handed = 0
        self.steps: list[tuple[int, Callable[[], None]]] = []
        self.deferred = 0  # steps that had to wait for a later batch

    def _hold(self, outcomes: list[Outcome]) -> None:
        self.held[-1].extend(outcomes)

    def send(self, folder, batch) -> None:
        earlier = self.held
        self.held = [[]]
        self.inner.send(folder, batch)
        self.sent += 1
        self._hand(earlier)

    def _hand(self, batches: list[list[Outcome]]) -> None:
        for outcomes in batches:
            self.handle(outcomes)
            self.handed += 1
        while self.steps and self.steps[0][0] <= self.handed:
            self.steps.pop(0)[1]()

    def after(self, step: Callable[[], None]) -> None:
        self.steps.append((self.sent, step))
        self.deferred += self.handed < self.sent
        self._hand([])

    def wait(self) -> None:
        held, self.held = self.held, []
        self._hand(held)

    def close(self) -> None:
        pass


def test_a_late_refusal_keeps_its_own_folder_unfinished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ost = fixtures.cached(SPEC, "ost")
    senders: list[LateSender] = []

    def late(self, handle, in_flight):
        senders.append(LateSender(self, handle))
        return senders[-1]

    monkeypatch.setattr(FakeMailbox, "sender", late)
    fake = FakeDestination(faults=Faults(refuse={"refused"}))
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 1}, {})
    with Journal(tmp_path / "journal.sqlite") as journal:
        summary = MailboxRun(RunOptions(ost, MAILBOX), settings, fake, journal).run()
        assert (summary.uploaded, summary.failed_total) == (6, 1)
        assert senders[0].deferred >= 3  # the folders' steps did wait for answers that came later
        source = source_identity(ost)
        done = {
            path: journal.folder_done(MAILBOX, path, source, count)
            for path, count in (("Inbox", 2), ("Inbox/Refused", 2), ("Inbox/Fine", 2), ("Last", 1))
        }
    assert done == {"Inbox": True, "Inbox/Refused": False, "Inbox/Fine": True, "Last": True}
    assert fake.store.listing(MAILBOX) == {
        "Inbox": ["a", "b"],
        "Inbox/Refused": ["c"],
        "Inbox/Fine": ["d", "e"],
        "Last": ["f"],
    }
