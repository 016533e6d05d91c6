"""MIME parsing for CreateItem: the subject, addresses, dates, class and attachments Exchange derives.

Uses only Python's email package, independently of how the pipeline writes MIME, so a disagreement shows.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.errors
import email.utils
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from typing import cast

_PARSER = BytesParser(policy=policy.compat32)
_HEADER_PARSER = BytesHeaderParser(policy=policy.compat32)


@dataclass(slots=True)
class Address:
    name: str
    email: str


@dataclass(slots=True)
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str
    is_inline: bool = False
    content_id: str = ""
    content: bytes | None = None  # kept only for attachments created through EWS (not derived from MIME)


@dataclass(slots=True)
class ParsedMime:
    subject: str | None = None
    sender: list[Address] = field(default_factory=list)
    from_: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    date_sent: str | None = None  # UTC ISO 'Z'
    date_received: str | None = None  # from the newest Received: header
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    importance: str | None = None
    item_class: str = "IPM.Note"
    attachments: list[Attachment] = field(default_factory=list)


class MimeHeaderError(ValueError):
    """A MimeContent header holds raw 8-bit bytes: EWS takes an ASCII MIME stream (RFC 2047/2231 encode
    anything else), and Exchange's treatment of such bytes is undocumented, so the item is refused."""


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(value: str) -> str:
    """RFC 5322 2.2.3: a folded header is unfolded by removing each CRLF that precedes white space."""
    return _FOLD.sub("", value)


def check_ascii_header(head: bytes, where: str) -> None:
    """Raise MimeHeaderError naming the first header line that holds a byte above 0x7F."""
    if head.isascii():
        return
    for number, line in enumerate(head.split(b"\n"), 1):
        if not line.isascii():
            name = line.split(b":", 1)[0].decode("ascii", "replace").strip() or "?"
            raise MimeHeaderError(
                f"raw 8-bit bytes in MIME header {name!r} ({where}line {number}); "
                "MimeContent headers must be ASCII (RFC 2047/2231 encoded words)"
            )


def text_header(msg: Message, name: str) -> str | None:
    raw = msg.get(name)
    if raw is None:
        return None
    value = unfold(str(raw))
    try:
        return str(make_header(decode_header(value))).strip()
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return value.strip()


def _addresses(msg: Message, name: str) -> list[Address]:
    values = msg.get_all(name)
    if not values:
        return []
    decoded = []
    for raw in values:
        value = unfold(str(raw))
        try:
            decoded.append(str(make_header(decode_header(value))))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            decoded.append(value)
    return [Address(n, a) for n, a in email.utils.getaddresses(decoded) if a or n]


def to_utc_iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class _Part:
    """One MIME entity: headers parsed by the email package, the raw body, and sub-parts for multiparts."""

    headers: Message
    body: bytes
    children: list[_Part] = field(default_factory=list)


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _tree(data: bytes, depth: int = 0) -> _Part:
    """Split the structure with bytes searches; only headers go through the (line-by-line) email parser."""
    if data.startswith((b"\r\n", b"\n")):
        head, body = b"", data.split(b"\n", 1)[1]
    else:
        found = _BLANK_LINE.search(data)
        head, body = (data, b"") if found is None else (data[: found.start()], data[found.end() :])
    check_ascii_header(head, f"part at depth {depth}, " if depth else "")
    part = _Part(_HEADER_PARSER.parsebytes(head), body)
    if part.headers.get_content_maintype() == "multipart" and depth < 32:
        boundary = part.headers.get_boundary()
        if boundary:
            part.children = [_tree(piece, depth + 1) for piece in _split(body, boundary)]
    return part


def _split(body: bytes, boundary: str) -> list[bytes]:
    """Body parts between delimiter lines ('--boundary' at a line start; the CRLF before it belongs to it)."""
    marker = b"--" + boundary.encode("latin-1", "replace")
    pieces: list[bytes] = []
    start: int | None = None
    pos = 0
    while True:
        found = body.find(marker, pos)
        if found < 0:
            break
        pos = found + len(marker)
        if found and body[found - 1 : found] != b"\n":
            continue
        line_end = body.find(b"\n", pos)
        after = len(body) if line_end < 0 else line_end + 1
        if start is not None:
            cut = found - 2 if body[found - 2 : found] == b"\r\n" else max(found - 1, start)
            pieces.append(body[start:cut])
        if body[pos : pos + 2] == b"--":
            return pieces
        start = after
        pos = after
    if start is not None:
        pieces.append(body[start:])  # no closing delimiter: keep what is there
    return pieces


def _decoded(part: _Part) -> bytes:
    encoding = (part.headers.get("Content-Transfer-Encoding") or "").strip().lower()
    if encoding == "base64":
        return binascii.a2b_base64(part.body)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(part.body)
    return part.body


def _walk(part: _Part) -> Iterator[_Part]:
    yield part
    for child in part.children:
        yield from _walk(child)


def _item_class(root: _Part) -> str:
    msg = root.headers
    ctype = msg.get_content_type()
    if ctype == "multipart/signed":
        return "IPM.Note.SMIME.MultipartSigned"
    if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return "IPM.Note.SMIME"
    if ctype == "multipart/report":
        report = cast(str, msg.get_param("report-type") or "").lower()
        if report == "delivery-status":
            return "REPORT.IPM.Note.NDR"
        if report == "disposition-notification":
            return "REPORT.IPM.Note.IPNRN"
    for part in _walk(root):
        if part.headers.get_content_type() == "text/calendar":
            method = str(part.headers.get_param("method") or "").upper()
            if method == "REQUEST":
                return "IPM.Schedule.Meeting.Request"
            if method == "CANCEL":
                return "IPM.Schedule.Meeting.Canceled"
            if method == "REPLY":
                return "IPM.Schedule.Meeting.Resp"
    return "IPM.Note"


def parse(data: bytes) -> ParsedMime:
    root = _tree(data)
    msg = root.headers
    parsed = ParsedMime()
    parsed.subject = text_header(msg, "Subject")
    parsed.from_ = _addresses(msg, "From")
    parsed.sender = _addresses(msg, "Sender") or parsed.from_
    parsed.to = _addresses(msg, "To")
    parsed.cc = _addresses(msg, "Cc")
    parsed.bcc = _addresses(msg, "Bcc")
    parsed.reply_to = _addresses(msg, "Reply-To")
    parsed.date_sent = to_utc_iso(msg.get("Date"))
    received = msg.get_all("Received") or []
    if received:
        stamp = str(received[0]).rsplit(";", 1)
        if len(stamp) == 2:
            parsed.date_received = to_utc_iso(stamp[1].strip())
    parsed.message_id = text_header(msg, "Message-ID")
    parsed.in_reply_to = text_header(msg, "In-Reply-To")
    parsed.references = text_header(msg, "References")
    importance = (text_header(msg, "Importance") or "").lower()
    priority = (text_header(msg, "X-Priority") or "").strip()[:1]
    if importance in ("high", "low", "normal"):
        parsed.importance = importance.capitalize()
    elif priority in ("1", "2"):
        parsed.importance = "High"
    elif priority in ("4", "5"):
        parsed.importance = "Low"
    parsed.item_class = _item_class(root)
    parsed.attachments = _attachments(root)
    return parsed


def _attachments(root: _Part) -> list[Attachment]:
    """Top-level attachments only: an attached message's inner parts stay inside it."""
    found: list[Attachment] = []

    def visit(part: _Part) -> None:
        if part is not root and part.headers.get_content_type() == "message/rfc822":
            found.extend(_one(part))
        elif part.children:
            for child in part.children:
                visit(child)
        elif part is not root:
            found.extend(_one(part))

    if root.headers.get_content_maintype() == "multipart":
        visit(root)
    return found


def _one(part: _Part) -> list[Attachment]:
    headers = part.headers
    ctype = headers.get_content_type()
    disposition = (headers.get("Content-Disposition") or "").split(";")[0].strip().lower()
    filename = headers.get_filename()
    if filename:
        try:
            filename = str(make_header(decode_header(filename)))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            pass
    if ctype == "message/rfc822":
        data = _decoded(part)
        inner = _tree(data).headers
        name = filename or text_header(inner, "Subject") or ""
    elif filename or disposition == "attachment" or not ctype.startswith("text/"):
        name = filename or ("smime.p7s" if ctype.endswith("pkcs7-signature") else "")
        data = _decoded(part)
    else:
        return []
    cid = (headers.get("Content-ID") or "").strip().strip("<>")
    return [
        Attachment(
            name=name,
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            is_inline=disposition == "inline" or (bool(cid) and disposition != "attachment"),
            content_id=cid,
            content=data,
        )
    ]


def body(data: bytes) -> tuple[str, str]:
    """(BodyType, text) of the best body part: HTML if present, else plain text; for GetItem's Body."""
    msg = _PARSER.parsebytes(data)
    plain = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if (part.get("Content-Disposition") or "").lower().startswith("attachment"):
            continue
        if ctype in ("text/html", "text/plain"):
            payload = cast(bytes, part.get_payload(decode=True) or b"")
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset, errors="replace")
            except LookupError:
                text = payload.decode("utf-8", errors="replace")
            if ctype == "text/html":
                return "HTML", text
            if plain is None:
                plain = text
    return "Text", plain or ""
