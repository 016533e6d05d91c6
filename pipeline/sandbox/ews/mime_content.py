"""The MimeContent GetItem answers for an item whose attachments changed after its MIME was stored:
attachments added since (CreateAttachment, typed Attachments beside MimeContent) become MIME parts, as
Exchange's MimeContent always shows an item's current attachments.

The stored MIME stays byte for byte what the client sent; the parts are added around it with bytes
operations (no re-serialisation of the original): into its multipart/mixed, or under a new multipart/mixed
whose first part is the original body with its content headers.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections import Counter
from email import policy
from email.parser import BytesHeaderParser
from email.utils import encode_rfc2231

from pipeline.sandbox import mime

_HEADERS = BytesHeaderParser(policy=policy.compat32)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_CONTENT_HEADERS = (
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "content-description",
)


def added(data: bytes, stored: list[tuple[int, str]]) -> list[int]:
    """Positions of stored attachments (position, sha256) that the MIME does not carry."""
    carried = Counter(a.sha256 for a in mime.parse(data).attachments)
    extra = []
    for position, digest in stored:
        if carried[digest]:
            carried[digest] -= 1
        else:
            extra.append(position)
    return extra


def _param(name: str, value: str) -> str:
    if value.isascii() and '"' not in value and "\\" not in value:
        return f'{name}="{value}"'
    return f"{name}*={encode_rfc2231(value, 'utf-8')}"


def _part(att: mime.Attachment) -> bytes:
    content = att.content or b""
    if att.content_type == "message/rfc822":
        head = f"Content-Type: message/rfc822\r\nContent-Disposition: attachment; {_param('filename', att.name)}\r\n"
        return head.encode("ascii") + b"\r\n" + content
    encoded = base64.encodebytes(content).replace(b"\n", b"\r\n")
    head = (
        f"Content-Type: {att.content_type}; {_param('name', att.name)}\r\n"
        f"Content-Disposition: {'inline' if att.is_inline else 'attachment'}; {_param('filename', att.name)}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
    )
    if att.content_id:
        head += f"Content-ID: <{att.content_id}>\r\n"
    return head.encode("ascii") + b"\r\n" + encoded


def _header_lines(head: bytes) -> list[bytes]:
    """Header fields with their folded continuation lines kept together (each without its final CRLF)."""
    fields: list[bytes] = []
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        elif line:
            fields.append(line)
    return fields


def with_attachments(data: bytes, extra: list[mime.Attachment]) -> bytes:
    """`data` with `extra` as further parts of a multipart/mixed."""
    if not extra:
        return data
    found = _BLANK_LINE.search(data)
    head, body = (data, b"") if found is None else (data[: found.start()], data[found.end() :])
    top = _HEADERS.parsebytes(head)
    boundary = top.get_boundary() if top.get_content_type() == "multipart/mixed" else None
    if boundary:
        closing = re.search(rb"(\r?\n)?--" + re.escape(boundary.encode("latin-1")) + rb"--", body)
        if closing is not None:
            marker = b"\r\n--" + boundary.encode("latin-1") + b"\r\n"
            added_parts = b"".join(marker + _part(att) for att in extra)
            return data[: len(data) - len(body) + closing.start()] + added_parts + body[closing.start() :]
    fields = _header_lines(head)
    moved = [f for f in fields if f.split(b":", 1)[0].strip().lower().decode("latin-1") in _CONTENT_HEADERS]
    kept = [f for f in fields if f not in moved]
    new_boundary = f"sandbox-{uuid.uuid4().hex}"
    out = b"\r\n".join(kept) + b"\r\n"
    if not any(f.lower().startswith(b"mime-version:") for f in kept):
        out += b"MIME-Version: 1.0\r\n"
    out += f'Content-Type: multipart/mixed; boundary="{new_boundary}"\r\n\r\n'.encode("ascii")
    marker = f"--{new_boundary}\r\n".encode("ascii")
    first = b"\r\n".join(moved) + b"\r\n" if moved else b"Content-Type: text/plain; charset=us-ascii\r\n"
    out += marker + first + b"\r\n" + body
    for att in extra:
        out += b"\r\n" + marker + _part(att)
    out += f"\r\n--{new_boundary}--\r\n".encode("ascii")
    return out
