"""The bodies of an item: plain text, HTML and RTF, decoded and reconciled into what MIME will carry.

HTML comes from PR_HTML, else from RTF that encapsulates HTML; RTF-only bodies are kept as RTF and
flattened to text, so nothing the user wrote is lost whichever body Outlook had stored natively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline import mapi, props
from pipeline.convert.rtf import open_rtf
from pipeline.model import SourceItem

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


@dataclass(slots=True)
class Bodies:
    """What the item's body is: any of plain, html, rtf (raw RTF kept only when it is real RTF)."""

    plain: str | None = None
    html: str | None = None
    rtf: bytes | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.plain or self.html or self.rtf)


def _html_charset(data: bytes, codepage: int | None) -> str:
    """The HTML's declared charset (meta), else the item's internet code page, else UTF-8."""
    match = _META_CHARSET.search(data[:4096])
    if match:
        name = match.group(1).decode("ascii", errors="ignore")
        try:
            "".encode(name)
            return name
        except LookupError:
            pass
    if codepage:
        return props.codec_for(codepage, default="utf-8")
    return "utf-8"


def decode_html(value: object, codepage: int | None) -> str | None:
    """PR_HTML is binary in the code page of PR_INTERNET_CPID (or its own meta charset)."""
    if isinstance(value, str):
        return value or None
    if not isinstance(value, bytes | bytearray) or not value:
        return None
    data = bytes(value).rstrip(b"\x00")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode(_html_charset(data, codepage), errors="replace")


def plain_text(item: SourceItem) -> str | None:
    value = props.decode_text(item.prop(mapi.PR_BODY), props.item_codepage(item))
    return value if value and value.strip("\r\n\t ") else None


def extract(item: SourceItem) -> Bodies:
    """All bodies of the item, reconciled; never raises (problems become warnings)."""
    bodies = Bodies(plain=plain_text(item))
    bodies.html = decode_html(item.prop(mapi.PR_HTML), props.item_codepage(item))
    raw_rtf = props.binary(item.prop(mapi.PR_RTF_COMPRESSED))
    if raw_rtf and not bodies.html:
        try:
            found = open_rtf(raw_rtf)
        except ValueError as exc:
            bodies.warnings.append(f"RTF body dropped: {exc}")
        else:
            if found.kind == "html":
                bodies.html = found.html
            elif found.kind == "text":
                bodies.plain = bodies.plain or found.text
            else:
                bodies.rtf = found.rtf
                bodies.plain = bodies.plain or found.text
    if bodies.plain and "\r" in bodies.plain:  # (a 1-character search is 30x faster than replace's)
        bodies.plain = bodies.plain.replace("\r\n", "\n")
    # A NUL is no text: RTF bodies often end with one after the last brace, and a server shows it as "?".
    if bodies.plain and "\x00" in bodies.plain:
        bodies.plain = bodies.plain.replace("\x00", "")
    if bodies.html and "\x00" in bodies.html:
        bodies.html = bodies.html.replace("\x00", "")
    return bodies


def body_for_fields(item: SourceItem) -> tuple[str | None, str]:
    """(text, 'html'|'text') for typed items whose body travels as an EWS Body/HTMLBody field."""
    bodies = extract(item)
    if bodies.html:
        return bodies.html, "html"
    return bodies.plain, "text"
