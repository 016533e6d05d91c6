"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then renamed.

A crash, a kill or a full disk in the middle leaves the old file (or none), never a truncated one; the
temporary file is owner-only from creation (O_EXCL, 0600) and removed when the write fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """Open a temporary file in path's directory for writing; on a clean exit it is fsynced and renamed over
    path (os.replace: atomic on POSIX and Windows), else removed."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(path.parent)


def _sync_directory(folder: Path) -> None:
    """The rename itself made durable where the system allows opening a directory (not on Windows)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
