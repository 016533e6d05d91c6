"""Issue 28: an item whose attachments alone are over --max-item-mb is refused before any of them is read
(skip mode); `strip` still reads what it saves. Oracle: the fixture manifest, and a record of every
attachment the run loads (Attachment.load, the one way an attachment's bytes enter memory for conversion)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import fixtures
from pipeline.destination.fake import FakeDestination
from pipeline.model import Attachment
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.state.journal import Journal

MAILBOX = "alice@corp.example"
SPEC = {
    "store": {"name": "Limit", "seed": 9},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {"kind": "mail", "subject": "small", "body": "s", "attachments": [{"name": "note.txt", "size": 2000}]},
                {
                    "kind": "mail",
                    "subject": "over",
                    "body": "o",
                    "attachments": [{"name": "huge.bin", "size": 1_200_000}, {"name": "tiny.txt", "size": 10}],
                },
                {"kind": "mail", "subject": "after", "body": "a"},
            ],
        }
    ],
}


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    real = Attachment.load

    def recording(self: Attachment) -> None:
        names.append(self.filename or "")
        real(self)

    monkeypatch.setattr(Attachment, "load", recording)
    return names


def run(tmp_path: Path, **settings: object) -> tuple[object, FakeDestination]:
    ost, _manifest = fixtures.cached_build(SPEC, "ost", "permute")
    fake = FakeDestination()
    values = load_settings({"state_dir": str(tmp_path), "max_item_mb": 1, **settings}, {})
    with Journal(tmp_path / "journal.sqlite") as journal:
        return MailboxRun(RunOptions(ost, MAILBOX), values, fake, journal).run(), fake


def test_an_item_whose_attachments_are_over_the_limit_is_refused_unread(tmp_path: Path, loaded: list[str]):
    summary, fake = run(tmp_path)
    assert summary.failed == Counter({"too large": 1})
    [failure] = summary.failures
    assert failure["subject"] == "over" and "attachments hold 1.1 MB, over the 1 MB limit" in failure["reason"]
    assert "huge.bin" not in loaded and "tiny.txt" not in loaded, loaded
    assert loaded == ["note.txt"]
    assert fake.store.listing(MAILBOX) == {"Inbox": ["after", "small"]}


def test_strip_still_reads_and_saves_what_it_leaves_out(tmp_path: Path, loaded: list[str]):
    summary, fake = run(tmp_path, large_items="strip")
    assert summary.status == "ok" and "huge.bin" in loaded
    assert sorted(fake.store.listing(MAILBOX)["Inbox"]) == ["after", "over", "small"]
    assert list((tmp_path / "reports" / "large-attachments").rglob("*huge.bin"))
