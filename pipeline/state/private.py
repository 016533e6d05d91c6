"""Private state: the state directory is the owner's alone (0700) and every file in it is 0600.

The journal holds subjects of failed items, the reports hold subjects, and the sandbox's data holds mail and
its accounts' NT hashes (password equivalents). New files get owner-only modes from the process umask
(inherited by the sandbox and worker processes, and covering SQLite's -wal/-shm files and rotated logs);
a state directory left by an older version is tightened when a command uses it. On Windows, where POSIX
modes mean nothing, this does nothing (the folder's ACL decides).
"""

from __future__ import annotations

import os
from pathlib import Path

#: What a state directory holds; a directory holding only these is ours to tighten.
STATE_ENTRIES = frozenset(
    {"journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm", "logs", "reports", "sandbox", "merge"}
)
POSIX = os.name == "posix"


def restrict_new_files() -> None:
    """Files and folders this process (and its children) creates are owner-only from now on."""
    if POSIX:
        os.umask(0o077)


def state_dir(path: Path) -> Path:
    """Create the state directory 0700, or tighten one made before: our entries 0600/0700, and the directory
    itself when everything in it is ours (never a folder such as the home directory given as --state)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not POSIX:
        return path
    entries = {child.name for child in path.iterdir()}
    for name in sorted(entries & STATE_ENTRIES):
        tighten(path / name)
    if entries <= STATE_ENTRIES:
        _chmod(path, 0o700)
    return path


def tighten(path: Path) -> None:
    """path 0600 (a file) or 0700 (a folder, and everything below it)."""
    if not POSIX or path.is_symlink():
        return
    if path.is_dir():
        _chmod(path, 0o700)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                _chmod(Path(root, name), 0o700)
            for name in files:
                _chmod(Path(root, name), 0o600)
    elif path.is_file():
        _chmod(path, 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if path.is_symlink():
            return  # never follow a link out of the state directory
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
    except OSError:
        pass  # not ours (another owner) or gone: nothing to tighten
