"""GetAttachment: file attachments with their content, item attachments with their MIME.

Attachments created through EWS keep their bytes; those derived from an item's MIME are cut from it again.
"""

from __future__ import annotations

import base64
import sqlite3

from lxml import etree

from pipeline.sandbox import mime
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import attachment_ref, item_row
from pipeline.sandbox.ews.registry import operation

_NOT_FOUND = ResponseError("ErrorInvalidAttachmentId", "The attachment could not be found.")


def _content(ctx: Context, conn: sqlite3.Connection, row_id: int, position: int) -> tuple[mime.Attachment, bytes]:
    att = ctx.store.attachment(conn, row_id, position)
    if att is None:
        raise _NOT_FOUND
    if att.content is not None:
        return att, att.content
    rows = ctx.store.load_items(conn, [row_id], with_mime=True)
    item = rows.get(row_id)
    if item is None or item.mime is None:
        raise _NOT_FOUND
    derived = mime.parse(item.mime).attachments
    if position >= len(derived):
        raise _NOT_FOUND
    return att, derived[position].content or b""


@operation("GetAttachment")
def get_attachment(ctx: Context, request: etree._Element) -> str:
    ids_elem = request.find(f"{M}AttachmentIds")
    refs = [c for c in ids_elem if local(c) == "AttachmentId"] if ids_elem is not None else []
    messages = []
    with ctx.store.connection() as conn:
        for ref in refs:
            try:
                item_ref, position = attachment_ref(ctx, ref.get("Id", ""))
                item_row(conn, item_ref.mailbox_id, item_ref.row_id, "1")
                att, data = _content(ctx, conn, item_ref.row_id, position)
                att_id = ref.get("Id", "")
                if att.content_type == "message/rfc822":
                    name = soap.esc(att.name)
                    body = (
                        f'<t:ItemAttachment><t:AttachmentId Id="{att_id}"/><t:Name>{name}</t:Name>'
                        f'<t:Size>{att.size}</t:Size><t:Message><t:MimeContent CharacterSet="UTF-8">'
                        f"{base64.b64encode(data).decode()}</t:MimeContent></t:Message></t:ItemAttachment>"
                    )
                else:
                    cid = f"<t:ContentId>{soap.esc(att.content_id)}</t:ContentId>" if att.content_id else ""
                    body = (
                        f'<t:FileAttachment><t:AttachmentId Id="{att_id}"/><t:Name>{soap.esc(att.name)}</t:Name>'
                        f"<t:ContentType>{soap.esc(att.content_type)}</t:ContentType>{cid}"
                        f"<t:Size>{att.size}</t:Size>"
                        f"<t:IsInline>{'true' if att.is_inline else 'false'}</t:IsInline>"
                        f"<t:Content>{base64.b64encode(data).decode()}</t:Content></t:FileAttachment>"
                    )
                messages.append(soap.success("GetAttachment", f"<m:Attachments>{body}</m:Attachments>"))
            except ResponseError as exc:
                messages.append(soap.error("GetAttachment", exc.code, exc.text, "<m:Attachments/>"))
    return soap.operation_response("GetAttachment", messages)
