"""Mail items as RFC 5322 bytes: headers, the body alternatives, related inline images, attachments.

The structure is multipart/mixed( multipart/alternative( text/plain, multipart/related( text/html,
images ) [, text/rtf] ), attachments ), collapsed wherever a level would hold a single part.
"""

from __future__ import annotations

import base64
import email
from dataclasses import dataclass, field
from email.message import EmailMessage, Message, MIMEPart

from pipeline import mapi
from pipeline.convert import addresses, attachments, bodies, props
from pipeline.convert.headers import POLICY, top_headers
from pipeline.model import SourceItem

#: Deeper nesting than this is flattened into raw attachments: a guard against loops in damaged files.
MAX_DEPTH = 32


@dataclass(slots=True)
class MimeResult:
    """The bytes of the message and what could not be carried faithfully."""

    data: bytes
    warnings: list[str] = field(default_factory=list)
    message_id_dropped: bool = False  # the source's Message-ID could not appear in the headers


def _multipart(subtype: str, parts: list[MIMEPart]) -> MIMEPart:
    if len(parts) == 1:
        return parts[0]
    container = MIMEPart(policy=POLICY)
    container["Content-Type"] = f"multipart/{subtype}"
    for part in parts:
        container.attach(part)
    return container


def _text_part(value: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part.set_content(value.replace("\r\n", "\n"), subtype=subtype, charset="utf-8")
    return part


def _body_tree(found: bodies.Bodies, inline_parts: list[MIMEPart]) -> MIMEPart:
    alternatives: list[MIMEPart] = []
    if found.plain or not (found.html or found.rtf):
        alternatives.append(_text_part(found.plain or "", "plain"))
    if found.html:
        alternatives.append(_multipart("related", [_text_part(found.html, "html"), *inline_parts]))
        inline_parts = []
    if found.rtf:
        rtf = MIMEPart(policy=POLICY)
        rtf.set_content(found.rtf, maintype="text", subtype="rtf")
        alternatives.append(rtf)
    body = _multipart("alternative", alternatives)
    if inline_parts:  # inline images but no HTML to hold them: they go along as plain inline parts
        return _multipart("mixed", [body, *inline_parts])
    return body


@dataclass(slots=True)
class _Context:
    domain: str | None
    warnings: list[str]
    depth: int = 0


def _smime_body(item: SourceItem, ctx: _Context) -> bytes | None:
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
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (f'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + encoded


def build(item: SourceItem, domain: str | None, warnings: list[str], depth: int = 0,
          use_transport: bool = True) -> EmailMessage:
    """The message object for an item (embedded messages are built by the same function)."""
    ctx = _Context(domain, warnings, depth)
    found = bodies.extract(item)
    warnings.extend(found.warnings)
    cids = attachments.referenced_cids(found.html)
    inline_parts: list[MIMEPart] = []
    files: list[MIMEPart] = []

    def embedded(inner: SourceItem) -> EmailMessage:
        if depth + 1 > MAX_DEPTH:
            raise RecursionError("embedded messages nested too deep")
        return build(inner, domain, warnings, depth + 1)

    for att in item.attachments:
        try:
            built = attachments.build_part(att, item, cids, embedded)
        except RecursionError:
            warnings.append(f"embedded messages nested deeper than {MAX_DEPTH} levels were cut")
            continue
        warnings.extend(built.warnings)
        (inline_parts if built.inline else files).append(built.part)

    body = _body_tree(found, inline_parts)
    root = _multipart("mixed", [body, *files]) if files else body
    message = EmailMessage(policy=POLICY)
    header_domain = addresses.domain_hint(item, ctx.domain)
    header_list, header_warnings = top_headers(item, header_domain, use_transport)
    warnings.extend(header_warnings)
    for name, value in header_list:
        message[name] = value
    message["MIME-Version"] = "1.0"
    for name, value in root.items():
        message[name] = value
    message.set_payload(root.get_payload())
    return message


def defects(message: Message) -> list[str]:
    """Every defect the standard parser reports, in any part and any header (class names only)."""
    found: list[str] = []
    for part in message.walk():
        found.extend(type(d).__name__ for d in part.defects)
        for value in part.values():
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
        head = result.data.split(b"\r\n\r\n", 1)[0].lower()
        result.message_id_dropped = not (head.startswith(b"message-id:") or b"\r\nmessage-id:" in head)
    return result


def _to_mime(item: SourceItem, domain: str | None) -> MimeResult:
    warnings: list[str] = []
    smime = _smime_body(item, _Context(domain, warnings))
    if smime is not None:
        header_list, header_warnings = top_headers(item, addresses.domain_hint(item, domain))
        head = EmailMessage(policy=POLICY)
        for name, value in header_list:
            head[name] = value
        head["MIME-Version"] = "1.0"
        data = head.as_bytes(policy=POLICY).rstrip(b"\r\n") + b"\r\n" + smime
        if not defects(parse(data)):
            return MimeResult(data, warnings + header_warnings)
        warnings.append("S/MIME entity malformed; kept as an attachment")
    for use_transport in (True, False):
        attempt: list[str] = []
        message = build(item, domain, attempt, use_transport=use_transport)
        data = message.as_bytes(policy=POLICY)
        problems = defects(parse(data))
        if not problems:
            if not use_transport and props.text(item, mapi.PR_TRANSPORT_MESSAGE_HEADERS):
                attempt.append("cached transport headers unusable; headers synthesized")
            return MimeResult(data, warnings + attempt)
    attempt.append("MIME has parser defects: " + ", ".join(sorted(set(problems))))
    return MimeResult(data, warnings + attempt)
