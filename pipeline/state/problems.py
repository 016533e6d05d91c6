"""What went wrong with the state directory, the disk or a lock, as one line saying what to do.

The OS and SQLite report these as OSError numbers and SQLite messages; `state_problem` turns the ones an
admin can act on (a full disk, a read-only or foreign-owned directory, a log path that is a directory, a
journal locked by another process or damaged) into a StateError. Anything else is left alone (a bug keeps
its traceback in the JSON log).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from pathlib import Path

from pipeline.errors import StateError

FREE_SPACE = "free some space there, then run the same command again"
JOURNAL_IS_A_CACHE = (
    "the journal is only a cache of what the server holds: delete it (with its -wal and -shm "
    "files) and run again; nothing on the server is lost and nothing is uploaded twice"
)


def state_problem(exc: BaseException, path: Path | str) -> StateError | None:
    """The StateError an admin can act on for exc met at path, or None when exc is not such a problem."""
    if isinstance(exc, StateError):
        return exc
    if isinstance(exc, sqlite3.DatabaseError):
        return _sqlite_problem(exc, Path(path))
    if not isinstance(exc, OSError):
        return None
    where = Path(exc.filename) if isinstance(exc.filename, str) else Path(path)
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return StateError(where, "no space left on the device", FREE_SPACE)
    if code == errno.EROFS:
        return StateError(where, "the file system is read-only", "give a writable --state directory")
    if code == errno.EISDIR or (code == errno.EACCES and where.is_dir() and where.suffix):
        return StateError(where, "is a directory where a file belongs", "remove or rename it, then run again")
    if code in (errno.EACCES, errno.EPERM):
        return StateError(where, "permission denied", "give a --state directory this user can write to")
    if code == errno.ENOTDIR:
        return StateError(where, "a file stands where a directory belongs", "remove or rename it, then run again")
    return None


def _sqlite_problem(exc: sqlite3.DatabaseError, path: Path) -> StateError | None:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return journal_locked(path)
    if "disk is full" in text or "database or disk is full" in text:
        return StateError(path, "no space left on the device", FREE_SPACE)
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StateError(path, "the journal is damaged (not a readable SQLite database)", JOURNAL_IS_A_CACHE)
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StateError(
            path,
            "the journal cannot be written (read-only or inaccessible)",
            "give a --state directory this user can write to",
        )
    if "disk i/o error" in text:
        return StateError(path, "disk I/O error (is the disk full?)", FREE_SPACE)
    return None


def journal_locked(path: Path) -> StateError:
    holder = lock_holder(path)
    who = f"process {holder}" if holder else "another process"
    return StateError(
        path,
        f"the journal is locked by {who}",
        "wait for it to end (another rebuild with the same --state?) or stop it, then run again"
        + (f" (e.g. `kill {holder}`)" if holder and os.name == "posix" else ""),
    )


def lock_holder(path: Path) -> int | None:
    """The pid holding a POSIX lock on path or its -wal/-shm files, where the system tells (Linux's
    /proc/locks); None elsewhere or when nobody else is found."""
    if not sys.platform.startswith("linux"):
        return None
    inodes = set()
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            inodes.add(candidate.stat().st_ino)
        except OSError:
            pass
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter, not a holder)
        if "->" in fields or len(fields) < 6:
            continue
        try:
            pid, inode = int(fields[4]), int(fields[5].rsplit(":", 1)[1])
        except (ValueError, IndexError):
            continue
        if inode in inodes and pid != os.getpid():
            return pid
    return None
