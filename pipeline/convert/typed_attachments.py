"""Attachments of the typed items (appointment, contact, task, ...) as plain values for the destinations:
files as they are, an embedded message as RFC 5322 bytes written by the MIME writer (mime.py).

Apart from attachments.py, which builds the MIME parts the mail writer itself uses.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline import mapi, props
from pipeline.convert import mime
from pipeline.convert.attachments import attachment_name, content_id, mime_type, reference_shortcut, safe_read
from pipeline.model import Attachment, SourceItem


def typed_attachments(
    item: SourceItem, skip: Callable[[Attachment], bool] | None = None, domain: str | None = None
) -> tuple[list[dict[str, object]], list[str]]:
    """Attachments of a typed item (appointment, contact, task...) as plain dicts for EWS
    FileAttachment ({name, content_type, content, content_id, is_inline}) or ItemAttachment
    ({name, item_mime}: the embedded message as RFC 5322 bytes)."""
    codepage = props.item_codepage(item)
    out: list[dict[str, object]] = []
    warnings: list[str] = []
    for att in item.attachments:
        if skip is not None and skip(att):
            continue
        name = attachment_name(att, codepage)
        if att.method == mapi.ATTACH_EMBEDDED_MSG:
            try:
                inner = att.embedded()
            except Exception as exc:
                warnings.append(f"embedded item {att.index} unreadable ({type(exc).__name__})")
                inner = None
            if inner is not None:
                result = mime.to_mime(inner, domain)
                warnings.extend(result.warnings)
                out.append({"name": name or props.text(inner, mapi.PR_SUBJECT) or "item", "item_mime": result.data})
                continue
        data = safe_read(att, warnings)
        if att.method in (mapi.ATTACH_BY_REFERENCE, mapi.ATTACH_BY_REF_RESOLVE, mapi.ATTACH_BY_REF_ONLY) and not data:
            data, name = reference_shortcut(att, name, codepage)
        if not name:
            name = f"attachment-{att.index}"
        maintype, subtype = mime_type(att, name)
        out.append(
            {
                "name": name,
                "content_type": f"{maintype}/{subtype}",
                "content": data,
                "content_id": content_id(att),
                "is_inline": bool(att.is_inline),
            }
        )
    return out, warnings
