"""Attachments of the typed items (appointment, contact, task, ...) as the item values' attachments:
files as they are, an embedded message as RFC 5322 bytes written by the MIME writer (mime.py).

Apart from attachments.py, which builds the MIME parts the mail writer itself uses.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import mime
from pipeline.convert.attachments import attachment_name, content_id, mime_type, reference_shortcut, safe_read
from pipeline.model import Attachment, SourceItem


def typed_attachments(
    item: SourceItem, skip: Callable[[Attachment], bool] | None = None, domain: str | None = None
) -> tuple[tuple[v.Attached, ...], list[str]]:
    """Attachments of a typed item (appointment, contact, task...): files, and embedded messages as
    RFC 5322 bytes; with what could not be read, in words."""
    codepage = props.item_codepage(item)
    out: list[v.Attached] = []
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
                out.append(v.ItemAttachment(name or props.text(inner, mapi.PR_SUBJECT) or "item", result.data))
                continue
        data = safe_read(att, warnings)
        if att.method in (mapi.ATTACH_BY_REFERENCE, mapi.ATTACH_BY_REF_RESOLVE, mapi.ATTACH_BY_REF_ONLY) and not data:
            data, name = reference_shortcut(att, name, codepage)
        if not name:
            name = f"attachment-{att.index}"
        maintype, subtype = mime_type(att, name)
        out.append(v.FileAttachment(name, f"{maintype}/{subtype}", data or b"", content_id(att), bool(att.is_inline)))
    return tuple(out), warnings
