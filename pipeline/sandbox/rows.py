"""The tables of `sandbox.sqlite` and the rows read from them: accounts, mailboxes, folders, items, their
extended properties and attachments, as plain dataclasses both faces share.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.sandbox.mime import Attachment

TABLES = """
CREATE TABLE IF NOT EXISTS accounts(
    username TEXT PRIMARY KEY, salt BLOB NOT NULL, pw_hash BLOB NOT NULL, nt_hash BLOB NOT NULL,
    impersonation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS associated_items(item_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS mailboxes(
    id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders(
    id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, parent_id INTEGER, name TEXT NOT NULL,
    name_key TEXT NOT NULL, folder_class TEXT, distinguished_id TEXT, is_search INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1, changed TEXT,
    last_article INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IF NOT EXISTS folders_name ON folders(mailbox_id, parent_id, name_key);
CREATE INDEX IF NOT EXISTS folders_parent ON folders(parent_id);
CREATE TABLE IF NOT EXISTS items(
    id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, folder_id INTEGER NOT NULL, kind TEXT NOT NULL,
    item_class TEXT NOT NULL, subject TEXT, is_draft INTEGER NOT NULL, is_read INTEGER NOT NULL,
    sent TEXT, received TEXT, created TEXT NOT NULL, modified TEXT NOT NULL, size INTEGER NOT NULL,
    mime BLOB, fields TEXT NOT NULL DEFAULT '{}', has_attachments INTEGER NOT NULL DEFAULT 0,
    message_id TEXT, version INTEGER NOT NULL DEFAULT 1, touched REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS items_folder ON items(folder_id, received, id);
CREATE TABLE IF NOT EXISTS ext_props(
    item_id INTEGER NOT NULL, key TEXT NOT NULL, ptype TEXT NOT NULL, value TEXT NOT NULL, num REAL,
    PRIMARY KEY(item_id, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ext_props_value ON ext_props(key, value COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS ext_props_num ON ext_props(key, num) WHERE num IS NOT NULL;
CREATE TABLE IF NOT EXISTS attachments(
    item_id INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, content_type TEXT NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, is_inline INTEGER NOT NULL, content_id TEXT NOT NULL,
    content BLOB, PRIMARY KEY(item_id, position)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(item_id INTEGER PRIMARY KEY, exceptions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folder_props(
    folder_id INTEGER NOT NULL, key TEXT NOT NULL, ptype TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY(folder_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: Kept by SQLite itself, whichever face or operation writes: a folder's last change (PR_LOCAL_COMMIT_TIME_MAX,
#: what clients poll to see that a folder changed) and the highest item row ever handed out, so a row, which
#: is also the item's IMAP number (PR_INTERNET_ARTICLE_NUMBER), is never given twice, even after the newest
#: item is deleted; and per folder the highest of those numbers it ever held (PR_IMAP_LAST_ARTICLE_ID), so
#: its next number (PR_ARTICLE_NUM_NEXT) never goes back either. Created after the migrations of older data
#: folders (the `changed` and `last_article` columns).
TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS items_inserted AFTER INSERT ON items BEGIN
    UPDATE folders SET changed=strftime('%Y-%m-%dT%H:%M:%fZ','now'), last_article=max(last_article, NEW.id)
        WHERE id=NEW.folder_id;
    INSERT INTO counters(name, value) VALUES ('item_row', NEW.id)
        ON CONFLICT(name) DO UPDATE SET value=max(value, excluded.value);
END;
CREATE TRIGGER IF NOT EXISTS folders_inserted AFTER INSERT ON folders WHEN NEW.changed IS NULL BEGIN
    UPDATE folders SET changed=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS associated_items_deleted AFTER DELETE ON items BEGIN
    DELETE FROM associated_items WHERE item_id=OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS folders_deleted AFTER DELETE ON folders BEGIN
    DELETE FROM folder_props WHERE folder_id=OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS items_deleted AFTER DELETE ON items BEGIN
    UPDATE folders SET changed=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=OLD.folder_id;
END;
CREATE TRIGGER IF NOT EXISTS items_updated AFTER UPDATE ON items BEGIN
    UPDATE folders SET changed=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id IN (OLD.folder_id, NEW.folder_id);
    UPDATE folders SET last_article=max(last_article, NEW.id) WHERE id=NEW.folder_id;
    INSERT INTO counters(name, value) VALUES ('item_row', NEW.id)
        ON CONFLICT(name) DO UPDATE SET value=max(value, excluded.value);
END;
"""


def folder_key(name: str) -> str:
    """How folder names are compared under one parent: case-insensitively, one character at a time (simple
    upper-case mapping, as .NET's ordinal ignore-case comparison does), so 'ß' and 'ss' stay different and
    surrounding spaces count. Exchange documents no rule; this is the strict reading (assumed)."""
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in name)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Account:
    username: str
    impersonation: bool
    nt_hash: bytes


@dataclass(slots=True)
class Mailbox:
    id: int
    address: str
    display_name: str


@dataclass(slots=True)
class FolderRow:
    id: int
    mailbox_id: int
    parent_id: int | None
    name: str
    folder_class: str | None
    distinguished_id: str | None
    is_search: bool
    version: int
    #: When its contents or itself last changed (UTC, ISO with milliseconds), kept by the store's triggers.
    changed: str | None = None
    #: The highest item row (IMAP number) the folder ever held.
    last_article: int = 0


@dataclass(slots=True)
class ExtValue:
    key: str
    ptype: str
    value: list[str] | str


@dataclass(slots=True)
class NewItem:
    """An item as CreateItem understood it, ready for one bulk insert."""

    folder_id: int
    kind: str
    item_class: str
    subject: str | None
    is_draft: bool
    is_read: bool
    sent: str | None
    received: str | None
    size: int
    mime: bytes | None
    fields: dict[str, str]
    ext: list[ExtValue]
    attachments: list[Attachment]
    message_id: str | None = None
    created: str = ""


@dataclass(slots=True)
class ItemRow:
    id: int
    mailbox_id: int
    folder_id: int
    kind: str
    item_class: str
    subject: str | None
    is_draft: bool
    is_read: bool
    sent: str | None
    received: str | None
    created: str
    modified: str
    size: int
    fields: dict[str, str]
    has_attachments: bool
    message_id: str | None
    version: int
    mime: bytes | None = None
    ext: dict[str, ExtValue] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    #: The stored position of each of `attachments` (its AttachmentId): DeleteAttachment leaves gaps.
    attachment_positions: list[int] = field(default_factory=list)
    #: Deleted and modified occurrences of a recurring master (series.Exceptions as JSON data), if any.
    exceptions: dict[str, Any] | None = None
    #: Set on the rows GetItem builds for one occurrence of a series: its original start (UTC).
    occurrence_start: dt.datetime | None = None


ITEM_COLUMNS = (
    "id, mailbox_id, folder_id, kind, item_class, subject, is_draft, is_read, sent, received, "
    "created, modified, size, fields, has_attachments, message_id, version"
)


def item_from_row(row: Sequence[Any], with_fields: bool = True) -> ItemRow:
    return ItemRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        bool(row[6]),
        bool(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        json.loads(row[13]) if with_fields else {},
        bool(row[14]),
        row[15],
        row[16],
    )


def folder_from_row(row: Sequence[Any]) -> FolderRow:
    return FolderRow(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9])


FOLDER_COLUMNS = (
    "id, mailbox_id, parent_id, name, folder_class, distinguished_id, is_search, version, changed, last_article"
)
