"""Hand-built SourceItems for the convert tests, and a recursive defect check on parsed MIME.

Kept apart from the tests so each test states only the properties it is about.
"""

from __future__ import annotations

import email
import email.policy
import struct
from datetime import UTC, datetime
from typing import Any

from pipeline import mapi
from pipeline.model import Attachment, Recipient, SourceItem

WHEN = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


def item(
    message_class: str = "IPM.Note",
    props: dict[int, Any] | None = None,
    named: dict[tuple[str, int | str], Any] | None = None,
    recipients: list[Recipient] | None = None,
    attachments: list[Attachment] | None = None,
    node_id: int = 0x200024,
    **kw: Any,
) -> SourceItem:
    base = {mapi.PR_SUBJECT: "Hello", mapi.PR_MESSAGE_CLASS: message_class}
    base.update(props or {})
    return SourceItem(
        node_id=node_id,
        folder_path=("Inbox",),
        message_class=message_class,
        properties=base,
        named=dict(named or {}),
        recipients=list(recipients or []),
        attachments=list(attachments or []),
        **kw,
    )


def recipient(
    kind: str, name: str, email_address: str, addrtype: str = "SMTP", smtp: str | None = None, **props: Any
) -> Recipient:
    return Recipient(
        kind=kind,
        display_name=name,
        email=email_address,
        address_type=addrtype,
        smtp_address=smtp,
        properties=dict(props),
    )


def file_attachment(
    index: int,
    name: str,
    data: bytes,
    mime: str | None = None,
    cid: str | None = None,
    inline: bool = False,
    method: int = 1,
    props: dict[int, Any] | None = None,
) -> Attachment:
    return Attachment(
        index=index,
        method=method,
        filename=name,
        mime_type=mime,
        content_id=cid,
        size=len(data),
        is_inline=inline,
        properties=dict(props or {}),
        _read=lambda: data,
    )


def embedded_attachment(index: int, inner: SourceItem, name: str | None = None) -> Attachment:
    return Attachment(
        index=index,
        method=5,
        filename=name,
        mime_type=None,
        content_id=None,
        size=1000,
        is_inline=False,
        properties={},
        _open_embedded=lambda: inner,
    )


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def all_defects(message: email.message.Message) -> list[str]:
    """Defects of every part and header, walking into message/rfc822 parts as well; but Message-ID, which is
    written as Exchange writes it, RFC 5322 or not ([MS-OXCMAIL] 2.1.3.2.11)."""
    found = []
    for part in message.walk():
        found += [repr(d) for d in part.defects]
        found += [
            f"{k}: {d!r}" for k, v in part.items() if k.lower() != "message-id" for d in getattr(v, "defects", ())
        ]
        if part.get_content_type() == "message/rfc822":
            for inner in part.iter_parts():
                found += all_defects(inner)
    return found


def minutes(moment: datetime) -> int:
    """Minutes since 1601-01-01 of a naive local time, as recurrence blobs store them."""
    return int((moment - datetime(1601, 1, 1)).total_seconds() // 60)


def recurrence_blob(
    *,
    frequency: int,
    pattern_type: int,
    period: int,
    specific: bytes,
    end_type: int,
    count: int,
    start: datetime,
    end: datetime,
    start_offset: int,
    end_offset: int,
    deleted: list[datetime] = (),
    modified: list[datetime] = (),
    exceptions: list[dict[str, Any]] = (),
    first_dow: int = 0,
) -> bytes:
    """An AppointmentRecurrencePattern built field by field from MS-OXOCAL 2.2.1.44."""
    out = struct.pack("<5H", 0x3004, 0x3004, frequency, pattern_type, 0)
    out += struct.pack("<3I", 0, period, 0) + specific
    out += struct.pack("<3I", end_type, count, first_dow)
    out += struct.pack("<I", len(deleted)) + b"".join(struct.pack("<I", minutes(d)) for d in deleted)
    out += struct.pack("<I", len(modified)) + b"".join(struct.pack("<I", minutes(d)) for d in modified)
    out += struct.pack("<2I", minutes(start), minutes(end))
    out += struct.pack("<4I", 0x3006, 0x3009, start_offset, end_offset)
    out += struct.pack("<H", len(exceptions))
    for exc in exceptions:
        flags = (0x01 if "subject" in exc else 0) | (0x10 if "location" in exc else 0) | (0x20 if "busy" in exc else 0)
        out += struct.pack("<3IH", minutes(exc["start"]), minutes(exc["end"]), minutes(exc["original"]), flags)
        if "subject" in exc:
            raw = exc["subject"].encode("cp1252", errors="replace")
            out += struct.pack("<2H", len(raw) + 1, len(raw)) + raw
        if "location" in exc:
            raw = exc["location"].encode("cp1252", errors="replace")
            out += struct.pack("<2H", len(raw) + 1, len(raw)) + raw
        if "busy" in exc:
            out += struct.pack("<I", exc["busy"])
    out += struct.pack("<I", 0)
    for exc in exceptions:
        out += struct.pack("<I", 4) + struct.pack("<I", 0)  # ChangeHighlight
        out += struct.pack("<I", 0)
        if "subject" in exc or "location" in exc:
            out += struct.pack("<3I", minutes(exc["start"]), minutes(exc["end"]), minutes(exc["original"]))
            if "subject" in exc:
                out += struct.pack("<H", len(exc["subject"])) + exc["subject"].encode("utf-16-le")
            if "location" in exc:
                out += struct.pack("<H", len(exc["location"])) + exc["location"].encode("utf-16-le")
            out += struct.pack("<I", 0)
    return out + struct.pack("<I", 0)


def tzdefinition(
    key: str,
    bias: int,
    dst_bias: int = -60,
    standard: tuple[int, ...] | None = None,
    daylight: tuple[int, ...] | None = None,
) -> bytes:
    """A TZDEFINITION with one rule; standard/daylight are SYSTEMTIME tuples (8 uint16) or None."""
    name = key.encode("utf-16-le")
    header = struct.pack("<HH", 2, len(key)) + name + struct.pack("<H", 1)
    zero = (0,) * 8
    rule = struct.pack("<BBHHH", 2, 1, 0x3E, 0x0002, 2000) + b"\x00" * 14
    rule += struct.pack("<3i", bias, 0, dst_bias)
    rule += struct.pack("<8H", *(standard or zero)) + struct.pack("<8H", *(daylight or zero))
    return struct.pack("<BBH", 2, 1, len(header)) + header + rule
