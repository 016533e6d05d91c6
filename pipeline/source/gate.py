"""The one input gate: every command checks an OST/PST (and a mailbox address) here before anything else
happens.

A regular file only (a FIFO, socket, device or directory is refused from its metadata, never opened for
reading, so nothing can block); then the header (signature, version, CRC) and libpff's open of the file
and its root folder. Any failure is a SourceOpenError whose message is one line in words naming the file;
libpff's own error chain goes to the log file once, never to the console.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import structlog

from pipeline.source import Source, SourceInfo, SourceOpenError, open_source, read_header

log = structlog.get_logger(__name__)

#: local@domain: no second '@', no spaces, controls or list separators in the local part; a DNS domain.
_ADDRESS = re.compile(
    r"^[^@\s,;<>\"\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def is_smtp_address(text: str) -> bool:
    """True for `user@example.com`; False for `a@b@c`, `user@`, `@example.com`, `a b@c`, ..."""
    return len(text) <= 320 and bool(_ADDRESS.fullmatch(text)) and not text.startswith(".")


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def regular_file(path: str | Path) -> Path:
    """path when it names a regular file (symbolic links followed); SourceOpenError otherwise.

    Only stat() is used: it never blocks, whatever the path names (on Windows there are no FIFOs)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SourceOpenError(f"{path}: no such file") from None
    except PermissionError:
        raise SourceOpenError(f"{path}: cannot read: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise SourceOpenError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(mode):
        raise SourceOpenError(f"{path}: {_kind(mode)}, not an OST/PST file")
    return path


def _kind(mode: int) -> str:
    return next((text for test, text in _KINDS if test(mode)), "a special file")


def not_regular(path: Path) -> str | None:
    """What path is when it exists and is not a regular file ('a named pipe (FIFO)'...), else None: the same
    check for any input file read whole (the users CSV), from stat() alone."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None  # missing or unreadable: the caller's own read says so
    return None if stat.S_ISREG(mode) else _kind(mode)


def open_checked(path: str | Path, recover: bool = False, codepage: int | None = None) -> Source:
    """The source opened through the gate (for commands that read it at once: inspect, export)."""
    try:
        return open_source(regular_file(path), recover=recover, codepage=codepage)
    except SourceOpenError as exc:
        _log_refusal(path, exc)
        raise


def check_header(path: str | Path) -> None:
    """The part of the gate a machine that will not read the file itself can apply: a regular file whose
    header (signature, version, CRC) is an OST/PST's. For `--engine temporal`, whose workers open the file
    (often through --path-map) with the whole gate before anything touches a server."""
    try:
        read_header(regular_file(path))
    except SourceOpenError as exc:
        _log_refusal(path, exc)
        raise


def check_source(path: str | Path) -> SourceInfo:
    """Open and close the source through the gate: for commands that read it later (the main job, verify,
    the CSV check), so that a file that does not open stops them before anything touches a server."""
    with open_checked(path) as source:
        return source.info


def _log_refusal(path: str | Path, exc: SourceOpenError) -> None:
    """The one record of a refused file, in the log file (debug level: the console shows the one line)."""
    log.debug("source refused", file=str(path), reason=str(exc), libpff=exc.detail)


def check_inputs(ost: str | Path, mailbox: str) -> Path:
    """The command line's --ost and --mailbox, checked as the CSV's rows are: UsageError (exit 2) on the
    first that is wrong, before anything touches a server."""
    from pipeline.errors import UsageError

    if not is_smtp_address(mailbox):
        raise UsageError(f"--mailbox {mailbox!r} is not an SMTP address (user@domain)")
    try:
        check_source(ost)
    except SourceOpenError as exc:
        raise UsageError(str(exc)) from None
    return Path(ost)
