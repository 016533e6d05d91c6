"""Compressed RTF bodies: decompression, HTML/text de-encapsulation, and a plain-text flattening.

Outlook keeps many bodies only as PR_RTF_COMPRESSED; some wrap HTML (\\fromhtml1) or text (\\fromtext)
that must come back out as such, the rest are real RTF that we keep and flatten for a text part.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import compressed_rtf

# RTFDE logs document content at debug level: keep it quiet whatever the app's log level is.
for _name in ("RTFDE", "RTFDE.text_extraction", "RTFDE.transform", "RTFDE.grammar", "RTFDE.validation_logger"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class RtfBody:
    """A decompressed RTF body and what it encapsulates: kind is 'html', 'text' or 'rtf'."""

    rtf: bytes
    kind: str
    html: str | None = None
    text: str | None = None


def decompress(data: bytes) -> bytes:
    """The RTF of a PR_RTF_COMPRESSED value; already-plain RTF (some readers decompress) passes through."""
    if data[:5] == b"{\\rtf":
        return data
    return compressed_rtf.decompress(data)


def _encapsulation(rtf: bytes) -> str:
    head = rtf[:1024]
    if b"\\fromhtml" in head:
        return "html"
    if b"\\fromtext" in head:
        return "text"
    return "rtf"


def _ansi_codec(rtf: bytes) -> str:
    match = re.search(rb"\\ansicpg(\d+)", rtf[:2048])
    if match:
        from pipeline.convert.props import codec_for

        return codec_for(int(match.group(1)))
    return "cp1252"


def open_rtf(data: bytes) -> RtfBody:
    """Decompress and de-encapsulate; raises ValueError when the data is not RTF at all."""
    try:
        rtf = decompress(data)
    except Exception as exc:  # compressed_rtf raises bare Exceptions on bad headers or CRC
        raise ValueError(f"compressed RTF unreadable: {type(exc).__name__}") from None
    if not rtf.lstrip()[:5] == b"{\\rtf":
        raise ValueError("compressed RTF does not hold an RTF document")
    kind = _encapsulation(rtf)
    if kind in ("html", "text"):
        try:
            found = _deencapsulator()(rtf, grammar=_grammar())
            found.deencapsulate()
            content = found.content
            value = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else str(content)
            if kind == "html":
                return RtfBody(rtf, "html", html=value)
            return RtfBody(rtf, "text", text=value)
        except Exception:  # RTFDE is strict; fall back to our own flattening
            if kind == "text":
                return RtfBody(rtf, "text", text=rtf_to_text(rtf))
            return RtfBody(rtf, "rtf", text=rtf_to_text(rtf))
    return RtfBody(rtf, "rtf", text=rtf_to_text(rtf))


_CACHE: dict[str, object] = {}


def _grammar() -> str:
    if "grammar" not in _CACHE:
        from RTFDE.grammar import make_concise_grammar

        _CACHE["grammar"] = make_concise_grammar()
    return _CACHE["grammar"]  # type: ignore[return-value]


def _deencapsulator() -> type:
    """RTFDE's DeEncapsulator, but building its Lark parser once: per item it costs ~80 ms."""
    if "class" not in _CACHE:
        from lark import Lark
        from RTFDE.deencapsulate import DeEncapsulator

        class CachedDeEncapsulator(DeEncapsulator):
            def parse_rtf(self, rtf: bytes) -> None:
                parser = _CACHE.get("parser")
                if parser is None:
                    parser = Lark(self.grammar, parser="lalr", keep_all_tokens=True, use_bytes=True,
                                  propagate_positions=True)
                    _CACHE["parser"] = parser
                self.parser = parser
                self.full_tree = parser.parse(rtf)

        _CACHE["class"] = CachedDeEncapsulator
    return _CACHE["class"]  # type: ignore[return-value]


# Destinations whose text is not part of the document body.
_SKIP_DESTINATIONS = {
    b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header", b"footer",
    b"headerl", b"headerr", b"footerl", b"footerr", b"listtable", b"listoverridetable", b"rsidtbl",
    b"generator", b"xmlnstbl", b"themedata", b"colorschememapping", b"latentstyles", b"datastore",
    b"filetbl", b"revtbl", b"pgdsctbl", b"mmathPr", b"fldinst", b"bkmkstart", b"bkmkend",
    b"htmltag", b"mhtmltag",
}
_TOKEN = re.compile(rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])|([{}])|([\r\n]+)|([^\\{}\r\n]+)")
_BREAKS = {b"par": "\n", b"line": "\n", b"sect": "\n\n", b"page": "\n\n", b"tab": "\t", b"cell": "\t",
           b"row": "\n", b"emdash": "\u2014", b"endash": "\u2013", b"bullet": "\u2022", b"lquote": "\u2018",
           b"rquote": "\u2019", b"ldblquote": "\u201c", b"rdblquote": "\u201d", b"emspace": " ",
           b"enspace": " ", b"qmspace": " "}


def rtf_to_text(rtf: bytes) -> str:
    """Plain text of an RTF document: good enough for a text/plain alternative, not a renderer."""
    codec = _ansi_codec(rtf)
    out: list[str] = []
    pending = bytearray()  # \'xx bytes waiting to be decoded together (multi-byte code pages)
    stack: list[tuple[bool, int]] = []
    skip = False
    uc = 1
    to_skip = 0
    first_in_group = False

    def flush() -> None:
        if pending:
            if not skip:
                out.append(pending.decode(codec, errors="replace"))
            pending.clear()

    for match in _TOKEN.finditer(rtf):
        word, arg, hexbyte, symbol, brace, newline, literal = match.groups()
        if hexbyte is not None:
            if to_skip:
                to_skip -= 1
            else:
                pending.append(int(hexbyte, 16))
            first_in_group = False
            continue
        flush()
        if brace == b"{":
            stack.append((skip, uc))
            first_in_group = True
            continue
        if brace == b"}":
            skip, uc = stack.pop() if stack else (False, 1)
            first_in_group = False
            continue
        if newline is not None:
            continue
        if symbol is not None:
            if symbol == b"*":
                skip = True
            elif symbol in (b"\\", b"{", b"}") and not skip:
                out.append(symbol.decode())
            elif symbol == b"~" and not skip:
                out.append("\u00a0")
            elif symbol in (b"\n", b"\r") and not skip:
                out.append("\n")
            first_in_group = False
            continue
        if word is not None:
            if first_in_group and word in _SKIP_DESTINATIONS or word in _SKIP_DESTINATIONS:
                skip = True
            elif word == b"uc" and arg is not None:
                uc = int(arg)
            elif word == b"u" and arg is not None:
                code = int(arg)
                if code < 0:
                    code += 65536
                if not skip:
                    out.append(chr(code))
                to_skip = uc
            elif not skip and word in _BREAKS:
                out.append(_BREAKS[word])
            first_in_group = False
            continue
        if literal is not None:
            if to_skip:
                cut = min(to_skip, len(literal))
                literal = literal[cut:]
                to_skip -= cut
            if literal and not skip:
                out.append(literal.decode(codec, errors="replace"))
            first_in_group = False
    flush()
    text = "".join(out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
