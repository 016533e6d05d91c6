"""The in-memory source (pipeline.source.fake) drives a whole MailboxRun into the in-memory destination:
no file, no server. The oracle is what the test itself hands the fake, compared with what the fake
destination holds and with the run's counts."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline.rebuild.run
from pipeline.destination.fake import FakeDestination
from pipeline.model import FolderRole, SourceError
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.source.base import ItemSummary
from pipeline.source.fake import FakeSource, message
from pipeline.state.journal import Journal

MAILBOX = "owner@corp.example"


def _source() -> FakeSource:
    return FakeSource(
        {
            "Posteingang": [message("a"), message("b"), SourceError(("Posteingang",), 0x2000A4, "item", "unreadable")],
            "Posteingang/Projekte/2024": [message("c", "Plan")],
            "Ablage": [message("d"), message("d")],  # two copies of one message: both kept
        },
        roles={"Posteingang": FolderRole.INBOX},
        recovered=[message("lost")],
    )


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeDestination, source: FakeSource, **options: object
) -> pipeline.rebuild.run.Summary:
    opened: list[tuple[object, ...]] = []

    def open_source(path: object, recover: bool = False, codepage: object = None) -> FakeSource:
        opened.append((path, recover, codepage))
        return source

    monkeypatch.setattr(pipeline.rebuild.run, "open_source", open_source)
    ost = tmp_path / "mailbox.ost"  # only its identity (path, size, time) is read: the items come from the fake
    ost.write_bytes(b"")
    settings = load_settings({"state_dir": str(tmp_path / "state"), "batch_items": 2, "convert_processes": 1}, {})
    with Journal(tmp_path / "journal.sqlite") as journal:
        summary = MailboxRun(RunOptions(ost, MAILBOX, **options), settings, fake, journal).run()  # type: ignore[arg-type]
    assert opened and source.closed
    return summary


def test_a_run_over_the_fake_source_lands_every_item_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDestination()
    first = _run(tmp_path, monkeypatch, fake, _source(), recover=True)
    expected = {"Inbox": ["a", "b"], "Inbox/Projekte/2024": ["c"], "Ablage": ["d", "d"], "Recovered items": ["lost"]}
    assert fake.store.listing(MAILBOX) == expected
    assert (first.uploaded, first.failed_total, first.status) == (6, 1, "failed-items")
    again = _run(tmp_path, monkeypatch, fake, _source(), recover=True)  # the rerun finds them all
    assert (again.uploaded, again.present) == (0, 6)
    assert fake.store.listing(MAILBOX) == expected


def test_the_fake_walks_as_a_reader_does() -> None:
    source = _source()
    folders = {f.path_str: f for f in source.folders()}
    assert [f.role for f in source.folders()[:2]] == [FolderRole.ROOT, FolderRole.IPM_SUBTREE]
    inbox, deep = folders["Posteingang"], folders["Posteingang/Projekte/2024"]
    assert (inbox.role, inbox.item_count, inbox.subfolder_count) == (FolderRole.INBOX, 3, 1)
    assert folders["Posteingang/Projekte"].node_id == deep.parent_node_id and deep.item_count == 1
    items = list(source.items(inbox))
    assert [i.subject for i in items if not isinstance(i, SourceError)] == ["a", "b"]
    assert {i.folder_path for i in items if not isinstance(i, SourceError)} == {("Posteingang",)}
    assert [i.subject for i in source.items(inbox, 1, 2)] == ["b"]  # type: ignore[union-attr]
    summaries = list(source.summaries(inbox))
    assert isinstance(summaries[0], ItemSummary) and summaries[0].message_class == "IPM.Note"
    assert isinstance(summaries[2], SourceError)
    (lost,) = source.recovered()
    assert not isinstance(lost, SourceError) and lost.recovered and lost.folder_path == ("Recovered items",)
    node_ids = [i.node_id for f in source.folders() for i in source.items(f)]
    assert len(set(node_ids)) == len(node_ids)
