"""The merge index of one mailbox's cache set: one row per copy of an item in one file, kept in SQLite.

rebuild/merge.py fills it with a cheap pass over every file of the set (identities, folder, read/flag/
categories state, newness, date; no attachment is read), then asks it which copy of each identity wins and
what each file and folder holds. On disk (state dir, 0600) so that memory does not grow with the mailbox;
one file per run, rebuilt from the files every time and removed at the end (a cache, never the word on
what the server holds).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.state.filenames import safe_name
from pipeline.state.private import tighten

SCHEMA = """
CREATE TABLE files (
    file INTEGER PRIMARY KEY,   -- the file's place in the set, sorted by path (never the order given)
    path TEXT NOT NULL,
    recency TEXT NOT NULL DEFAULT ''  -- the newest item's time in the file: its last synchronization, near enough
);
CREATE TABLE copies (
    file INTEGER NOT NULL,
    node INTEGER NOT NULL,      -- the item's node id in its file
    folder TEXT NOT NULL,       -- the source folder's path key (folder_plan.PlannedFolder.folder_key)
    folder_node INTEGER NOT NULL,
    skey TEXT,                  -- the server item's source key (hex), where the file gives or derives one
    content TEXT NOT NULL,      -- the numbered content key (source/cache_identity.py)
    legacy TEXT NOT NULL,       -- the per-file identity the one-file run stamps (fingerprint.py)
    has_change INTEGER NOT NULL,
    change INTEGER NOT NULL,
    modified TEXT NOT NULL,
    state TEXT NOT NULL,        -- read, flag status, categories (JSON)
    moment TEXT NOT NULL,       -- delivery, else submit, else creation time ('' when none)
    subject TEXT NOT NULL,
    identity TEXT,              -- filled by merge(): the identity across caches
    newness TEXT,               -- filled by merge(): the sortable newness of this copy
    PRIMARY KEY (file, node)
);
CREATE TABLE winners (
    identity TEXT PRIMARY KEY,
    file INTEGER NOT NULL,
    node INTEGER NOT NULL,
    newness TEXT NOT NULL,
    state TEXT NOT NULL,
    folder TEXT NOT NULL,
    holders INTEGER NOT NULL    -- how many files hold a copy
);
"""


@dataclass(frozen=True, slots=True)
class CopyRow:
    """One copy of an item in one file, as the index pass reads it."""

    node: int
    folder: str
    folder_node: int
    skey: str | None
    content: str
    legacy: str
    has_change: bool
    change: int
    modified: str
    state: str
    moment: str
    subject: str


@dataclass(frozen=True, slots=True)
class Winner:
    """The copy that decides an identity's folder and state, and the identity's newness."""

    identity: str
    file: int
    node: int
    newness: str
    state: str
    folder: str
    holders: int
    content: str  # the winning copy's content key: how a cache without source keys finds the item


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one folder of one file brings: its items, those that won, those no other file holds, its dates."""

    file: int
    folder: str
    items: int
    contributed: int
    only_here: int
    oldest: str
    newest: str


def kept_index_path(state_dir: Path, mailbox: str, signature: str) -> Path:
    """The index of a set run in parts (Temporal, execution/set_parts.py), kept between the parts a worker
    runs: named for the set (its files' copies and the selection), so that a changed file is a new index."""
    return state_dir / "merge" / safe_name(f"{mailbox.casefold()}.set-{signature}.sqlite")


def index_path(state_dir: Path, mailbox: str) -> Path:
    """This process's index of the mailbox's set: its own file, so that a second run of the mailbox (which
    the lease then stops) never touches the file of the run that holds it."""
    return state_dir / "merge" / safe_name(f"{mailbox.casefold()}.{os.getpid()}.sqlite")


class MergeIndex:
    """The SQLite file of one mailbox's set, created afresh (a previous run's is replaced)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        prefix = path.name.rsplit(".", 2)[0] + "."
        for old in path.parent.iterdir():  # killed runs' (a live run's too: see below)
            middle = old.name.removeprefix(prefix).removesuffix(".sqlite")
            if old.name.startswith(prefix) and old.name.endswith(".sqlite") and middle.isdigit():
                try:
                    old.unlink()  # POSIX: a live run keeps its open file; Windows refuses to remove an open one
                except OSError:
                    pass
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # rebuilt on every run: nothing to recover
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(SCHEMA)
        tighten(path.parent)  # 0700 and 0600 whatever the umask (nothing on Windows: the folder's ACL decides)

    @classmethod
    def kept(cls, path: Path) -> MergeIndex | None:
        """A finished index kept by an earlier part of the set (read only), None when there is none."""
        if not path.is_file():
            return None
        index = cls.__new__(cls)
        index.path = path
        uri = f"{path.resolve().as_uri()}?mode=ro"
        index._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        return index

    def publish(self, path: Path) -> MergeIndex:
        """This finished index kept under `path` for the set's later parts (put in place whole: a part that
        finds the file finds it complete), reopened from there read only."""
        self._db.close()
        try:
            os.replace(self.path, path)
        except OSError:  # Windows: a stalled attempt of the same part holds the kept one open; it is the same
            self.path.unlink(missing_ok=True)
            if not path.is_file():
                raise
        prefix = path.name.split(".set-", 1)[0] + ".set-"
        for old in path.parent.iterdir():
            if old.name.startswith(prefix) and old.name.endswith(".sqlite") and old != path:
                # another version of the set's files: never to be read again
                try:
                    old.unlink()
                except OSError:
                    pass
        kept = MergeIndex.kept(path)
        assert kept is not None
        return kept

    def close(self, remove: bool = True) -> None:
        """Closed and removed (nothing in it outlives the run: the next run reads the files again), unless
        kept for the later parts of a set."""
        self._db.close()
        if not remove:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # Windows: another handle still open; the next run of this process id replaces it
            pass

    def add_file(self, file: int, path: str) -> None:
        self._db.execute("INSERT INTO files(file, path) VALUES (?, ?)", (file, path))

    def add(self, file: int, rows: Iterable[CopyRow]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO copies(file, node, folder, folder_node, skey, content, legacy, has_change,"
            " change, modified, state, moment, subject) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    file,
                    r.node,
                    r.folder,
                    r.folder_node,
                    r.skey,
                    r.content,
                    r.legacy,
                    int(r.has_change),
                    r.change,
                    r.modified,
                    r.state,
                    r.moment,
                    r.subject,
                )
                for r in rows
            ),
        )
        self._db.execute("COMMIT")

    def merge(self) -> None:
        """Identities across files, each copy's newness, and the winner of each identity.

        A copy with a source key has it as its identity; a copy without one (an Outlook-made PST, an OST's
        local item) takes the source key of a copy elsewhere with the same content key, else its content key.
        Newness: change number present, then the change number, then the modification time, then the file's
        recency; equal newness is broken by the state, then the file's path (never the order the files came in)."""
        db = self._db
        db.execute("BEGIN")
        db.execute("CREATE INDEX IF NOT EXISTS copies_content ON copies(content)")
        db.execute(
            "UPDATE files SET recency = COALESCE((SELECT max(moment) FROM copies c WHERE c.file = files.file), '')"
        )
        db.execute("UPDATE copies SET identity = 'sk:' || skey WHERE skey IS NOT NULL")
        db.execute(
            "UPDATE copies SET identity = COALESCE((SELECT 'sk:' || min(o.skey) FROM copies o"
            " WHERE o.content = copies.content AND o.skey IS NOT NULL), 'ct:' || content) WHERE skey IS NULL"
        )
        db.execute(
            "UPDATE copies SET newness = has_change || '.' || printf('%016x', change) || '.' || modified || '.'"
            " || (SELECT recency FROM files f WHERE f.file = copies.file)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS copies_identity ON copies(identity)")
        db.execute(
            "INSERT INTO winners(identity, file, node, newness, state, folder, holders)"
            " SELECT identity, file, node, newness, state, folder, holders FROM ("
            "  SELECT c.identity, c.file, c.node, c.newness, c.state, c.folder,"
            "   (SELECT count(DISTINCT h.file) FROM copies h WHERE h.identity = c.identity) AS holders,"
            "   row_number() OVER (PARTITION BY c.identity ORDER BY c.newness DESC, c.state DESC, f.path DESC,"
            "    c.node DESC) AS place"
            "  FROM copies c JOIN files f ON f.file = c.file) WHERE place = 1"
        )
        db.execute("CREATE INDEX IF NOT EXISTS winners_copy ON winners(file, node)")
        db.execute("CREATE INDEX IF NOT EXISTS copies_legacy ON copies(legacy)")
        db.execute("COMMIT")

    def identity_of(self, file: int, node: int) -> str | None:
        row = self._db.execute("SELECT identity FROM copies WHERE file=? AND node=?", (file, node)).fetchone()
        return row[0] if row else None

    def winner(self, identity: str) -> Winner | None:
        row = self._db.execute(
            "SELECT w.identity, w.file, w.node, w.newness, w.state, w.folder, w.holders, c.content FROM winners w"
            " JOIN copies c ON c.file = w.file AND c.node = w.node WHERE w.identity=?",
            (identity,),
        ).fetchone()
        return Winner(*row) if row else None

    def winners(self) -> Iterator[Winner]:
        """Every identity's winning copy, by file and folder."""
        return _winners(self._db)

    def by_legacy(self, legacy: str) -> list[tuple[str, str, str]]:
        """(identity across caches, folder path, content key) of the copies the one-file run would have
        stamped with this identity: what a mailbox it rebuilt holds, recognised."""
        query = "SELECT identity, folder, content FROM copies WHERE legacy=? ORDER BY file, node"
        return [tuple(row) for row in self._db.execute(query, (legacy,))]

    def counts(self) -> tuple[int, int]:
        """(copies read, identities)."""
        copies = self._db.execute("SELECT count(*) FROM copies").fetchone()[0]
        identities = self._db.execute("SELECT count(*) FROM winners").fetchone()[0]
        return copies, identities

    def coverage(self) -> Iterator[Coverage]:
        """Per file and folder: items, items that won, items no other file holds, the dates held."""
        yield from (
            Coverage(*row)
            for row in self._db.execute(
                "SELECT c.file, c.folder, count(*),"
                " sum(CASE WHEN w.file = c.file AND w.node = c.node THEN 1 ELSE 0 END),"
                " sum(CASE WHEN w.holders = 1 THEN 1 ELSE 0 END),"
                " COALESCE(min(NULLIF(c.moment, '')), ''), COALESCE(max(NULLIF(c.moment, '')), '')"
                " FROM copies c JOIN winners w ON w.identity = c.identity GROUP BY c.file, c.folder"
                " ORDER BY c.file, c.folder"
            )
        )

    def absent_from_newer(self, limit: int = 200) -> tuple[int, list[dict[str, str]]]:
        """Items a newer OST no longer holds though its dates cover them: deleted (or moved out of the
        synchronized folders) since, or never downloaded. A cache cannot prove a deletion: they are kept and
        reported. Newer: the file's recency is later than that of every file holding the item; covering:
        the item's moment lies within that file's own dates. Returns (count, the first `limit`)."""
        query = (
            " FROM winners w JOIN copies c ON c.file = w.file AND c.node = w.node"
            " JOIN files n ON n.recency > (SELECT max(f.recency) FROM copies h JOIN files f ON f.file = h.file"
            "   WHERE h.identity = w.identity)"
            " WHERE c.moment != '' AND c.moment >= (SELECT min(NULLIF(o.moment, '')) FROM copies o"
            "   WHERE o.file = n.file AND o.has_change = 1)"
        )
        count = self._db.execute(f"SELECT count(DISTINCT w.identity){query}").fetchone()[0]
        rows = self._db.execute(
            f"SELECT c.subject, c.folder, c.moment, min(n.path){query} GROUP BY w.identity"
            f" ORDER BY c.moment, c.subject LIMIT ?",
            (limit,),
        ).fetchall()
        return count, [{"subject": s, "folder": f, "date": m, "newer_file": p} for s, f, m, p in rows]

    def path_of(self, file: int) -> str:
        return self._db.execute("SELECT path FROM files WHERE file=?", (file,)).fetchone()[0]


def state_json(read: bool, flag: int, categories: Iterable[str]) -> str:
    """The state a winning copy gives its server item, as the index keeps it (and sorts it for ties)."""
    return json.dumps({"read": int(read), "flag": flag, "categories": sorted(categories)}, sort_keys=True)


def _winners(db: sqlite3.Connection) -> Iterator[Winner]:
    query = (
        "SELECT w.identity, w.file, w.node, w.newness, w.state, w.folder, w.holders, c.content FROM winners w"
        " JOIN copies c ON c.file = w.file AND c.node = w.node ORDER BY w.file, w.folder, w.identity"
    )
    yield from (Winner(*row) for row in db.execute(query))
