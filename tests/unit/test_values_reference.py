"""decode_value (shared by both readers) against its previous implementation, kept here as the reference.

The decoder was rewritten for speed (one table lookup per value instead of a chain of tests); it must give
exactly what the former one gave, type for type, for every MAPI type, multi-valued or not, for missing,
empty, short, odd-length and random data, in ANSI code pages and Unicode.
"""

from __future__ import annotations

import random
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import mapi
from pipeline.source import codepages
from pipeline.source.values import decode_value

# -- the previous implementation (pipeline/source/values.py before the rewrite), verbatim -------------------
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_OLE_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
_FIXED = {
    mapi.PT_SHORT: "<h",
    mapi.PT_LONG: "<i",
    mapi.PT_FLOAT: "<f",
    mapi.PT_DOUBLE: "<d",
    mapi.PT_CURRENCY: "<q",
    mapi.PT_APPTIME: "<d",
    mapi.PT_ERROR: "<I",
    mapi.PT_LONGLONG: "<q",
    mapi.PT_SYSTIME: "<Q",
}
_SIZES = {k: struct.calcsize(v) for k, v in _FIXED.items()} | {mapi.PT_CLSID: 16}


def _filetime(value: int) -> datetime | None:
    if value <= 0 or value >= 0x7FFFFFFFFFFFFFFF:
        return None
    try:
        dt = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    return None if dt.year >= 4500 else dt


def _apptime(value: float) -> datetime | None:
    try:
        return _OLE_EPOCH + timedelta(days=value)
    except (OverflowError, ValueError):
        return None


def _unicode(data: bytes) -> str:
    if len(data) % 2:
        data = data[:-1]
    text = data.decode("utf-16-le", errors="replace")
    end = text.find("\x00")
    return text if end < 0 else text[:end]


def _scalar(ptype: int, data: bytes, codepage: str) -> Any:
    if ptype == mapi.PT_UNICODE:
        return _unicode(data)
    if ptype == mapi.PT_STRING8:
        return codepages.decode(data, codepage)
    if ptype == mapi.PT_BOOLEAN:
        return any(data[:4]) if data else False
    if ptype == mapi.PT_CLSID:
        return str(uuid.UUID(bytes_le=bytes(data[:16]))) if len(data) >= 16 else bytes(data)
    fmt = _FIXED.get(ptype)
    if fmt is None:
        return bytes(data)
    size = _SIZES[ptype]
    if len(data) < size:
        if ptype in (mapi.PT_LONG, mapi.PT_SHORT, mapi.PT_LONGLONG, mapi.PT_ERROR) and data:
            return int.from_bytes(data, "little", signed=ptype != mapi.PT_ERROR)
        return None
    (value,) = struct.unpack_from(fmt, data)
    if ptype == mapi.PT_SYSTIME:
        return _filetime(value)
    if ptype == mapi.PT_APPTIME:
        return _apptime(value)
    return value


def _multi(base: int, data: bytes, codepage: str) -> list[Any]:
    if not data:
        return []
    if base in _SIZES:
        size = _SIZES[base]
        return [_scalar(base, data[i : i + size], codepage) for i in range(0, len(data) - size + 1, size)]
    (count,) = struct.unpack_from("<I", data)
    if count == 0 or 4 + 4 * count > len(data):
        return []
    offsets = list(struct.unpack_from(f"<{count}I", data, 4)) + [len(data)]
    values = []
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if not 0 <= start <= end <= len(data):
            break
        values.append(_scalar(base, data[start:end], codepage))
    return values


def reference(ptype: int, data: bytes | None, codepage: str = "cp1252") -> Any:
    if ptype & mapi.MV_FLAG:
        return _multi(ptype & ~mapi.MV_FLAG & 0xFFFF, data or b"", codepage)
    if data is None:
        if ptype in (mapi.PT_UNICODE, mapi.PT_STRING8):
            return ""
        if ptype in (mapi.PT_BINARY, mapi.PT_OBJECT):
            return b""
        return None
    return _scalar(ptype, data, codepage)


# -----------------------------------------------------------------------------------------------------------


TYPES = [
    0x0000,
    0x0001,
    mapi.PT_SHORT,
    mapi.PT_LONG,
    mapi.PT_FLOAT,
    mapi.PT_DOUBLE,
    mapi.PT_CURRENCY,
    mapi.PT_APPTIME,
    mapi.PT_ERROR,
    mapi.PT_BOOLEAN,
    mapi.PT_OBJECT,
    mapi.PT_LONGLONG,
    mapi.PT_STRING8,
    mapi.PT_UNICODE,
    mapi.PT_SYSTIME,
    mapi.PT_CLSID,
    mapi.PT_SVREID,
    mapi.PT_SRESTRICT,
    mapi.PT_ACTIONS,
    mapi.PT_BINARY,
    0x0033,
    0xFFFF,
]


def _samples(rng: random.Random) -> list[bytes | None]:
    """Missing, empty, every short length, odd lengths, NULs inside, unpaired surrogates, extreme times."""
    out: list[bytes | None] = [
        None,
        b"",
        b"\x00",
        b"\x01",
        b"\x00\x00",
        b"\xff\xff\xff\xff",
        b"\x00\x00\x00\x01",
        b"\x00\x00\x00\x00\x01",
        b"\x00\xd8",
        b"\x00\xd8a\x00",
        b"a\x00\x00\x00b\x00",
        "Grüße 你好".encode("utf-16-le"),
        "Grüße".encode("cp1252") + b"\x00junk",
        "Привет".encode("cp1251"),
        struct.pack("<Q", 0),
        struct.pack("<Q", 0x7FFFFFFFFFFFFFFF),
        struct.pack("<Q", 0x7FFFFFFFFFFFFFFE),
        struct.pack("<Q", 0xFFFFFFFFFFFFFFFF),
        struct.pack("<Q", 132_000_000_000_000_000),
        struct.pack("<Q", 0x0CB34557A3A3C000),
        struct.pack("<d", 45000.25),
        struct.pack("<d", 1e300),
        struct.pack("<d", float("nan")),
        struct.pack("<d", -700000.0),
        struct.pack("<I3I", 3, 16, 18, 22) + b"ab\x00\x00cd",
        struct.pack("<I2I", 2, 12, 99) + b"xyz",
        struct.pack("<I", 0xFFFFFFFF) + b"abcd",
    ]
    for length in range(0, 20):
        out.append(bytes(rng.randrange(256) for _ in range(length)))
    for _ in range(150):
        out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 90))))
    for count in (1, 2, 3, 5):  # well-formed variable multi-values (count, offsets, then the values)
        values = [bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 9))) for _ in range(count)]
        offset, offsets = 4 + 4 * count, []
        for v in values:
            offsets.append(offset)
            offset += len(v)
        out.append(struct.pack(f"<I{count}I", count, *offsets) + b"".join(values))
    return out


def _outcome(decode: Any, *args: Any) -> Any:
    """The value, or the type of what was raised (struct.error on a truncated multi-value: the reader turns
    it into that item's SourceError, so raising is part of what must not change)."""
    try:
        return decode(*args)
    except Exception as exc:  # noqa: BLE001 - compared, not swallowed
        return ("raised", type(exc))


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type, NaN equal to NaN (lists element by element)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def test_decode_value_gives_exactly_what_the_previous_implementation_gave() -> None:
    rng = random.Random(17)
    samples = _samples(rng)
    checked = 0
    for base in TYPES:
        for ptype in (base, base | mapi.MV_FLAG):
            for data in samples:
                for codepage in ("cp1252", "cp1251", "cp932", "utf-8"):
                    if codepage != "cp1252" and base not in (mapi.PT_STRING8,):
                        continue
                    expected = _outcome(reference, ptype, data, codepage)
                    got = _outcome(decode_value, ptype, data, codepage)
                    assert _same(got, expected), (hex(ptype), data, codepage, got, expected)
                    checked += 1
    assert checked > 9_000
    # the reference itself decodes as documented (so that the comparison is not between two wrong answers)
    assert reference(mapi.PT_UNICODE, "ab\x00cd".encode("utf-16-le")) == "ab"
    assert reference(mapi.PT_LONG, b"\x01") == 1 and reference(mapi.PT_SYSTIME, b"\x01") is None
    assert reference(
        mapi.PT_MV_UNICODE if hasattr(mapi, "PT_MV_UNICODE") else 0x101F, struct.pack("<I2I", 2, 12, 14) + b"a\x00b\x00"
    ) == ["a", "b"]
