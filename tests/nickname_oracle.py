"""The autocomplete list's stream read by the tests themselves ([MS-OXOCFG] 2.2.5.2), never by the project's
reader: the tests' oracle for what the project wrote or read."""

from __future__ import annotations

import struct


def nickname_rows(data: bytes) -> list[dict[int, object]]:
    """Signature 0xBAADF00D, major version 12, minor, row count; per row a property count and per property a
    tag, 4 reserved bytes, an 8-byte value; strings (decoded) and binaries follow with a 32-bit size."""
    signature, major, _minor, rows = struct.unpack_from("<4I", data, 0)
    assert (signature, major) == (0xBAADF00D, 12)
    at, found = 16, []
    for _ in range(rows):
        (count,), at = struct.unpack_from("<I", data, at), at + 4
        row: dict[int, object] = {}
        for _ in range(count):
            tag = struct.unpack_from("<I", data, at)[0]
            value, at = data[at + 8 : at + 16], at + 16
            if tag & 0xFFFF in (0x001F, 0x0102, 0x001E):
                size = struct.unpack_from("<I", data, at)[0]
                value, at = data[at + 4 : at + 4 + size], at + 4 + size
                if tag & 0xFFFF == 0x001F:
                    value = value.decode("utf-16-le").rstrip("\0")
            row[tag] = value
        found.append(row)
    return found
