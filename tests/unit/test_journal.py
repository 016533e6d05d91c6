"""The journal on its own: the folder fast path, item outcomes, the failure list and the status view."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.state.journal import ItemRecord, Journal

MAILBOX = "a@corp.example"


def test_a_folder_is_done_only_for_the_same_copy_and_count(tmp_path: Path):
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.set_folder(MAILBOX, "Inbox", "copy-1", 3, done=True, server_id="F1")
        assert journal.folder_done(MAILBOX, "Inbox", "copy-1", 3)
        assert not journal.folder_done(MAILBOX, "Inbox", "copy-2", 3)  # another OST copy
        assert not journal.folder_done(MAILBOX, "Inbox", "copy-1", 4)  # the folder grew
        assert not journal.folder_done("b@corp.example", "Inbox", "copy-1", 3)
        journal.set_folder(MAILBOX, "Inbox", "copy-1", 3, done=False)
        assert not journal.folder_done(MAILBOX, "Inbox", "copy-1", 3)


def test_outcomes_update_in_place_and_failures_keep_their_subject(tmp_path: Path):
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record(
            MAILBOX,
            "copy-1",
            [
                ItemRecord("Inbox", "fp1", 1, "IPM.Note", "uploaded", "id1", None, "hello"),
                ItemRecord("Inbox", "fp2", 2, "IPM.Note", "failed", None, "refused: ErrorItemSave", "secret plan"),
            ],
        )
        assert journal.done_fingerprints(MAILBOX, "Inbox") == {"fp1"}
        assert journal.failed_items() == [(MAILBOX, "Inbox", "IPM.Note", "secret plan", "refused: ErrorItemSave")]
        journal.record(MAILBOX, "copy-1", [ItemRecord("Inbox", "fp2", 2, "IPM.Note", "uploaded", "id2")])
        assert journal.done_fingerprints(MAILBOX, "Inbox") == {"fp1", "fp2"}
        assert journal.failed_items(MAILBOX) == []
        run = journal.start_run(MAILBOX, "alice.ost")
        journal.finish_run(
            run,
            "ok",
            json.dumps({"found": 2, "uploaded": 1, "present": 1, "failed_total": 0, "skipped": {"search folder": 3}}),
        )
        [entry] = journal.status()
        assert entry["items"] == {"uploaded": 2}
        assert entry["last_run"]["status"] == "ok"
        assert (entry["last_run"]["uploaded"], entry["last_run"]["present"], entry["last_run"]["skipped"]) == (1, 1, 3)


def test_subjects_of_uploaded_items_are_not_kept(tmp_path: Path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.record(MAILBOX, "copy-1", [ItemRecord("Inbox", "fp1", 1, "IPM.Note", "uploaded", "id1", None, "hi")])
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT subject FROM items").fetchall() == [(None,)]
