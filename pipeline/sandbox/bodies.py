"""Request bodies read within a limit: Content-Length or chunked, incrementally, never more than the limit held.

The server authenticates from the headers first and only then reads a body, at most `limit` bytes of it: a
Content-Length over the limit is refused before a byte is read, a chunked body is read chunk by chunk (a
chunk's declared size is checked before it is read) and stopped as soon as it passes the limit. Refused or
unauthenticated bodies are discarded in small pieces (`discard`), so nothing a client sends ever sits in
memory whole. Outcomes are typed values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from io import BufferedIOBase

#: Longest chunk-size or trailer line taken (RFC 9112 chunk extensions included).
MAX_LINE = 4096
PIECE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Framing:
    """How the request's body is delimited: chunked, or `length` bytes (0: no body)."""

    chunked: bool
    length: int


@dataclass(frozen=True, slots=True)
class Body:
    data: bytes


@dataclass(frozen=True, slots=True)
class TooLarge:
    """The body is over the limit; `read` bytes of it were consumed (and dropped)."""

    read: int


@dataclass(frozen=True, slots=True)
class Malformed:
    """Bad framing (a Content-Length or chunk size that is not a number, a line too long)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Aborted:
    """The client went away before the body ended."""


Outcome = Body | TooLarge | Malformed | Aborted


def framing(transfer_encoding: str | None, content_length: str | None) -> Framing | Malformed:
    if "chunked" in (transfer_encoding or "").lower():
        return Framing(True, 0)
    text = (content_length or "").strip()
    if not text:
        return Framing(False, 0)
    if not text.isdigit():
        return Malformed(f"Content-Length {text[:40]!r} is not a number")
    return Framing(False, int(text))


def _chunk_size(rfile: BufferedIOBase) -> int | Malformed | Aborted:
    line = rfile.readline(MAX_LINE + 1)
    if not line:
        return Aborted()
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        return Malformed("chunk-size line too long")
    text = line.split(b";", 1)[0].strip()
    try:
        return int(text, 16)
    except ValueError:
        return Malformed(f"chunk size {text[:20]!r} is not hexadecimal")


def _end_of_chunked(rfile: BufferedIOBase) -> Malformed | Aborted | None:
    """Read the trailer section after the last chunk."""
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if not line:
            return Aborted()
        if len(line) > MAX_LINE:
            return Malformed("trailer line too long")
        if line in (b"\r\n", b"\n"):
            return None


def read(rfile: BufferedIOBase, frame: Framing, limit: int) -> Outcome:
    """The body, whole, if it is at most `limit` bytes; never holds more than `limit` (+ one piece)."""
    if not frame.chunked:
        if frame.length > limit:
            return TooLarge(0)
        data = rfile.read(frame.length) if frame.length else b""
        return Body(data) if len(data) == frame.length else Aborted()
    buffer = bytearray()
    while True:
        size = _chunk_size(rfile)
        if not isinstance(size, int):
            return size
        if size == 0:
            end = _end_of_chunked(rfile)
            return end if end is not None else Body(bytes(buffer))
        if len(buffer) + size > limit:
            return TooLarge(len(buffer))
        while size:
            piece = rfile.read(min(size, PIECE))
            if not piece:
                return Aborted()
            buffer += piece
            size -= len(piece)
        if rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            return Malformed("chunk not followed by CRLF")


def discard(rfile: BufferedIOBase, frame: Framing, budget: int, seconds: float) -> bool:
    """Read and drop a body nothing of which was read yet, at most `budget` bytes and `seconds`; True when it
    ended inside them (the connection can take the next request), False when the connection must close."""
    deadline = time.monotonic() + seconds
    if not frame.chunked:
        if frame.length > budget:
            return False
        return _drop(rfile, frame.length, deadline)
    dropped = 0
    while True:
        size = _chunk_size(rfile)
        if not isinstance(size, int):
            return False
        if size == 0:
            return _end_of_chunked(rfile) is None
        dropped += size
        if dropped > budget or not _drop(rfile, size, deadline):
            return False
        if rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            return False


def linger(rfile: BufferedIOBase, most: int, seconds: float) -> None:
    """Before closing a connection whose body is not all read: read and drop up to `most` bytes for at most
    `seconds`, so a client still sending gets to read the answer instead of a reset (nginx's lingering
    close). Memory stays flat; the caller closes the connection afterwards."""
    _drop(rfile, most, time.monotonic() + seconds, partial=True)


def _drop(rfile: BufferedIOBase, count: int, deadline: float, partial: bool = False) -> bool:
    """Read and drop `count` bytes; False if the client stopped or the deadline passed first."""
    while count > 0:
        if time.monotonic() > deadline:
            return False
        try:
            piece = rfile.read1(min(count, PIECE)) if partial else rfile.read(min(count, PIECE))
        except OSError:
            return False
        if not piece:
            return False
        count -= len(piece)
    return True
