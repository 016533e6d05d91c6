"""MIME entities written straight to bytes: text and binary leaves, message/rfc822, multiparts with
deterministic boundaries.

Replaces EmailMessage/set_content/as_bytes, which cost milliseconds a message; everything here is a
few C-level calls (binascii, bytes.join). The same input always gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass

from pipeline.convert import folding

_CRLF = b"\r\n"
_B64_LINE = 76
#: Lines of a 7bit body stay this short, as the email package's policy had them (max_line_length=78).
_MAX_7BIT = 78
_CONTROLS = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")
_SNIFF_LINES = 10


@dataclass(slots=True)
class Part:
    """One MIME entity: its folded header lines (each ending in CRLF) and its encoded body."""

    headers: list[str]
    body: bytes

    def to_bytes(self) -> bytes:
        return "".join(self.headers).encode("ascii") + _CRLF + self.body


def base64_body(data: bytes) -> bytes:
    """Base64 in 76-character lines with CRLF ends (encodebytes measured fastest of the C-level ways)."""
    return base64.encodebytes(data).replace(b"\n", _CRLF) if data else b""


def _text_body(value: str) -> tuple[str, bytes]:
    """(transfer encoding, body) for text: 7bit when it is short-lined ASCII, else quoted-printable or
    base64, whichever the first lines say is smaller (the email package's own rule)."""
    lines = value.encode("utf-8", errors="replace").splitlines()
    joined = _CRLF.join(lines) + _CRLF
    if joined.isascii() and max(map(len, lines), default=0) <= _MAX_7BIT and not _CONTROLS.search(joined):
        return "7bit", joined
    sniff = _CRLF.join(lines[:_SNIFF_LINES]) + _CRLF
    if len(binascii.b2a_qp(sniff)) > (len(sniff) + 2) // 3 * 4:
        return "base64", base64_body(joined)
    return "quoted-printable", binascii.b2a_qp(joined)


def text_part(value: str, subtype: str) -> Part:
    """A UTF-8 text/<subtype> part (line ends normalised to CRLF, a final line end always present)."""
    cte, body = _text_body(value)
    headers = [folding.mime_header("Content-Type", f"text/{subtype}", [("charset", "utf-8")]),
               f"Content-Transfer-Encoding: {cte}\r\n"]
    return Part(headers, body)


def file_part(data: bytes, maintype: str, subtype: str, disposition: str | None = None,
              filename: str | None = None, cid_header: str | None = None) -> Part:
    """A base64 leaf: an attachment or inline image (name= and filename= carry the same name)."""
    headers = [folding.mime_header("Content-Type", f"{maintype}/{subtype}", [("name", filename)]),
               "Content-Transfer-Encoding: base64\r\n"]
    if disposition is not None:
        headers.append(folding.mime_header("Content-Disposition", disposition, [("filename", filename)]))
    if cid_header is not None:
        headers.append(cid_header)
    return Part(headers, base64_body(data))


def message_part(message: bytes, filename: str | None) -> Part:
    """An embedded message as message/rfc822 (no transfer encoding may apply to it, RFC 2046 5.2.1)."""
    headers = ["Content-Type: message/rfc822\r\n",
               f"Content-Transfer-Encoding: {'7bit' if message.isascii() else '8bit'}\r\n",
               folding.mime_header("Content-Disposition", "attachment", [("filename", filename)])]
    return Part(headers, message)


def boundary(children: list[bytes]) -> str:
    """A boundary from the content itself, so output is deterministic; '=_' never occurs in base64 or
    quoted-printable text, and a 7bit or passed-through body that happens to hold it moves us on."""
    seed = 0
    for child in children:
        seed = zlib.crc32(child, seed)
    salt = 0
    while True:
        candidate = f"=_rebuild_{seed:08x}_{salt}"
        marker = b"--" + candidate.encode("ascii")
        if not any(marker in child for child in children):
            return candidate
        salt += 1
        seed = zlib.crc32(marker, seed)


def multipart(subtype: str, parts: list[Part]) -> Part:
    """multipart/<subtype> holding the parts; a single part stands alone instead."""
    if len(parts) == 1:
        return parts[0]
    children = [part.to_bytes() for part in parts]
    mark = boundary(children)
    delimiter = b"--" + mark.encode("ascii")
    body = b"".join([delimiter + _CRLF + child + _CRLF for child in children]) + delimiter + b"--" + _CRLF
    header = folding.mime_header("Content-Type", f"multipart/{subtype}", [("boundary", mark)])
    return Part([header], body)
