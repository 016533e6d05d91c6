"""Unit tests of MAPI value decoding and the name-to-id map parser."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime

from pipeline import mapi
from pipeline.source.namemap import parse_name_map
from pipeline.source.values import decode_value, filetime_to_datetime, strip_subject_prefix_marker


def test_scalars():
    assert decode_value(mapi.PT_LONG, struct.pack("<i", -5)) == -5
    assert decode_value(mapi.PT_SHORT, struct.pack("<h", 7)) == 7
    assert decode_value(mapi.PT_LONGLONG, struct.pack("<q", 2**40)) == 2**40
    assert decode_value(mapi.PT_DOUBLE, struct.pack("<d", 1.5)) == 1.5
    assert decode_value(mapi.PT_BOOLEAN, b"\x01") is True
    assert decode_value(mapi.PT_BOOLEAN, b"\x00\x00") is False
    assert decode_value(mapi.PT_UNICODE, "Grüße".encode("utf-16-le")) == "Grüße"
    assert decode_value(mapi.PT_UNICODE, None) == ""
    assert decode_value(mapi.PT_STRING8, "café".encode("cp1252") + b"\x00", "cp1252") == "café"
    assert decode_value(mapi.PT_BINARY, b"\x01\x02") == b"\x01\x02"
    guid = uuid.uuid4()
    assert decode_value(mapi.PT_CLSID, guid.bytes_le) == str(guid)


def test_filetime():
    # 2020-01-01T00:00:00Z as FILETIME
    value = (datetime(2020, 1, 1, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()
    ft = int(value) * 10_000_000
    assert decode_value(mapi.PT_SYSTIME, struct.pack("<Q", ft)) == datetime(2020, 1, 1, tzinfo=UTC)
    assert filetime_to_datetime(0) is None
    assert filetime_to_datetime(0x7FFFFFFFFFFFFFFF) is None


def test_multi_valued():
    assert decode_value(mapi.PT_LONG | mapi.MV_FLAG, struct.pack("<3i", 1, 2, 3)) == [1, 2, 3]
    strings = ["red", "Grün"]
    encoded = [s.encode("utf-16-le") for s in strings]
    header = struct.pack("<I", 2)
    offsets = [4 + 8, 4 + 8 + len(encoded[0])]
    data = header + struct.pack("<2I", *offsets) + b"".join(encoded)
    assert decode_value(mapi.PT_UNICODE | mapi.MV_FLAG, data) == strings
    bins = [b"\x01", b"\x02\x03"]
    data = struct.pack("<I", 2) + struct.pack("<2I", 12, 13) + b"".join(bins)
    assert decode_value(mapi.PT_BINARY | mapi.MV_FLAG, data) == bins
    assert decode_value(mapi.PT_UNICODE | mapi.MV_FLAG, None) == []


def test_subject_prefix_marker():
    assert strip_subject_prefix_marker("\x01\x04RE: hello") == "RE: hello"
    assert strip_subject_prefix_marker("hello") == "hello"


def test_name_map():
    custom = uuid.UUID("12345678-1234-5678-1234-567812345678")
    guids = custom.bytes_le
    name = "X-Custom".encode("utf-16-le")
    strings = struct.pack("<I", len(name)) + name
    entries = (
        struct.pack("<IHH", 0x8501, (3 << 1), 0)  # numeric, custom GUID -> 0x8000
        + struct.pack("<IHH", 0, (2 << 1) | 1, 1)  # string, PS_PUBLIC_STRINGS -> 0x8001
        + struct.pack("<IHH", 0x10, (1 << 1), 2)
    )  # numeric, PS_MAPI -> 0x8002
    names = parse_name_map({2: guids, 3: entries, 4: strings})
    assert names.resolve(0x8000) == (str(custom), 0x8501)
    assert names.resolve(0x8001) == (mapi.PS_PUBLIC_STRINGS, "X-Custom")
    assert names.resolve(0x8002) == (mapi.PS_MAPI, 0x10)
    assert names.resolve(0x8003) is None
