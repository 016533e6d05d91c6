"""The autocomplete (nickname cache) stream of [MS-OXOCFG]: IPM.Configuration.Autocomplete's
PidTagRoamingBinaryStream (0x7C09), the names Outlook offers in the To: box.

Layout: a 0xBAADF00D signature, major version 12, minor version, a row count, then per row a count of
property values, each a property tag, 4 reserved bytes and an 8-byte value; strings and binaries carry
their bytes after it, behind a 32-bit size. Then the size of extra information, the extra information,
and what trails it (8 bytes in Outlook's streams, kept as they are).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError, filetime

SIGNATURE = 0xBAADF00D
MAJOR_VERSION = 12

PT_SHORT, PT_LONG, PT_DOUBLE, PT_ERROR, PT_BOOLEAN, PT_I8, PT_STRING8, PT_UNICODE, PT_SYSTIME, PT_CLSID = (
    0x0002,
    0x0003,
    0x0005,
    0x000A,
    0x000B,
    0x0014,
    0x001E,
    0x001F,
    0x0040,
    0x0048,
)
PT_BINARY = 0x0102
_FIXED = {PT_SHORT, PT_LONG, PT_DOUBLE, PT_ERROR, PT_BOOLEAN, PT_I8, PT_SYSTIME, PT_CLSID}
_SIZED = {PT_STRING8, PT_UNICODE, PT_BINARY}

# The properties a nickname cache row carries ([MS-OXOCFG] 2.2.5.2.2.1).
PR_DISPLAY_NAME = 0x3001
PR_ADDRTYPE = 0x3002
PR_EMAIL_ADDRESS = 0x3003
PR_SEARCH_KEY = 0x300B
PR_SMTP_ADDRESS = 0x39FE


@dataclass(frozen=True, slots=True)
class AutocompleteEntry:
    """One row of the nickname cache: the values a To: box needs, and every property by tag."""

    display_name: str | None
    email_address: str | None  # PR_EMAIL_ADDRESS: SMTP, or an X500 legacyExchangeDN when address_type is EX
    address_type: str | None
    smtp_address: str | None
    properties: dict[int, Any]  # full property tag (id << 16 | type) -> value

    @property
    def legacy_dn(self) -> str | None:
        """The X500 legacyExchangeDN of an Exchange entry (address type EX), else None."""
        if (self.address_type or "").upper() == "EX" and self.email_address:
            return self.email_address
        return None


@dataclass(frozen=True, slots=True)
class AutocompleteList:
    major_version: int
    minor_version: int
    entries: tuple[AutocompleteEntry, ...]
    extra_info: bytes
    trailer: bytes
    raw: bytes


def _value(cursor: Cursor, tag: int) -> Any:
    kind = tag & 0xFFFF
    union = cursor.take(8, f"value of tag {tag:08X}")
    if kind in _SIZED:
        size = cursor.u32(f"size of tag {tag:08X}")
        data = cursor.take(size, f"data of tag {tag:08X}")
        if kind == PT_UNICODE:
            return data.decode("utf-16-le", "replace").rstrip("\0")
        if kind == PT_STRING8:
            return data.decode("latin-1").rstrip("\0")
        return data
    if kind not in _FIXED:
        raise SettingsFormatError(cursor.what, cursor.offset - 12, f"property type 0x{kind:04X} not in the format")
    if kind in (PT_SHORT,):
        return struct.unpack_from("<h", union)[0]
    if kind in (PT_LONG, PT_ERROR):
        return struct.unpack_from("<i" if kind == PT_LONG else "<I", union)[0]
    if kind == PT_BOOLEAN:
        return union[0] != 0
    if kind == PT_DOUBLE:
        return struct.unpack_from("<d", union)[0]
    if kind == PT_SYSTIME:
        return filetime(struct.unpack_from("<Q", union)[0])
    return struct.unpack_from("<q", union)[0]  # PT_I8; PT_CLSID keeps its 8 bytes as a number


def parse_autocomplete(raw: bytes) -> AutocompleteList:
    cursor = Cursor(raw, "autocomplete stream")
    if cursor.u32("signature") != SIGNATURE:
        raise SettingsFormatError(cursor.what, 0, "no 0xBAADF00D signature")
    major, minor = cursor.u32("major version"), cursor.u32("minor version")
    if major != MAJOR_VERSION:
        raise SettingsFormatError(cursor.what, 4, f"major version {major}, not {MAJOR_VERSION}")
    rows = cursor.u32("row count")
    if rows > len(raw) // 4:
        raise SettingsFormatError(cursor.what, 12, f"row count {rows} larger than the stream")
    entries = []
    for _ in range(rows):
        count = cursor.u32("property count")
        if count > cursor.remaining // 16:
            raise cursor.fail(f"property count {count} larger than the stream")
        properties: dict[int, Any] = {}
        for _ in range(count):
            tag = cursor.u32("property tag")
            cursor.take(4, "reserved")
            properties[tag] = _value(cursor, tag)
        by_id = {tag >> 16: value for tag, value in properties.items()}

        def text(prop_id: int, values: dict[int, Any] = by_id) -> str | None:
            value = values.get(prop_id)
            return value if isinstance(value, str) and value else None

        entries.append(
            AutocompleteEntry(
                display_name=text(PR_DISPLAY_NAME),
                email_address=text(PR_EMAIL_ADDRESS),
                address_type=text(PR_ADDRTYPE),
                smtp_address=text(PR_SMTP_ADDRESS),
                properties=properties,
            )
        )
    extra = b""
    if cursor.remaining >= 4:
        extra = cursor.take(cursor.u32("extra info size"), "extra info")
    trailer = cursor.take(cursor.remaining)
    return AutocompleteList(
        major_version=major, minor_version=minor, entries=tuple(entries), extra_info=extra, trailer=trailer, raw=raw
    )
