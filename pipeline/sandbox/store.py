"""The one store both faces serve: `sandbox.sqlite` (WAL, pooled connections, one writer at a time) with its
accounts, mailboxes and their default folders, folders, items, extended properties, attachments and series.

The tables and rows are `rows.py`, password and NT hashes `accounts.py`, read-only listings `views.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.sandbox import accounts, props
from pipeline.sandbox.default_folders import DEFAULT_TREE
from pipeline.sandbox.mime import Attachment
from pipeline.sandbox.rows import (
    FOLDER_COLUMNS,
    ITEM_COLUMNS,
    TABLES,
    TRIGGERS,
    Account,
    ExtValue,
    FolderRow,
    ItemRow,
    Mailbox,
    NewItem,
    folder_from_row,
    folder_key,
    item_from_row,
    now_iso,
)

#: One attachment row (attachment_row's values), for CreateItem's bulk insert and CreateAttachment alike.
INSERT_ATTACHMENT = (
    "INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
    "content_id, content) VALUES (?,?,?,?,?,?,?,?,?)"
)


def attachment_row(item_id: int, position: int, att: Attachment) -> tuple[Any, ...]:
    """The values of INSERT_ATTACHMENT for one attachment of an item."""
    return (
        item_id,
        position,
        att.name,
        att.content_type,
        att.size,
        att.sha256,
        int(att.is_inline),
        att.content_id,
        att.content,
    )


def append_attachment(conn: sqlite3.Connection, item_id: int, att: Attachment) -> int:
    """Insert one attachment after the item's last (DeleteAttachment leaves gaps); its stored position."""
    position = conn.execute(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE item_id=?", (item_id,)
    ).fetchone()[0]
    conn.execute(INSERT_ATTACHMENT, attachment_row(item_id, position, att))
    return int(position)


DB_NAME = "sandbox.sqlite"


class StoreError(Exception):
    """Base of store errors that map to EWS response codes."""

    code = "ErrorInternalServerError"


class FolderExists(StoreError):
    code = "ErrorFolderExists"


class NotFound(StoreError):
    code = "ErrorItemNotFound"


def _owner_only(data_dir: Path) -> None:
    """The data folder 0700 and its files 0600: it holds every mailbox's mail and the accounts' NT hashes
    (password equivalents). POSIX only; SQLite gives its -wal/-shm files the database file's mode."""
    if os.name != "posix":
        return
    for path, mode in (
        (data_dir, 0o700),
        *((f, 0o600) for f in data_dir.iterdir() if f.is_file() and not f.is_symlink()),
    ):
        try:
            if path.stat().st_mode & 0o777 != mode:
                os.chmod(path, mode)
        except OSError:
            pass


class SandboxStore:
    """The sandbox's mailboxes in `data_dir/sandbox.sqlite`; safe to share between threads."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._login_cache: dict[bytes, Account] = {}
        with self.connection() as conn:
            conn.executescript(TABLES)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(attachments)")}
            if "content" not in columns:  # data folders from before attachments kept their content
                conn.execute("ALTER TABLE attachments ADD COLUMN content BLOB")
            if "touched" not in {row[1] for row in conn.execute("PRAGMA table_info(items)")}:
                # when an item was last written (epoch seconds): restricted searches lag behind it
                conn.execute("ALTER TABLE items ADD COLUMN touched REAL NOT NULL DEFAULT 0")
            if "changed" not in {row[1] for row in conn.execute("PRAGMA table_info(folders)")}:
                conn.execute("ALTER TABLE folders ADD COLUMN changed TEXT")
                conn.execute("ALTER TABLE folders ADD COLUMN last_article INTEGER NOT NULL DEFAULT 0")
                conn.execute(
                    "UPDATE folders SET last_article=COALESCE((SELECT MAX(id) FROM items "
                    "WHERE items.folder_id=folders.id), 0)"
                )
            conn.executescript(TRIGGERS)
            conn.execute(
                "INSERT OR IGNORE INTO counters(name, value) SELECT 'item_row', COALESCE(MAX(id), 0) FROM items"
            )
            conn.execute("UPDATE folders SET changed=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE changed IS NULL")
        _owner_only(self.data_dir)

    # -- connections ------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-32000")
        # Checkpoints run in the background (checkpoint()), not inside a request's commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self._pool.put(conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; writers are serialised in-process so SQLite never has to busy-wait."""
        with self._write_lock, self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def checkpoint(self) -> None:
        """Copy the WAL into the database without blocking writers; the server calls it every second."""
        with self.connection() as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # -- accounts and mailboxes -------------------------------------------------------------------

    def add_account(self, username: str, password: str, impersonation: bool = False) -> None:
        """Create or replace an account; the NT hash is kept because NTLM needs it (as a DC keeps it)."""
        with self.write() as conn:
            accounts.put(conn, username, password, impersonation)
        self._login_cache.clear()

    def account(self, username: str) -> Account | None:
        with self.connection() as conn:
            return accounts.find(conn, username)

    def accounts(self) -> list[Account]:
        with self.connection() as conn:
            return accounts.every(conn)

    def check_password(self, username: str, password: str) -> Account | None:
        """Basic auth check; successful logins are cached by a hash so PBKDF2 runs once per credential."""
        cache_key = hashlib.sha256(f"{username.lower()}\0{password}".encode()).digest()
        cached = self._login_cache.get(cache_key)
        if cached is not None:
            return cached
        with self.connection() as conn:
            account = accounts.verify(conn, username, password)
        if account is not None:
            self._login_cache[cache_key] = account
        return account

    def add_mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        """Create a mailbox with Exchange's default folders; adding an existing address is a no-op."""
        address = address.strip().lower()
        existing = self.mailbox(address)
        if existing is not None:
            return existing
        name = display_name or address.split("@")[0]
        with self.write() as conn:
            cur = conn.execute("INSERT INTO mailboxes(address, display_name) VALUES (?, ?)", (address, name))
            mailbox_id = int(cur.lastrowid or 0)
            root = conn.execute(
                "INSERT INTO folders(mailbox_id, parent_id, name, name_key, folder_class, distinguished_id) "
                "VALUES (?, NULL, '', '', NULL, 'root')",
                (mailbox_id,),
            ).lastrowid
            by_path: dict[tuple[str, ...], int] = {(): int(root or 0)}
            for path, folder_class, distinguished, is_search in DEFAULT_TREE:
                parent = by_path[path[:-1]]
                by_path[path] = int(
                    conn.execute(
                        "INSERT INTO folders(mailbox_id, parent_id, name, name_key, folder_class, "
                        "distinguished_id, "
                        "is_search) VALUES (?,?,?,?,?,?,?)",
                        (
                            mailbox_id,
                            parent,
                            path[-1],
                            folder_key(path[-1]),
                            folder_class,
                            distinguished,
                            int(is_search),
                        ),
                    ).lastrowid
                    or 0
                )
        return Mailbox(mailbox_id, address, name)

    def mailbox(self, address: str) -> Mailbox | None:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT id, address, display_name FROM mailboxes WHERE address=?", (address.strip().lower(),)
            ).fetchone()
        return Mailbox(*row) if row else None

    def mailbox_by_id(self, mailbox_id: int) -> Mailbox | None:
        with self.connection() as conn:
            row = conn.execute("SELECT id, address, display_name FROM mailboxes WHERE id=?", (mailbox_id,)).fetchone()
        return Mailbox(*row) if row else None

    def mailboxes(self) -> list[Mailbox]:
        with self.connection() as conn:
            rows = conn.execute("SELECT id, address, display_name FROM mailboxes ORDER BY address").fetchall()
        return [Mailbox(*r) for r in rows]

    def has_mailbox(self, address: str) -> bool:
        return self.mailbox(address) is not None

    # -- folders ----------------------------------------------------------------------------------

    def folder(self, conn: sqlite3.Connection, folder_id: int) -> FolderRow | None:
        row = conn.execute(f"SELECT {FOLDER_COLUMNS} FROM folders WHERE id=?", (folder_id,)).fetchone()
        return folder_from_row(row) if row else None

    def distinguished(self, conn: sqlite3.Connection, mailbox_id: int, name: str) -> FolderRow | None:
        row = conn.execute(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id=? AND distinguished_id=?",
            (mailbox_id, name),
        ).fetchone()
        return folder_from_row(row) if row else None

    def all_folders(self, conn: sqlite3.Connection, mailbox_id: int) -> list[FolderRow]:
        rows = conn.execute(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id=? ORDER BY id", (mailbox_id,)
        ).fetchall()
        return [folder_from_row(r) for r in rows]

    def counts(self, conn: sqlite3.Connection, mailbox_id: int) -> dict[int, tuple[int, int]]:
        """folder id -> (total items, unread items), one query for the whole mailbox."""
        rows = conn.execute(
            "SELECT folder_id, COUNT(*), SUM(1 - is_read) FROM items WHERE mailbox_id=? "
            "AND id NOT IN (SELECT item_id FROM associated_items) GROUP BY folder_id",  # a folder's contents only
            (mailbox_id,),
        ).fetchall()
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def create_folder(
        self, conn: sqlite3.Connection, mailbox_id: int, parent_id: int, name: str, folder_class: str | None
    ) -> FolderRow:
        """Insert inside the caller's write transaction; a case-insensitive duplicate is ErrorFolderExists."""
        try:
            cur = conn.execute(
                "INSERT INTO folders(mailbox_id, parent_id, name, name_key, folder_class) VALUES (?,?,?,?,?)",
                (mailbox_id, parent_id, name, folder_key(name), folder_class),
            )
        except sqlite3.IntegrityError as exc:
            raise FolderExists(name) from exc
        return FolderRow(int(cur.lastrowid or 0), mailbox_id, parent_id, name, folder_class, None, False, 1)

    # -- items ------------------------------------------------------------------------------------

    def insert_items(self, conn: sqlite3.Connection, mailbox_id: int, items: Sequence[NewItem]) -> list[int]:
        """Insert many items inside the caller's write transaction; returns their row ids in order."""
        ids: list[int] = []
        ext_rows: list[tuple[Any, ...]] = []
        att_rows: list[tuple[Any, ...]] = []
        stamp = now_iso()
        touched = time.time()
        next_row = self.next_item_row(conn)  # the trigger keeps the counter; rows follow each other here
        for offset, item in enumerate(items):
            cur = conn.execute(
                "INSERT INTO items(id, mailbox_id, folder_id, kind, item_class, subject, is_draft, is_read, "
                "sent, "
                "received, created, modified, size, mime, fields, has_attachments, message_id, touched) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    next_row + offset,
                    mailbox_id,
                    item.folder_id,
                    item.kind,
                    item.item_class,
                    item.subject,
                    int(item.is_draft),
                    int(item.is_read),
                    item.sent,
                    item.received or stamp,
                    item.created or stamp,
                    stamp,
                    item.size,
                    item.mime,
                    json.dumps(item.fields),
                    int(bool(item.attachments)),
                    item.message_id,
                    touched,
                ),
            )
            row_id = int(cur.lastrowid or 0)
            ids.append(row_id)
            for ext in item.ext:
                if isinstance(ext.value, list):
                    ext_rows.append((row_id, ext.key, ext.ptype, json.dumps(ext.value), None))
                else:
                    ext_rows.append((row_id, ext.key, ext.ptype, ext.value, props.numeric(ext.ptype, ext.value)))
            att_rows.extend(attachment_row(row_id, pos, att) for pos, att in enumerate(item.attachments))
        if ext_rows:
            conn.executemany(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                ext_rows,
            )
        if att_rows:
            conn.executemany(
                INSERT_ATTACHMENT,
                att_rows,
            )
        return ids

    @staticmethod
    def next_item_row(conn: sqlite3.Connection) -> int:
        """The row (and IMAP number) of the next item: past every row ever handed out (the counters table,
        kept by a trigger), never one of a deleted item."""
        row = conn.execute("SELECT value FROM counters WHERE name='item_row'").fetchone()
        return int(row[0] if row else 0) + 1

    def copy_item(self, conn: sqlite3.Connection, row_id: int, folder_id: int) -> int:
        """A copy of an item, with its extended properties, attachments and series, into `folder_id`, as a
        new row (a new id and IMAP number, as Exchange gives a copied or moved item); returns the new row."""
        new_id = self.next_item_row(conn)
        columns = (
            "mailbox_id, kind, item_class, subject, is_draft, is_read, sent, received, created, size, "
            "mime, fields, has_attachments, message_id"
        )
        conn.execute(
            f"INSERT INTO items(id, folder_id, modified, touched, {columns}) "
            f"SELECT ?, ?, ?, ?, {columns} FROM items WHERE id=?",
            (new_id, folder_id, now_iso(), time.time(), row_id),
        )
        conn.execute(
            "INSERT INTO ext_props(item_id, key, ptype, value, num) "
            "SELECT ?, key, ptype, value, num FROM ext_props WHERE item_id=?",
            (new_id, row_id),
        )
        conn.execute(
            "INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
            "content_id, content) SELECT ?, position, name, content_type, size, sha256, is_inline, "
            "content_id, content FROM attachments WHERE item_id=?",
            (new_id, row_id),
        )
        conn.execute(
            "INSERT INTO series(item_id, exceptions) SELECT ?, exceptions FROM series WHERE item_id=?", (new_id, row_id)
        )
        return new_id

    def load_items(
        self,
        conn: sqlite3.Connection,
        row_ids: Sequence[int],
        *,
        with_mime: bool = False,
        ext_keys: Sequence[str] | None = (),
        with_attachments: bool = False,
        with_fields: bool = True,
    ) -> dict[int, ItemRow]:
        """Rows by id, with only the extras asked for (`ext_keys=None` means every extended property)."""
        found: dict[int, ItemRow] = {}
        for start in range(0, len(row_ids), 500):
            chunk = list(row_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            cols = ITEM_COLUMNS + (", mime" if with_mime else "")
            for row in conn.execute(f"SELECT {cols} FROM items WHERE id IN ({marks})", chunk):
                item = item_from_row(row, with_fields)
                if with_mime:
                    item.mime = row[17]
                found[item.id] = item
            if with_fields:
                for item_id, data in conn.execute(
                    f"SELECT item_id, exceptions FROM series WHERE item_id IN ({marks})", chunk
                ):
                    if item_id in found:
                        found[item_id].exceptions = json.loads(data)
            if ext_keys is None or ext_keys:
                sql = f"SELECT item_id, key, ptype, value FROM ext_props WHERE item_id IN ({marks})"
                params: list[Any] = list(chunk)
                if ext_keys:
                    sql += f" AND key IN ({','.join('?' * len(ext_keys))})"
                    params += list(ext_keys)
                for item_id, key, ptype, value in conn.execute(sql, params):
                    if item_id in found:
                        parsed: list[str] | str = json.loads(value) if ptype.endswith("Array") else value
                        found[item_id].ext[key] = ExtValue(key, ptype, parsed)
            if with_attachments:
                for row in conn.execute(
                    "SELECT item_id, name, content_type, size, sha256, is_inline, content_id, position "
                    "FROM attachments "
                    f"WHERE item_id IN ({marks}) ORDER BY item_id, position",
                    chunk,
                ):
                    if row[0] in found:
                        found[row[0]].attachments.append(
                            Attachment(row[1], row[2], row[3], row[4], bool(row[5]), row[6])
                        )
                        found[row[0]].attachment_positions.append(row[7])
        return found

    def attachment(self, conn: sqlite3.Connection, item_id: int, position: int) -> Attachment | None:
        row = conn.execute(
            "SELECT name, content_type, size, sha256, is_inline, content_id, content FROM attachments "
            "WHERE item_id=? AND position=?",
            (item_id, position),
        ).fetchone()
        if row is None:
            return None
        return Attachment(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6])

    def delete_items(self, conn: sqlite3.Connection, row_ids: Sequence[int]) -> None:
        for start in range(0, len(row_ids), 500):
            chunk = list(row_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM items WHERE id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM ext_props WHERE item_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM attachments WHERE item_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM series WHERE item_id IN ({marks})", chunk)

    def exceptions(self, conn: sqlite3.Connection, row_id: int) -> dict[str, Any]:
        """The stored deleted/modified occurrences of a series ({} when none were recorded)."""
        row = conn.execute("SELECT exceptions FROM series WHERE item_id=?", (row_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_exceptions(self, conn: sqlite3.Connection, row_id: int, data: dict[str, Any] | None) -> None:
        if data:
            conn.execute("INSERT OR REPLACE INTO series(item_id, exceptions) VALUES (?, ?)", (row_id, json.dumps(data)))
        else:
            conn.execute("DELETE FROM series WHERE item_id=?", (row_id,))

    def move_items(self, conn: sqlite3.Connection, row_ids: Sequence[int], folder_id: int) -> list[int]:
        """Move items into `folder_id`; each gets a new row (a new id and IMAP number in its new folder, as
        Exchange gives a moved item). Returns the new rows in order."""
        moved = []
        for row_id in row_ids:
            new_id = self.next_item_row(conn)
            conn.execute(
                "UPDATE items SET id=?, folder_id=?, version=version+1, touched=? WHERE id=?",
                (new_id, folder_id, time.time(), row_id),
            )
            for table in ("ext_props", "attachments", "series"):
                conn.execute(f"UPDATE {table} SET item_id=? WHERE item_id=?", (new_id, row_id))
            moved.append(new_id)
        return moved
