"""The journal: SQLite in the state directory, recording every folder and item a rebuild has handled.

It lets a rerun skip finished work quickly; the fingerprints on the server remain the final word.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.rebuild.status import RunStatus
from pipeline.state.problems import journal_locked, state_problem

SCHEMA_VERSION = 1
#: How long opening the journal waits for a lock another process holds before saying so (seconds).
LOCK_WAIT = 5.0
#: How long a write waits for another of our processes (--map workers share the journal) once it is open.
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS items (
    mailbox     TEXT NOT NULL,
    folder      TEXT NOT NULL,      -- source folder path, '/'-joined
    fingerprint TEXT NOT NULL,
    source      TEXT NOT NULL,      -- source file identity (see source_identity)
    node_id     INTEGER,
    item_class  TEXT,
    state       TEXT NOT NULL,      -- uploaded | present | failed | skipped
    server_id   TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    subject     TEXT,               -- kept for failed items only, for the admin's failure report
    updated     REAL NOT NULL,
    PRIMARY KEY (mailbox, folder, fingerprint)
);
CREATE TABLE IF NOT EXISTS folders (
    mailbox      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_count INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,   -- every source item is uploaded or present
    server_id    TEXT,
    updated      REAL NOT NULL,
    PRIMARY KEY (mailbox, folder)
);
CREATE TABLE IF NOT EXISTS runs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox   TEXT NOT NULL,
    source    TEXT NOT NULL,
    started   REAL NOT NULL,
    finished  REAL,
    status    TEXT NOT NULL DEFAULT 'running',
    summary   TEXT,
    pid       INTEGER,            -- the process of a run, to tell a crashed run from a running one
    host      TEXT,
    usable    REAL                -- when its usable phases were answered (pipeline/rebuild/order.py)
);
"""
#: Columns added after the first journals were written: (table, column, type).
_ADDED_COLUMNS = (("runs", "pid", "INTEGER"), ("runs", "host", "TEXT"), ("runs", "usable", "REAL"))


@dataclass(frozen=True, slots=True)
class ItemRecord:
    folder: str
    fingerprint: str
    node_id: int | None
    item_class: str
    state: str
    server_id: str | None = None
    last_error: str | None = None
    subject: str | None = None


def source_identity(path: Path) -> str:
    """Identifies one OST copy: resolved path, size and modification time (cheap, no full read)."""
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Journal:
    """One connection per Journal object; give each worker thread its own (SQLite WAL handles the rest).

    Opening it fails fast with a StateError (one line, what to do) when it is locked by another process for
    more than `lock_wait` seconds, damaged, or cannot be written; `read_only` opens it for `rebuild status`,
    which creates and writes nothing (and so works on a full disk)."""

    def __init__(self, path: Path, lock_wait: float = LOCK_WAIT, read_only: bool = False) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if read_only:
                self._db = self._reader(path, lock_wait)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=lock_wait, check_same_thread=False, isolation_level=None)
            with self._lock:
                self._setup(time.monotonic() + lock_wait)
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except (OSError, sqlite3.Error) as exc:
            problem = state_problem(exc, path)
            if problem is None:
                raise
            raise problem from None

    @staticmethod
    def _reader(path: Path, lock_wait: float) -> sqlite3.Connection:
        """A read-only connection; on a read-only file system, where SQLite cannot make the WAL's shared-memory
        file, the file is read as immutable (nobody can be writing it there)."""
        uri = path.resolve().as_uri()
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            db = sqlite3.connect(
                f"{uri}{query}", uri=True, timeout=lock_wait, check_same_thread=False, isolation_level=None
            )
            try:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a damaged file says so here
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                if "unable to open" not in str(exc).lower() or query.endswith("immutable=1"):
                    raise
        raise AssertionError("unreachable")

    def _setup(self, deadline: float) -> None:
        """WAL mode and the schema, then a write lock taken and given back: a journal another process keeps
        locked is reported now (StateError naming the holder where the system tells), before anything is
        done. Several mailbox processes may open the journal at the same moment, and switching to WAL takes
        an exclusive lock that SQLite's busy timeout does not wait for: retry until the deadline."""
        attempt = 0
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._migrate()
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
                return
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if "locked" not in text and "busy" not in text:
                    raise
                if time.monotonic() >= deadline:
                    raise journal_locked(self.path) from None
                attempt += 1
                time.sleep(min(0.1 + 0.02 * attempt, 0.5))

    def _migrate(self) -> None:
        for table, column, kind in _ADDED_COLUMNS:
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------------
    def start_run(self, mailbox: str, source: str) -> int:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO runs (mailbox, source, started, pid, host) VALUES (?, ?, ?, ?, ?)",
                (mailbox, source, time.time(), os.getpid(), socket.gethostname()),
            )
            return int(cur.lastrowid or 0)

    def mark_usable(self, run_id: int) -> None:
        """The run's usable phases are answered: the user can work (`status` says so from now on)."""
        with self._lock:
            self._db.execute("UPDATE runs SET usable=? WHERE id=? AND usable IS NULL", (time.time(), run_id))

    def finish_run(self, run_id: int, status: str, summary_json: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET finished=?, status=?, summary=? WHERE id=?",
                (time.time(), status, summary_json, run_id),
            )

    # -- folders ----------------------------------------------------------------------------------
    def folder_done(self, mailbox: str, folder: str, source: str, source_count: int) -> bool:
        """True when a previous run finished this folder from this very OST with the same item count."""
        with self._lock:
            row = self._db.execute(
                "SELECT source, source_count, done FROM folders WHERE mailbox=? AND folder=?", (mailbox, folder)
            ).fetchone()
        return bool(row and row[0] == source and row[1] == source_count and row[2])

    def set_folder(
        self, mailbox: str, folder: str, source: str, source_count: int, done: bool, server_id: str | None = None
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO folders (mailbox, folder, source, source_count, done, server_id, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mailbox, folder) DO UPDATE SET source=excluded.source,"
                " source_count=excluded.source_count, done=excluded.done,"
                " server_id=COALESCE(excluded.server_id, folders.server_id), updated=excluded.updated",
                (mailbox, folder, source, source_count, int(done), server_id, time.time()),
            )

    # -- items ------------------------------------------------------------------------------------
    def done_fingerprints(self, mailbox: str, folder: str) -> set[str]:
        """Fingerprints this journal knows to be on the server in that folder."""
        with self._lock:
            rows = self._db.execute(
                "SELECT fingerprint FROM items WHERE mailbox=? AND folder=? AND state IN ('uploaded', 'present')",
                (mailbox, folder),
            ).fetchall()
        return {r[0] for r in rows}

    def record(self, mailbox: str, source: str, records: Iterable[ItemRecord]) -> None:
        """Write a batch of outcomes in one transaction (attempts counts every outcome written)."""
        now = time.time()
        rows = [
            (
                mailbox,
                r.folder,
                r.fingerprint,
                source,
                r.node_id,
                r.item_class,
                r.state,
                r.server_id,
                r.last_error,
                r.subject if r.state == "failed" else None,
                now,
            )
            for r in records
        ]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock between writers
            try:
                self._db.executemany(
                    "INSERT INTO items (mailbox, folder, fingerprint, source, node_id, item_class, state, server_id,"
                    " attempts, last_error, subject, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
                    " ON CONFLICT (mailbox, folder, fingerprint) DO UPDATE SET"
                    # an item uploaded earlier in this folder stays 'uploaded' when its twin is found present
                    " state=CASE WHEN excluded.state='present' AND items.state='uploaded' THEN items.state"
                    " ELSE excluded.state END,"
                    " server_id=COALESCE(excluded.server_id, items.server_id), attempts=items.attempts + 1,"
                    " last_error=excluded.last_error, subject=excluded.subject, updated=excluded.updated,"
                    " source=excluded.source, node_id=excluded.node_id",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                    self._db.execute("ROLLBACK")
                raise

    def forget_mailbox(self, mailbox: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM items WHERE mailbox=?", (mailbox,))
            self._db.execute("DELETE FROM folders WHERE mailbox=?", (mailbox,))

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> list[dict]:
        """Per mailbox: counts by state, folders done, last run and its status."""
        with self._lock:
            counts = self._db.execute("SELECT mailbox, state, COUNT(*) FROM items GROUP BY mailbox, state").fetchall()
            folders = self._db.execute("SELECT mailbox, SUM(done), COUNT(*) FROM folders GROUP BY mailbox").fetchall()
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            who = "pid, host" if "pid" in columns else "NULL, NULL"  # a journal from before pid was kept
            runs = self._db.execute(
                f"SELECT mailbox, MAX(id), status, started, finished, summary, {who} FROM runs GROUP BY mailbox"
            ).fetchall()
            # usable since: the first run that answered its usable phases, or that ended ok (an earlier release,
            # or --order folders); None: not yet
            usable_column = "usable" if "usable" in columns else "NULL"
            usable = dict(
                self._db.execute(
                    f"SELECT mailbox, MIN(COALESCE({usable_column}, CASE WHEN status='ok' THEN finished END)) FROM runs "
                    "GROUP BY mailbox"
                ).fetchall()
            )
        result: dict[str, dict] = {}
        for mailbox, state, n in counts:
            result.setdefault(mailbox, {"mailbox": mailbox, "items": {}})["items"][state] = n
        for mailbox, done, total in folders:
            entry = result.setdefault(mailbox, {"mailbox": mailbox, "items": {}})
            entry["folders_done"], entry["folders"] = int(done or 0), total
        for mailbox, _id, status, started, finished, summary, pid, host in runs:
            entry = result.setdefault(mailbox, {"mailbox": mailbox, "items": {}})
            entry["last_run"] = {
                "status": _truthful(status, pid, host),
                "started": started,
                "finished": finished,
                **_run_counts(summary),
            }
            entry["usable_since"] = usable.get(mailbox)
        return sorted(result.values(), key=lambda e: e["mailbox"])

    def failed_items(self, mailbox: str | None = None) -> list[tuple]:
        query = "SELECT mailbox, folder, item_class, subject, last_error FROM items WHERE state='failed'"
        args: tuple = ()
        if mailbox:
            query += " AND mailbox=?"
            args = (mailbox,)
        with self._lock:
            return self._db.execute(query + " ORDER BY mailbox, folder", args).fetchall()


def _truthful(status: str, pid: int | None, host: str | None) -> str:
    """A run the journal still calls running whose process is gone from this host ended without writing its
    end (killed, or its disk was full): it crashed."""
    if status != RunStatus.RUNNING or not pid or host != socket.gethostname():
        return status
    from pipeline.lease import pid_alive

    return status if pid_alive(pid) else str(RunStatus.CRASHED)


def _run_counts(summary_json: str | None) -> dict[str, int]:
    """The counts a run printed in its closing summary (found, uploaded, present, skipped, failed)."""
    try:
        data = json.loads(summary_json or "{}")
    except ValueError:
        return {}
    counts = {key: data.get(key) for key in ("found", "uploaded", "present", "failed_total")}
    if isinstance(data.get("skipped"), dict):
        counts["skipped"] = sum(v for v in data["skipped"].values() if isinstance(v, int))
    return {k: v for k, v in counts.items() if isinstance(v, int)}
