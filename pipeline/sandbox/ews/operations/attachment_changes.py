"""CreateAttachment and DeleteAttachment: adding file or item attachments to an existing item, removing them.

As Exchange: each answer carries the attachment id with the root item's id and new ChangeKey (the item's
ChangeKey moves on with every change, HasAttachments follows what is left); an attachment marked
IsContactPhoto sets the contact's HasPicture; an item that would grow past the item size limit is
ErrorMessageSizeExceeded; an attachment id that names nothing is ErrorInvalidAttachmentId. GetItem's
MimeContent shows the attachments added here (ews/mime_content.py); one deleted from those that came with the
item's MIME stays in it (the sandbox does not rewrite the stored MIME).
Learn: createattachment-operation, deleteattachment-operation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, T, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import attachment_ref, item_row, parse_ref
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.shapes import attachment_id
from pipeline.sandbox.mime import Attachment
from pipeline.sandbox.store import append_attachment

_NO_ATTACHMENT = ResponseError("ErrorInvalidAttachmentId", "The attachment could not be found.")


def _truthy(elem: etree._Element, name: str) -> bool:
    return (elem.findtext(f"{T}{name}") or "").strip().lower() in ("true", "1")


def _file_or_item(elem: etree._Element) -> tuple[Attachment, bool]:
    """The attachment an element of the request describes, and whether it is a contact photo."""
    name = elem.findtext(f"{T}Name") or ""
    if local(elem) == "FileAttachment":
        try:
            content = base64.b64decode(elem.findtext(f"{T}Content") or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ResponseError("ErrorInvalidRequest", "The attachment content is not base64.") from exc
        att = Attachment(
            name,
            elem.findtext(f"{T}ContentType") or "application/octet-stream",
            len(content),
            hashlib.sha256(content).hexdigest(),
            _truthy(elem, "IsInline"),
            elem.findtext(f"{T}ContentId") or "",
            content,
        )
        return att, _truthy(elem, "IsContactPhoto")
    item = next(
        (
            c
            for c in elem
            if isinstance(c.tag, str)
            and local(c)
            not in ("Name", "ContentType", "ContentId", "ContentLocation", "Size", "LastModifiedTime", "IsInline")
        ),
        None,
    )
    if item is None:
        raise ResponseError("ErrorMissingItemForCreateItemAttachment", "An item attachment needs its item.")
    mime_text = item.findtext(f"{T}MimeContent")
    if mime_text:
        try:
            content = base64.b64decode(mime_text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ResponseError("ErrorInvalidRequest", "The item attachment's MimeContent is not base64.") from exc
    else:
        subject = (item.findtext(f"{T}Subject") or name).replace("\r", " ").replace("\n", " ")
        content = f"Subject: {subject}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    return Attachment(
        name or "Untitled", "message/rfc822", len(content), hashlib.sha256(content).hexdigest(), False, "", content
    ), False


def _touch(conn: sqlite3.Connection, row_id: int, grow: int) -> int:
    """The item's size, HasAttachments and version after a change of its attachments; its new version."""
    conn.execute(
        "UPDATE items SET size=max(size+?, 0), has_attachments=EXISTS(SELECT 1 FROM attachments "
        "WHERE item_id=items.id), version=version+1, modified=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
        (grow, row_id),
    )
    return int(conn.execute("SELECT version FROM items WHERE id=?", (row_id,)).fetchone()[0])


@operation("CreateAttachment")
def create_attachment(ctx: Context, request: etree._Element) -> str:
    parent = request.find(f"{M}ParentItemId")
    holder = request.find(f"{M}Attachments")
    wanted = [c for c in holder if isinstance(c.tag, str)] if holder is not None else []
    messages = []
    with ctx.store.write() as conn:
        try:
            if parent is None:
                raise ResponseError("ErrorInvalidRequest", "ParentItemId is required.")
            mailbox_id, row_id = parse_ref(ctx, parent)
            row = item_row(conn, mailbox_id, row_id, "kind, size, fields")
        except ResponseError as exc:
            return soap.operation_response(
                "CreateAttachment",
                [soap.error("CreateAttachment", exc.code, exc.text, "<m:Attachments/>") for _ in wanted or [0]],
            )
        kind, size = row[0], row[1]
        root = ids.item_id(mailbox_id, row_id)
        for elem in wanted:
            try:
                att, photo = _file_or_item(elem)
                if size + att.size > ctx.limits.max_item_bytes:
                    raise ResponseError("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
                position = append_attachment(conn, row_id, att)
                if photo and kind == "Contact":
                    fields = json.loads(conn.execute("SELECT fields FROM items WHERE id=?", (row_id,)).fetchone()[0])
                    fields["HasPicture"] = "<t:HasPicture>true</t:HasPicture>"
                    conn.execute("UPDATE items SET fields=? WHERE id=?", (json.dumps(fields), row_id))
                size += att.size
                version = _touch(conn, row_id, att.size)
                element = "ItemAttachment" if att.content_type == "message/rfc822" else "FileAttachment"
                messages.append(
                    soap.success(
                        "CreateAttachment",
                        f'<m:Attachments><t:{element}><t:AttachmentId Id="{attachment_id(root, position)}" '
                        f'RootItemId="{root}" RootItemChangeKey="{ids.change_key(version, row_id)}"/>'
                        f"</t:{element}></m:Attachments>",
                    )
                )
            except ResponseError as exc:
                messages.append(soap.error("CreateAttachment", exc.code, exc.text, "<m:Attachments/>"))
    return soap.operation_response("CreateAttachment", messages)


@operation("DeleteAttachment")
def delete_attachment(ctx: Context, request: etree._Element) -> str:
    holder = request.find(f"{M}AttachmentIds")
    refs = [c for c in holder if isinstance(c.tag, str) and local(c) == "AttachmentId"] if holder is not None else []
    messages = []
    with ctx.store.write() as conn:
        for ref in refs:
            try:
                item_ref, position = attachment_ref(ctx, ref.get("Id", ""))
                found = conn.execute(
                    "SELECT attachments.size FROM attachments JOIN items ON items.id=attachments.item_id "
                    "WHERE item_id=? AND position=? AND items.mailbox_id=?",
                    (item_ref.row_id, position, item_ref.mailbox_id),
                ).fetchone()
                if found is None:
                    raise _NO_ATTACHMENT
                conn.execute("DELETE FROM attachments WHERE item_id=? AND position=?", (item_ref.row_id, position))
                version = _touch(conn, item_ref.row_id, -int(found[0]))
                root = ids.item_id(item_ref.mailbox_id, item_ref.row_id)
                messages.append(
                    soap.success(
                        "DeleteAttachment",
                        f'<m:RootItemId RootItemId="{root}" RootItemChangeKey="{ids.change_key(version, item_ref.row_id)}"/>',
                    )
                )
            except ResponseError as exc:
                messages.append(soap.error("DeleteAttachment", exc.code, exc.text))
    return soap.operation_response("DeleteAttachment", messages)
