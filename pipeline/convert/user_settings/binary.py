"""A bounds-checked little-endian cursor over a settings stream, and the error that names where it broke.

Every binary format of the user's settings (the autocomplete stream, search folder definitions, extended
rules) is read through `Cursor`, so a short or corrupt stream becomes one `SettingsFormatError` carrying
the stream's name, the offset and what was expected, never an IndexError or a struct.error.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class SettingsFormatError(ValueError):
    """A settings stream that does not follow its format: `what` names the stream, `offset` the byte where
    reading stopped, `reason` what was expected there."""

    def __init__(self, what: str, offset: int, reason: str) -> None:
        super().__init__(what, offset, reason)
        self.what, self.offset, self.reason = what, offset, reason

    def __str__(self) -> str:
        return f"{self.what}: {self.reason} at byte {self.offset}"


def filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns ticks since 1601) as an aware datetime; None for 0 and for values past year 9999."""
    if value <= 0:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


class Cursor:
    """Reads a bytes value from the front; every read checks the length first."""

    def __init__(self, data: bytes, what: str, offset: int = 0) -> None:
        self.data, self.what, self.offset = data, what, offset

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def fail(self, reason: str) -> SettingsFormatError:
        return SettingsFormatError(self.what, self.offset, reason)

    def take(self, size: int, name: str = "bytes") -> bytes:
        if size < 0 or size > self.remaining:
            raise self.fail(f"{name}: {size} bytes wanted, {self.remaining} left")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def _unpack(self, fmt: str, name: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), name))[0]

    def u8(self, name: str = "byte") -> int:
        return self._unpack("<B", name)

    def u16(self, name: str = "u16") -> int:
        return self._unpack("<H", name)

    def u32(self, name: str = "u32") -> int:
        return self._unpack("<I", name)

    def i32(self, name: str = "i32") -> int:
        return self._unpack("<i", name)

    def u64(self, name: str = "u64") -> int:
        return self._unpack("<Q", name)

    def utf16z(self, name: str = "string") -> str:
        """A UTF-16LE string ended by a 0x0000 code unit (taken, not returned)."""
        end = self.offset
        while end + 1 < len(self.data) and self.data[end : end + 2] != b"\0\0":
            end += 2
        if end + 1 >= len(self.data):
            raise self.fail(f"{name}: no terminating null")
        text = self.take(end - self.offset, name).decode("utf-16-le", "replace")
        self.take(2)
        return text

    def asciiz(self, name: str = "string") -> str:
        end = self.data.find(b"\0", self.offset)
        if end < 0:
            raise self.fail(f"{name}: no terminating null")
        text = self.take(end - self.offset, name).decode("latin-1")
        self.take(1)
        return text


def filetime_of(value: datetime | None) -> int:
    """The FILETIME of an aware datetime (0 for None): the inverse of `filetime`."""
    if value is None:
        return 0
    delta = value - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
