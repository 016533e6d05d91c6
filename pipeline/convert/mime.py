"""Mail items as RFC 5322 bytes: headers, the body alternatives, related inline images, attachments.

The structure is multipart/mixed( multipart/alternative( text/plain, multipart/related( text/html,
images ) [, text/rtf] [, text/calendar for meeting messages] ), attachments ), collapsed wherever a level
would hold a single part.
Bytes are written directly (parts.py, folding.py): the email package only renders the rare header the
fast writers decline, and only then is the result parsed back to look for defects.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from pipeline import mapi, props
from pipeline.convert import addresses, attachments, bodies, calendar, folding, parts
from pipeline.convert.headers import top_headers
from pipeline.model import SourceItem

#: Deeper nesting than this is flattened into raw attachments: a guard against loops in damaged files.
MAX_DEPTH = 32
_MIME_VERSION = "MIME-Version: 1.0\r\n"


@dataclass(slots=True)
class MimeResult:
    """The bytes of the message and what could not be carried faithfully."""

    data: bytes
    warnings: list[str] = field(default_factory=list)
    message_id_dropped: bool = False  # the source's Message-ID could not appear in the headers


def _body_tree(
    found: bodies.Bodies, inline_parts: list[parts.Part], meeting: tuple[str, bytes] | None = None
) -> parts.Part:
    alternatives: list[parts.Part] = []
    if found.plain or not (found.html or found.rtf):
        alternatives.append(parts.text_part(found.plain or "", "plain"))
    if found.html:
        alternatives.append(parts.multipart("related", [parts.text_part(found.html, "html"), *inline_parts]))
        inline_parts = []
    if found.rtf:
        alternatives.append(parts.file_part(found.rtf, "text", "rtf"))
    if meeting is not None:  # what a client accepts or declines: text/calendar beside the text, as Exchange writes it
        method, ics = meeting
        alternatives.append(parts.text_part(ics.decode("utf-8"), "calendar", (("method", method),)))
    body = parts.multipart("alternative", alternatives)
    if inline_parts:  # inline images but no HTML to hold them: they go along as plain inline parts
        return parts.multipart("mixed", [body, *inline_parts])
    return body


@dataclass(slots=True)
class _Context:
    domain: str | None
    warnings: list[str]
    depth: int = 0
    slow: bool = False  # the email package rendered something somewhere in the tree


def _smime_body(item: SourceItem) -> bytes | None:
    """S/MIME items keep the signed or encrypted entity as their only attachment: it is the body."""
    if not props.message_class(item).upper().startswith("IPM.NOTE.SMIME") or len(item.attachments) != 1:
        return None
    att = item.attachments[0]
    try:
        data = att.read()
    except Exception:
        return None
    if not data:
        return None
    if props.message_class(item).upper().startswith("IPM.NOTE.SMIME.MULTIPARTSIGNED"):
        head = data[:4096].lower()
        if b"content-type:" in head and b"multipart/signed" in head:
            # The attachment is a whole MIME entity; its bytes must pass unchanged for the signature.
            return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return None
    name = attachments.attachment_name(att) or "smime.p7m"
    head_lines = [
        folding.mime_header(
            "Content-Type", "application/pkcs7-mime", [("smime-type", "enveloped-data"), ("name", name)]
        ),
        folding.mime_header("Content-Disposition", "attachment", [("filename", name)]),
        "Content-Transfer-Encoding: base64\r\n",
    ]
    return "".join(head_lines).encode("ascii") + b"\r\n" + parts.base64_body(data)


def build(item: SourceItem, ctx: _Context, use_transport: bool = True) -> bytes:
    """The message bytes for an item (embedded messages are built by the same function)."""
    found = bodies.extract(item)
    ctx.warnings.extend(found.warnings)
    cids = attachments.referenced_cids(found.html)
    inline_parts: list[parts.Part] = []
    files: list[parts.Part] = []

    def embedded(inner: SourceItem) -> bytes:
        if ctx.depth + 1 > MAX_DEPTH:
            raise RecursionError("embedded messages nested too deep")
        return _nested(inner, ctx)

    for att in item.attachments:
        try:
            built = attachments.build_part(att, item, cids, embedded)
        except RecursionError:
            ctx.warnings.append(f"embedded messages nested deeper than {MAX_DEPTH} levels were cut")
            continue
        ctx.warnings.extend(built.warnings)
        ctx.slow = ctx.slow or built.slow
        (inline_parts if built.inline else files).append(built.part)

    domain = addresses.domain_hint(item, ctx.domain)
    body = _body_tree(found, inline_parts, calendar.meeting_ics(item, domain))
    root = parts.multipart("mixed", [body, *files]) if files else body
    block = top_headers(item, domain, use_transport)
    ctx.warnings.extend(block.warnings)
    ctx.slow = ctx.slow or block.slow
    head = block.text + _MIME_VERSION + "".join(root.headers)
    return b"".join([head.encode("ascii"), b"\r\n", *root.pieces])


def _nested(inner: SourceItem, ctx: _Context) -> bytes:
    child = _Context(ctx.domain, ctx.warnings, ctx.depth + 1)
    data = build(inner, child)
    ctx.slow = ctx.slow or child.slow
    return data


def defects(message: Message) -> list[str]:
    """Every defect the standard parser reports, in any part and any header but Message-ID (class names only)."""
    found: list[str] = []
    for part in message.walk():
        found.extend(type(d).__name__ for d in part.defects)
        for name, value in part.items():
            if name.lower() == "message-id":
                continue  # written as Exchange writes it, RFC 5322 or not (headers.message_id)
            found.extend(type(d).__name__ for d in getattr(value, "defects", ()))
    return found


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def _dedupe(warnings: list[str]) -> list[str]:
    return list(dict.fromkeys(warnings))


def to_mime(item: SourceItem, domain: str | None = None) -> MimeResult:
    """RFC 5322 bytes for a mail item, falling back to synthesized headers if the cached ones misbehave."""
    result = _to_mime(item, domain)
    result.warnings = _dedupe(result.warnings)
    if props.text(item, mapi.PR_INTERNET_MESSAGE_ID):
        end = result.data.find(b"\r\n\r\n")  # (split() would copy the whole body too)
        head = (result.data if end < 0 else result.data[:end]).lower()
        result.message_id_dropped = not (head.startswith(b"message-id:") or b"\r\nmessage-id:" in head)
    return result


def _to_mime(item: SourceItem, domain: str | None) -> MimeResult:
    warnings: list[str] = []
    smime = _smime_body(item)
    if smime is not None:
        block = top_headers(item, addresses.domain_hint(item, domain))
        data = (block.text + _MIME_VERSION).encode("ascii") + smime
        if not defects(parse(data)):  # foreign bytes (a signed entity): always checked
            return MimeResult(data, warnings + block.warnings)
        warnings.append("S/MIME entity malformed; kept as an attachment")
    for use_transport in (True, False):
        attempt: list[str] = []
        ctx = _Context(domain, attempt)
        data = build(item, ctx, use_transport)
        # Our writers cannot produce a defect; what the email package rendered is checked by parsing back.
        problems = defects(parse(data)) if ctx.slow else []
        if not problems:
            if not use_transport and props.text(item, mapi.PR_TRANSPORT_MESSAGE_HEADERS):
                attempt.append("cached transport headers unusable; headers synthesized")
            return MimeResult(data, warnings + attempt)
    attempt.append("MIME has parser defects: " + ", ".join(sorted(set(problems))))
    return MimeResult(data, warnings + attempt)
