"""SQLite state of the sandbox: accounts, mailboxes with their default folders, items and their properties.

One database file in WAL mode under the data folder: mailboxes survive restarts and many threads can read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.sandbox import props
from pipeline.sandbox.mime import Attachment

DB_NAME = "sandbox.sqlite"
_PBKDF2_ROUNDS = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts(
    username TEXT PRIMARY KEY, salt BLOB NOT NULL, pw_hash BLOB NOT NULL, nt_hash BLOB NOT NULL,
    impersonation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS mailboxes(
    id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders(
    id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, parent_id INTEGER, name TEXT NOT NULL,
    name_key TEXT NOT NULL, folder_class TEXT, distinguished_id TEXT, is_search INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1);
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
"""

#: The folders of a new Exchange 2016 mailbox: (path from the root, FolderClass, distinguished id, search?).
DEFAULT_TREE: tuple[tuple[tuple[str, ...], str | None, str | None, bool], ...] = (
    (("Top of Information Store",), "IPF.Note", "msgfolderroot", False),
    (("Top of Information Store", "Inbox"), "IPF.Note", "inbox", False),
    (("Top of Information Store", "Outbox"), "IPF.Note", "outbox", False),
    (("Top of Information Store", "Sent Items"), "IPF.Note", "sentitems", False),
    (("Top of Information Store", "Deleted Items"), "IPF.Note", "deleteditems", False),
    (("Top of Information Store", "Drafts"), "IPF.Note", "drafts", False),
    (("Top of Information Store", "Junk Email"), "IPF.Note", "junkemail", False),
    (("Top of Information Store", "Calendar"), "IPF.Appointment", "calendar", False),
    (("Top of Information Store", "Contacts"), "IPF.Contact", "contacts", False),
    (
        ("Top of Information Store", "Contacts", "Recipient Cache"),
        "IPF.Contact.RecipientCache",
        "recipientcache",
        False,
    ),
    (
        ("Top of Information Store", "Contacts", "{06967759-274D-40B2-A3EB-D7F9E73727D7}"),
        "IPF.Contact.MOC.QuickContacts",
        "quickcontacts",
        False,
    ),
    (
        ("Top of Information Store", "Contacts", "{A9E2BC46-B3A0-4243-B315-60D991004455}"),
        "IPF.Contact.MOC.ImContactList",
        "imcontactlist",
        False,
    ),
    (("Top of Information Store", "Tasks"), "IPF.Task", "tasks", False),
    (("Top of Information Store", "Notes"), "IPF.StickyNote", "notes", False),
    (("Top of Information Store", "Journal"), "IPF.Journal", "journal", False),
    (("Top of Information Store", "Conversation History"), "IPF.Note", "conversationhistory", False),
    (("Top of Information Store", "Sync Issues"), "IPF.Note", "syncissues", False),
    (("Top of Information Store", "Sync Issues", "Conflicts"), "IPF.Note", "conflicts", False),
    (("Top of Information Store", "Sync Issues", "Local Failures"), "IPF.Note", "localfailures", False),
    (("Top of Information Store", "Sync Issues", "Server Failures"), "IPF.Note", "serverfailures", False),
    (("Top of Information Store", "RSS Feeds"), "IPF.Note.OutlookHomepage", None, False),
    (("Top of Information Store", "Conversation Action Settings"), "IPF.Configuration", None, False),
    (("Top of Information Store", "Quick Step Settings"), "IPF.Configuration", None, False),
    (("Recoverable Items",), None, "recoverableitemsroot", False),
    (("Recoverable Items", "Deletions"), None, "recoverableitemsdeletions", False),
    (("Recoverable Items", "Purges"), None, "recoverableitemspurges", False),
    (("Recoverable Items", "Versions"), None, "recoverableitemsversions", False),
    (("Recoverable Items", "Calendar Logging"), None, None, False),
    (("Finder",), None, "searchfolders", False),
    (("Common Views",), None, None, False),
    (("Deferred Action",), None, None, False),
    (("ExchangeSyncData",), None, None, False),
    (("Freebusy Data",), None, None, False),
    (("Location",), None, None, False),
    (("MailboxAssociations",), None, None, False),
    (("PeopleConnect",), None, "peopleconnect", False),
    (("Schedule",), None, None, False),
    (("Sharing",), None, None, False),
    (("Shortcuts",), None, None, False),
    (("Spooler Queue",), None, None, False),
    (("System",), None, None, False),
    (("Views",), None, None, False),
    (("Working Set",), None, None, False),
    (("Favorites",), "IPF.Note", "favorites", True),
    (("MyContacts",), "IPF.Note", "mycontacts", True),
    (("To-Do Search",), "IPF.Task", "todosearch", True),
    (("Reminders",), "Outlook.Reminder", None, True),
)


class StoreError(Exception):
    """Base of store errors that map to EWS response codes."""

    code = "ErrorInternalServerError"


class FolderExists(StoreError):
    code = "ErrorFolderExists"


class NotFound(StoreError):
    code = "ErrorItemNotFound"


def folder_key(name: str) -> str:
    """How folder names are compared under one parent: case-insensitively, one character at a time (simple
    upper-case mapping, as .NET's ordinal ignore-case comparison does), so 'ß' and 'ss' stay different and
    surrounding spaces count. Exchange documents no rule; this is the strict reading (assumed)."""
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in name)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def nt_hash(password: str) -> bytes:
    """MD4 of the UTF-16LE password, the NTLM secret; hashlib's MD4 is often disabled, pyspnego ships one."""
    try:
        return hashlib.new("md4", password.encode("utf-16-le")).digest()
    except ValueError:
        from spnego._ntlm_raw.md4 import md4  # type: ignore[import-untyped]

        return md4(password.encode("utf-16-le"))


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
    #: Deleted and modified occurrences of a recurring master (series.Exceptions as JSON data), if any.
    exceptions: dict[str, Any] | None = None
    #: Set on the rows GetItem builds for one occurrence of a series: its original start (UTC).
    occurrence_start: dt.datetime | None = None


ITEM_COLUMNS = (
    "id, mailbox_id, folder_id, kind, item_class, subject, is_draft, is_read, sent, received, "
    "created, modified, size, fields, has_attachments, message_id, version"
)


def _item_from_row(row: Sequence[Any], with_fields: bool = True) -> ItemRow:
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


def _folder_from_row(row: Sequence[Any]) -> FolderRow:
    return FolderRow(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7])


FOLDER_COLUMNS = "id, mailbox_id, parent_id, name, folder_class, distinguished_id, is_search, version"


def _owner_only(data_dir: Path) -> None:
    """The data folder 0700 and its files 0600: it holds every mailbox's mail and the accounts' NT hashes
    (password equivalents). POSIX only; SQLite gives its -wal/-shm files the database file's mode."""
    if os.name != "posix":
        return
    for path, mode in ((data_dir, 0o700), *((f, 0o600) for f in data_dir.iterdir() if f.is_file()
                                           and not f.is_symlink())):
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
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(attachments)")}
            if "content" not in columns:  # data folders from before attachments kept their content
                conn.execute("ALTER TABLE attachments ADD COLUMN content BLOB")
            if "touched" not in {row[1] for row in conn.execute("PRAGMA table_info(items)")}:
                # when an item was last written (epoch seconds): restricted searches lag behind it
                conn.execute("ALTER TABLE items ADD COLUMN touched REAL NOT NULL DEFAULT 0")
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
        salt = os.urandom(16)
        pw_hash = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _PBKDF2_ROUNDS)
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO accounts(username, salt, pw_hash, nt_hash, impersonation) "
                "VALUES (?,?,?,?,?)",
                (username.lower(), salt, pw_hash, nt_hash(password), int(impersonation)),
            )
        self._login_cache.clear()

    def account(self, username: str) -> Account | None:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT username, impersonation, nt_hash FROM accounts WHERE username=?", (username.lower(),)
            ).fetchone()
        return Account(row[0], bool(row[1]), bytes(row[2])) if row else None

    def accounts(self) -> list[Account]:
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT username, impersonation, nt_hash FROM accounts ORDER BY username"
            ).fetchall()
        return [Account(r[0], bool(r[1]), bytes(r[2])) for r in rows]

    def check_password(self, username: str, password: str) -> Account | None:
        """Basic auth check; successful logins are cached by a hash so PBKDF2 runs once per credential."""
        cache_key = hashlib.sha256(f"{username.lower()}\0{password}".encode()).digest()
        cached = self._login_cache.get(cache_key)
        if cached is not None:
            return cached
        with self.connection() as conn:
            row = conn.execute(
                "SELECT username, impersonation, nt_hash, salt, pw_hash FROM accounts WHERE username=?",
                (username.lower(),),
            ).fetchone()
        if row is None:
            return None
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), row[3], _PBKDF2_ROUNDS)
        if not hmac.compare_digest(candidate, row[4]):
            return None
        account = Account(row[0], bool(row[1]), bytes(row[2]))
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
            row = conn.execute(
                "SELECT id, address, display_name FROM mailboxes WHERE id=?", (mailbox_id,)
            ).fetchone()
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
        return _folder_from_row(row) if row else None

    def distinguished(self, conn: sqlite3.Connection, mailbox_id: int, name: str) -> FolderRow | None:
        row = conn.execute(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id=? AND distinguished_id=?",
            (mailbox_id, name),
        ).fetchone()
        return _folder_from_row(row) if row else None

    def all_folders(self, conn: sqlite3.Connection, mailbox_id: int) -> list[FolderRow]:
        rows = conn.execute(
            f"SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id=? ORDER BY id", (mailbox_id,)
        ).fetchall()
        return [_folder_from_row(r) for r in rows]

    def counts(self, conn: sqlite3.Connection, mailbox_id: int) -> dict[int, tuple[int, int]]:
        """folder id -> (total items, unread items), one query for the whole mailbox."""
        rows = conn.execute(
            "SELECT folder_id, COUNT(*), SUM(1 - is_read) FROM items WHERE mailbox_id=? GROUP BY folder_id",
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
        for item in items:
            cur = conn.execute(
                "INSERT INTO items(mailbox_id, folder_id, kind, item_class, subject, is_draft, is_read, "
                "sent, "
                "received, created, modified, size, mime, fields, has_attachments, message_id, touched) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
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
                    ext_rows.append(
                        (row_id, ext.key, ext.ptype, ext.value, props.numeric(ext.ptype, ext.value))
                    )
            for pos, att in enumerate(item.attachments):
                att_rows.append(
                    (
                        row_id,
                        pos,
                        att.name,
                        att.content_type,
                        att.size,
                        att.sha256,
                        int(att.is_inline),
                        att.content_id,
                        att.content,
                    )
                )
        if ext_rows:
            conn.executemany(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                ext_rows,
            )
        if att_rows:
            conn.executemany(
                "INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
                "content_id, content) VALUES (?,?,?,?,?,?,?,?,?)",
                att_rows,
            )
        return ids

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
                item = _item_from_row(row, with_fields)
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
                    "SELECT item_id, name, content_type, size, sha256, is_inline, content_id "
                    "FROM attachments "
                    f"WHERE item_id IN ({marks}) ORDER BY item_id, position",
                    chunk,
                ):
                    if row[0] in found:
                        found[row[0]].attachments.append(
                            Attachment(row[1], row[2], row[3], row[4], bool(row[5]), row[6])
                        )
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
            conn.execute(
                "INSERT OR REPLACE INTO series(item_id, exceptions) VALUES (?, ?)", (row_id, json.dumps(data))
            )
        else:
            conn.execute("DELETE FROM series WHERE item_id=?", (row_id,))

    def move_items(self, conn: sqlite3.Connection, row_ids: Sequence[int], folder_id: int) -> None:
        conn.executemany(
            "UPDATE items SET folder_id=?, version=version+1, touched=? WHERE id=?",
            [(folder_id, time.time(), r) for r in row_ids],
        )

    # -- read helpers for tests and `sandbox ls` --------------------------------------------------

    def _paths(self, folders: list[FolderRow]) -> dict[int, tuple[str, ...]]:
        """Folder id -> path of names below msgfolderroot (folders outside it get a path from the root)."""
        by_id = {f.id: f for f in folders}
        paths: dict[int, tuple[str, ...]] = {}

        def path_of(folder: FolderRow) -> tuple[str, ...]:
            if folder.id in paths:
                return paths[folder.id]
            if folder.distinguished_id in ("msgfolderroot", "root") or folder.parent_id is None:
                result: tuple[str, ...] = ()
            else:
                parent = by_id.get(folder.parent_id)
                if parent is None:
                    result = (folder.name,)
                elif parent.distinguished_id == "root":
                    result = ("..", folder.name)
                else:
                    result = (*path_of(parent), folder.name)
            paths[folder.id] = result
            return result

        for folder in folders:
            path_of(folder)
        return paths

    def folder_tree(self, address: str) -> list[dict[str, Any]]:
        """Every folder: {path (names from msgfolderroot; outside it starts with '..'), folder_class,
        distinguished_id, item_count}; the root and msgfolderroot both have path ()."""
        mailbox = self.mailbox(address)
        if mailbox is None:
            raise KeyError(address)
        with self.connection() as conn:
            folders = self.all_folders(conn, mailbox.id)
            counts = self.counts(conn, mailbox.id)
        paths = self._paths(folders)
        return [
            dict(
                path=paths[f.id],
                folder_class=f.folder_class,
                distinguished_id=f.distinguished_id,
                item_count=counts.get(f.id, (0, 0))[0],
            )
            for f in folders
            if f.distinguished_id != "root"
        ]

    def items(self, address: str, path: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every item of the mailbox (or of the folder at `path`) with MIME, properties and attachments;
        calendar series add `recurrence` (a summary), `deleted_occurrences` and `modified_occurrences`."""
        from pipeline.sandbox import ids
        from pipeline.sandbox.ews import series

        mailbox = self.mailbox(address)
        if mailbox is None:
            raise KeyError(address)
        with self.connection() as conn:
            folders = self.all_folders(conn, mailbox.id)
            paths = self._paths(folders)
            if path is None:
                row_ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM items WHERE mailbox_id=? ORDER BY id", (mailbox.id,)
                    )
                ]
            else:
                wanted = tuple(path)
                folder_ids = [fid for fid, p in paths.items() if p == wanted]
                if not folder_ids:
                    raise KeyError(f"{address}: no folder {wanted!r}")
                row_ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM items WHERE folder_id=? ORDER BY id", (folder_ids[0],)
                    )
                ]
            rows = self.load_items(conn, row_ids, with_mime=True, ext_keys=None, with_attachments=True)
        result = []
        for row_id in row_ids:
            item = rows[row_id]
            result.append(
                dict(
                    item_id=ids.item_id(mailbox.id, item.id),
                    folder_path=paths.get(item.folder_id, ()),
                    item_class=item.item_class,
                    subject=item.subject,
                    is_draft=item.is_draft,
                    is_read=item.is_read,
                    datetime_sent=item.sent,
                    datetime_received=item.received,
                    size=item.size,
                    mime=item.mime,
                    extended_properties={
                        k: props.python_value(v.ptype, v.value) for k, v in item.ext.items()
                    },
                    attachments=[(a.name, a.sha256) for a in item.attachments],
                    **series.summary(item),
                )
            )
        return result
