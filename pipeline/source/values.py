"""Decoding of raw MAPI property values (type + bytes, as libpff hands them over) into Python values.

Pure functions: the reader passes bytes in, gets str/int/bool/float/datetime/bytes/list out.
"""

from __future__ import annotations

import codecs
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import mapi
from pipeline.source import codepages

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_OLE_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
_MAX_FILETIME = 0x7FFFFFFFFFFFFFFF // 10 // 1_000_000  # seconds; beyond this datetime overflows

# Fixed-size scalar types and their struct codes.
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


def filetime_to_datetime(value: int) -> datetime | None:
    """FILETIME (100 ns since 1601) to an aware UTC datetime; 0 and 'never' values become None."""
    if value <= 0 or value >= 0x7FFFFFFFFFFFFFFF:
        return None
    try:
        dt = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    # 4500-08-31 is MAPI's conventional 'no date'.
    return None if dt.year >= 4500 else dt


def apptime_to_datetime(value: float) -> datetime | None:
    try:
        return _OLE_EPOCH + timedelta(days=value)
    except (OverflowError, ValueError):
        return None


def decode_string8(data: bytes, codepage: str) -> str:
    return codepages.decode(data, codepage)


#: The codec function itself: bytes.decode("utf-16-le") goes through the codec registry and a Python frame
#: (encodings.utf_16_le.decode) on each call, which cost as much again as the decoding (cProfile, bulk OST).
_UTF16_LE = codecs.utf_16_le_decode


def decode_unicode(data: bytes, _codepage: str = "") -> str:
    """UTF-16LE text cut at the first NUL (the code page is ignored: decode_value's table calls it so)."""
    if len(data) % 2:
        data = data[:-1]
    text = _UTF16_LE(data, "replace", True)[0]
    end = text.find("\x00")
    return text if end < 0 else text[:end]


def _string8(data: bytes, codepage: str) -> str:
    return codepages.decode(data, codepage)


def _boolean(data: bytes, _codepage: str) -> bool:
    return any(data[:4]) if data else False


def _clsid(data: bytes, _codepage: str) -> Any:
    return str(uuid.UUID(bytes_le=bytes(data[:16]))) if len(data) >= 16 else bytes(data)


def _raw(data: bytes, _codepage: str) -> bytes:
    return bytes(data)  # binary, object, server entry id, restriction, actions, unknown


def _fixed(ptype: int) -> Any:
    """The decoder of one fixed-size type: its struct, and what a value too short for it becomes."""
    unpack = struct.Struct(_FIXED[ptype]).unpack_from
    size = _SIZES[ptype]
    short_int = ptype in (mapi.PT_LONG, mapi.PT_SHORT, mapi.PT_LONGLONG, mapi.PT_ERROR)
    signed = ptype != mapi.PT_ERROR
    convert = {mapi.PT_SYSTIME: filetime_to_datetime, mapi.PT_APPTIME: apptime_to_datetime}.get(ptype)

    def decode(data: bytes, _codepage: str) -> Any:
        if len(data) < size:
            if short_int and data:
                return int.from_bytes(data, "little", signed=signed)
            return None
        (value,) = unpack(data)
        return value if convert is None else convert(value)

    return decode


#: Single-valued type -> decoder(data, codepage): one call per value where a chain of tests and calls was
#: (decode_value was a fifth of the native reader's CPU on the bulk OST).
_SCALARS = {
    mapi.PT_UNICODE: decode_unicode,
    mapi.PT_STRING8: _string8,
    mapi.PT_BOOLEAN: _boolean,
    mapi.PT_CLSID: _clsid,
} | {ptype: _fixed(ptype) for ptype in _FIXED}


def _scalar(ptype: int, data: bytes, codepage: str) -> Any:
    return _SCALARS.get(ptype, _raw)(data, codepage)


def _multi(base: int, data: bytes, codepage: str) -> list[Any]:
    """Multi-valued properties: fixed types are packed arrays; variable ones have count + offsets."""
    if not data:
        return []
    decode = _SCALARS.get(base, _raw)
    if base in _SIZES:
        size = _SIZES[base]
        return [decode(data[i : i + size], codepage) for i in range(0, len(data) - size + 1, size)]
    (count,) = struct.unpack_from("<I", data)
    if count == 0 or 4 + 4 * count > len(data):
        return []
    offsets = list(struct.unpack_from(f"<{count}I", data, 4)) + [len(data)]
    values = []
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if not 0 <= start <= end <= len(data):
            break
        values.append(decode(data[start:end], codepage))
    return values


def decode_value(ptype: int, data: bytes | None, codepage: str = "cp1252") -> Any:
    """Decode one property value of MAPI type ptype; missing data decodes to the type's empty value."""
    if data is not None:
        decode = _SCALARS.get(ptype)
        if decode is not None:
            return decode(data, codepage)
        if not ptype & mapi.MV_FLAG:
            return bytes(data)
        return _multi(ptype & ~mapi.MV_FLAG & 0xFFFF, data, codepage)
    if ptype & mapi.MV_FLAG:
        return []
    if ptype in (mapi.PT_UNICODE, mapi.PT_STRING8):
        return ""
    if ptype in (mapi.PT_BINARY, mapi.PT_OBJECT):
        return b""
    return None


def decode_values(
    raw: dict[int, tuple[int, bytes | None]], codepage: str = "cp1252", skip: frozenset[int] = frozenset()
) -> dict[int, Any]:
    """decode_value over {prop id: (type, data)} (but the ids in skip), in one loop: one call per value
    where decode_value makes two."""
    out: dict[int, Any] = {}
    scalar = _SCALARS.get
    for pid, (ptype, data) in raw.items():
        if skip and pid in skip:
            continue
        decode = scalar(ptype)
        out[pid] = (
            decode(data, codepage) if decode is not None and data is not None else decode_value(ptype, data, codepage)
        )
    return out


def strip_subject_prefix_marker(subject: str) -> str:
    """PR_SUBJECT may start with 0x01 and a length char marking the prefix ('RE: '): drop the marker."""
    if len(subject) >= 2 and subject[0] == "\x01":
        return subject[2:]
    return subject


def python_codepage(cpid: int | None, fallback: str = "cp1252") -> str:
    """A Windows code page id (1252, 65001, 932...) as a Python codec name, if Python knows it."""
    if not cpid:
        return fallback
    name = {
        65001: "utf-8",
        1200: "utf-16-le",
        20127: "ascii",
        28591: "latin-1",
        50220: "iso2022_jp",
        51932: "euc_jp",
        936: "gbk",
        949: "cp949",
        950: "big5",
        20866: "koi8_r",
    }.get(cpid, f"cp{cpid}")
    try:
        codecs.lookup(name)
    except LookupError:
        return fallback
    return name


def attachment_record(index: int, props: dict[int, Any], size: int, read: Any, open_embedded: Any) -> Any:
    """An Attachment from its decoded properties, as both readers build it (read and open_embedded are the
    reader's lazy callbacks; open_embedded is used only for embedded messages, method 5)."""
    from pipeline.model import Attachment

    method = props.get(mapi.PR_ATTACH_METHOD) or 1
    flags = props.get(mapi.PR_ATTACH_FLAGS) or 0
    content_id = props.get(mapi.PR_ATTACH_CONTENT_ID) or None
    filename = (
        props.get(mapi.PR_ATTACH_LONG_FILENAME)
        or props.get(mapi.PR_ATTACH_FILENAME)
        or props.get(mapi.PR_DISPLAY_NAME)
        or None
    )
    return Attachment(
        index=index,
        method=method,
        filename=filename,
        mime_type=props.get(mapi.PR_ATTACH_MIME_TAG) or None,
        content_id=content_id,
        size=size,
        is_inline=bool(flags & 0x4) or bool(content_id and props.get(mapi.PR_ATTACHMENT_HIDDEN)),
        properties=props,
        _read=read,
        _open_embedded=open_embedded if method == 5 else None,
    )


#: PR_RECIPIENT_TYPE (low bits) -> the kind a Recipient carries.
RECIPIENT_KINDS = {1: "to", 2: "cc", 3: "bcc"}


def recipient_record(props: dict[int, Any]) -> Any:
    """A Recipient from a recipient-table row's decoded properties, as both readers build it."""
    from pipeline.model import Recipient

    return Recipient(
        kind=RECIPIENT_KINDS.get((props.get(mapi.PR_RECIPIENT_TYPE, 1) or 0) & 0xF, "to"),
        display_name=props.get(mapi.PR_DISPLAY_NAME) or None,
        email=props.get(mapi.PR_EMAIL_ADDRESS) or None,
        address_type=props.get(mapi.PR_ADDRTYPE) or None,
        smtp_address=props.get(mapi.PR_SMTP_ADDRESS) or None,
        properties=props,
    )
