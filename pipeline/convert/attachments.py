"""Attachments as MIME parts: files by value, OLE objects and references kept as files, embedded
messages as message/rfc822 (recursively), inline images ready for multipart/related.

Names and types are chosen here so the uploader and the export see the same file names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline import mapi, props
from pipeline.convert import headers, mime_types, parts
from pipeline.model import Attachment, SourceItem

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")
_CID_TRIM = re.compile(r"^<|>$")


@dataclass(slots=True)
class AttachmentPart:
    """One attachment turned into a MIME part, and whether it belongs next to the HTML body."""

    part: parts.Part
    filename: str | None
    inline: bool = False
    warnings: list[str] = field(default_factory=list)
    slow: bool = False  # a header of it needed the email package (see headers.render)


def attachment_name(att: Attachment, codepage: int | None = None) -> str | None:
    """The long file name, else the 8.3 name, else the display name."""
    for candidate in (
        att.filename,
        att.properties.get(mapi.PR_ATTACH_LONG_FILENAME),
        att.properties.get(mapi.PR_ATTACH_FILENAME),
        att.properties.get(mapi.PR_DISPLAY_NAME),
    ):
        value = props.decode_text(candidate, codepage)
        if value and value.strip():
            return _BAD_NAME.sub("", value.strip())
    return None


def content_id(att: Attachment) -> str | None:
    value = att.content_id or props.decode_text(att.properties.get(mapi.PR_ATTACH_CONTENT_ID))
    if not value:
        return None
    value = _CID_TRIM.sub("", value.strip())
    return value or None


def mime_type(att: Attachment, filename: str | None) -> tuple[str, str]:
    """PR_ATTACH_MIME_TAG when it is a well-formed type, else a guess from the name."""
    declared = att.mime_type or props.decode_text(att.properties.get(mapi.PR_ATTACH_MIME_TAG))
    if declared and re.fullmatch(r"[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+", declared.strip()):
        maintype, subtype = declared.strip().lower().split("/", 1)
        if maintype not in ("multipart", "message"):
            return maintype, subtype
    if filename:
        guessed = mime_types.by_name(filename)
        if guessed:
            maintype, subtype = guessed.split("/", 1)
            if maintype not in ("multipart", "message"):
                return maintype, subtype
    return "application", "octet-stream"


def _file_part(
    data: bytes, filename: str | None, maintype: str, subtype: str, inline: bool, cid: str | None
) -> tuple[parts.Part, bool]:
    """The part, and whether its Content-ID needed the slow path; a Content-ID that cannot be written
    without a defect is left out (the image then shows as an attachment instead of inline)."""
    cid_line, slow = headers.render("Content-ID", f"<{cid}>") if cid else (None, False)
    part = parts.file_part(data, maintype, subtype, "inline" if inline else "attachment", filename, cid_line)
    return part, slow


def reference_shortcut(att: Attachment, filename: str | None, codepage: int | None) -> tuple[bytes, str]:
    """A by-reference attachment without data becomes an Internet shortcut to where it pointed."""
    path = (
        props.decode_text(att.properties.get(mapi.PR_ATTACH_LONG_PATHNAME), codepage)
        or props.decode_text(att.properties.get(mapi.PR_ATTACH_PATHNAME), codepage)
        or ""
    )
    target = path if "://" in path else "file:///" + path.replace("\\", "/").lstrip("/")
    name = (filename or "reference") + ".url"
    return f"[InternetShortcut]\r\nURL={target}\r\n".encode(), name


def build_part(
    att: Attachment, owner: SourceItem, referenced_cids: set[str], build_embedded: Callable[[SourceItem], bytes]
) -> AttachmentPart:
    """The MIME part for one attachment; problems reading it become warnings, not exceptions."""
    codepage = props.item_codepage(owner)
    filename = attachment_name(att, codepage)
    warnings: list[str] = []
    if att.method == mapi.ATTACH_EMBEDDED_MSG:
        inner = None
        try:
            inner = att.embedded()
        except Exception as exc:  # the reader failed on the nested item
            warnings.append(f"embedded message {att.index} unreadable ({type(exc).__name__}); kept as raw bytes")
        if inner is not None:
            return AttachmentPart(parts.message_part(build_embedded(inner), filename), filename, warnings=warnings)
        data = safe_read(att, warnings)
        name = filename or f"attachment-{att.index}"
        if not name.lower().endswith(".msg"):
            name += ".msg"
        part, _ = _file_part(data, name, "application", "vnd.ms-outlook", False, None)
        return AttachmentPart(part, name, warnings=warnings)
    data = safe_read(att, warnings)
    if att.method in (mapi.ATTACH_BY_REFERENCE, mapi.ATTACH_BY_REF_RESOLVE, mapi.ATTACH_BY_REF_ONLY) and not data:
        data, filename = reference_shortcut(att, filename, codepage)
        part, _ = _file_part(data, filename, "application", "internet-shortcut", False, None)
        return AttachmentPart(part, filename, warnings=warnings)
    if att.method == mapi.ATTACH_OLE and not filename:
        filename = f"OLE object {att.index}.bin"
    maintype, subtype = mime_type(att, filename)
    cid = content_id(att)
    inline = bool(cid and cid in referenced_cids)
    part, slow = _file_part(data, filename, maintype, subtype, inline, cid)
    return AttachmentPart(part, filename, inline, warnings, slow)


def safe_read(att: Attachment, warnings: list[str]) -> bytes:
    try:
        return att.read() or b""
    except Exception as exc:  # a broken data tree loses this attachment's bytes, not the message
        warnings.append(f"attachment {att.index} data unreadable ({type(exc).__name__})")
        return b""


def referenced_cids(html: str | None) -> set[str]:
    """Content ids the HTML body points at (cid:...)."""
    if not html:
        return set()
    return {m.group(1) for m in re.finditer(r"""cid:([^"'\s>)]+)""", html, re.IGNORECASE)}
