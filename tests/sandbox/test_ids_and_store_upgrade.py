"""The sandbox's ids as Exchange lays out an EwsId, the short ids of earlier sandboxes still read, and a data
folder of an earlier sandbox (no folder change times, no IMAP counters) opened and upgraded in place.

Ledger: ews-ids, item-computed. The layout is checked byte by byte against its description outside this
project (gist.github.com/poizan42/ccbdce8f667a6386783e78d1ae1d09b7; MS-OXCDATA 2.2.4 for entry ids), not
against pipeline/sandbox/ids.py's own constants.
"""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
import struct
import uuid

import pytest

from pipeline.sandbox import ids
from pipeline.sandbox.rows import NewItem
from pipeline.sandbox.store import SandboxStore


def test_item_and_folder_ids_follow_the_ewsid_layout():
    item = base64.b64decode(ids.item_id(7, 4242))
    assert (item[0], item[1], struct.unpack("<H", item[2:4])[0]) == (0, 3, 36)  # no compression, GUID based
    guid = uuid.UUID(item[4:40].decode("ascii"))
    assert (item[40], struct.unpack("<H", item[41:43])[0]) == (0, 70)  # normal id, a message entry id
    entry = item[43:]
    assert len(entry) == 70 and entry[:4] == bytes(4) and entry[4:20] == guid.bytes
    assert struct.unpack("<H", entry[20:22])[0] == 0x0007  # eitLTPrivateMessage
    assert int.from_bytes(entry[62:68], "big") == 4242
    folder = base64.b64decode(ids.folder_id(7, 9))
    assert len(folder) == 89 and struct.unpack("<H", folder[41:43])[0] == 46
    assert struct.unpack("<H", folder[43 + 20 : 43 + 22])[0] == 0x0001  # eitLTPrivateFolder
    other_mailbox = base64.b64decode(ids.item_id(8, 4242))
    assert other_mailbox[4:40] != item[4:40]


def test_ids_are_told_apart_and_short_ids_still_read():
    start = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    occurrence = ids.occurrence_id(7, 42, start)
    assert ids.parse_occurrence_id(occurrence) == ids.OccurrenceRef(7, 42, start)
    for text, parse in (
        (ids.folder_id(7, 1), ids.parse_item_id),
        (occurrence, ids.parse_item_id),
        (ids.item_id(7, 1), ids.parse_folder_id),
        ("AAMkAB==", ids.parse_item_id),
    ):
        with pytest.raises(ids.MalformedId):
            parse(text)
    short_item = base64.b64encode(b"SBXI" + struct.pack(">IQ", 3, 42)).decode()
    short_folder = base64.b64encode(b"SBXF" + struct.pack(">IQ", 3, 5)).decode()
    assert ids.parse_item_id(short_item) == ids.RowRef(3, 42)
    assert ids.parse_folder_id(short_folder) == ids.RowRef(3, 5)


def _item(folder_id: int, subject: str) -> NewItem:
    return NewItem(folder_id, "Message", "IPM.Note", subject, False, True, None, None, 10, None, {}, [], [])


def test_a_data_folder_of_an_earlier_sandbox_is_upgraded(tmp_path):
    store = SandboxStore(tmp_path)
    mailbox = store.add_mailbox("old@sandbox.local")
    with store.write() as conn:
        inbox = store.distinguished(conn, mailbox.id, "inbox")
        first, second = store.insert_items(conn, mailbox.id, [_item(inbox.id, "a"), _item(inbox.id, "b")])
    store.close()
    with sqlite3.connect(tmp_path / "sandbox.sqlite") as raw:  # back to the layout of earlier sandboxes
        for trigger in ("folders_inserted", "folders_deleted", "items_inserted", "items_deleted", "items_updated"):
            raw.execute(f"DROP TRIGGER {trigger}")
        raw.execute("ALTER TABLE folders DROP COLUMN changed")
        raw.execute("ALTER TABLE folders DROP COLUMN last_article")
        raw.execute("DROP TABLE counters")
        raw.execute("DROP TABLE folder_props")
        raw.execute("DELETE FROM items WHERE id=?", (second,))
    upgraded = SandboxStore(tmp_path)
    with upgraded.write() as conn:
        folder = upgraded.distinguished(conn, mailbox.id, "inbox")
        assert folder.changed and folder.last_article == first
        (third,) = upgraded.insert_items(conn, mailbox.id, [_item(inbox.id, "c")])
        (fourth,) = upgraded.insert_items(conn, mailbox.id, [_item(inbox.id, "d")])
        upgraded.delete_items(conn, [fourth])
        (fifth,) = upgraded.insert_items(conn, mailbox.id, [_item(inbox.id, "e")])
    assert first < third < fourth < fifth  # a deleted newest item's number is never given again
    upgraded.close()
