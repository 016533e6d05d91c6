"""Messages over Graph: their MIME (`$value`); creating them from JSON (a draft unless PR_MESSAGE_FLAGS
clears the unsent bit at creation) and beta importMime (base64 MIME, a delivered message; X- headers kept as PS_INTERNET_HEADERS properties).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from pipeline.sandbox import mime, props
from pipeline.sandbox.graph import content, items, listing, state
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import ExtValue, FolderRow, NewItem, now_iso


def _file_attachments(values: list[dict[str, Any]]) -> list[mime.Attachment]:
    out = []
    for value in values:
        try:
            data = base64.b64decode(str(value.get("contentBytes") or ""))
        except (binascii.Error, ValueError) as exc:
            raise GraphError(400, "ErrorInvalidAttachment", "contentBytes is not valid base64.") from exc
        out.append(
            mime.Attachment(
                str(value.get("name") or "attachment"),
                str(value.get("contentType") or "application/octet-stream"),
                len(data),
                hashlib.sha256(data).hexdigest(),
                bool(value.get("isInline")),
                str(value.get("contentId") or ""),
                data,
            )
        )
    return out


def _x_headers(data: bytes) -> list[tuple[str, str]]:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out = []
    for match in re.finditer(r"^(X-[\w-]+):[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.MULTILINE | re.IGNORECASE):
        out.append((match.group(1), " ".join(match.group(2).split())))
    return out


def create_message(g: GraphState, call: Call, mailbox_id: int, folder: FolderRow) -> GraphReply:
    body = state.read_body(g, call, "message")
    items.check_size(g, len(call.body))
    ext = items.ext_values(body) + items.mapped_ext(body)
    by_key = {e.key: e for e in ext}
    flags = by_key.get(props.TAG_MESSAGE_FLAGS)
    is_draft = True
    is_read = bool(body.get("isRead", True))
    if flags is not None and isinstance(flags.value, str):
        is_draft = bool(int(flags.value) & props.MSGFLAG_UNSENT)
        if "isRead" not in body:
            is_read = bool(int(flags.value) & props.MSGFLAG_READ)
    klass = by_key.get(props.TAG_MESSAGE_CLASS)
    sent, received = items.sent_received(by_key)
    attachments = _file_attachments(body.get("attachments") or [])
    item = NewItem(
        folder_id=folder.id,
        kind="Message",
        item_class=str(klass.value) if klass else "IPM.Note",
        subject=str(body.get("subject") or ""),
        is_draft=is_draft,
        is_read=is_read,
        sent=sent,
        received=received,
        size=len(call.body),
        mime=None,
        fields={},
        ext=ext,
        attachments=attachments,
        message_id=str(body["internetMessageId"]) if body.get("internetMessageId") else None,
    )
    row = items.insert(g, mailbox_id, item)
    g.stats.add("items_created")
    g.stats.add("graph:drafts_created" if is_draft else "graph:json_nondrafts")
    return json_reply(201, listing.item_json(g, mailbox_id, row, None, None, None))


def import_mime(g: GraphState, call: Call, mailbox_id: int, folder: FolderRow) -> GraphReply:
    if not call.headers.get("content-type", "").lower().startswith("text/plain"):
        raise GraphError(415, "UnsupportedMediaType", "importMime takes Content-Type text/plain (base64 MIME).")
    try:
        data = base64.b64decode(call.body, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string.") from exc
    items.check_size(g, len(data))
    try:
        parsed = mime.parse(data)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a conversion failure
        raise GraphError(400, "ErrorMimeContentConversionFailed", "MIME content conversion failed.") from exc
    # Content conversion promotes X- headers to named properties of PS_INTERNET_HEADERS (MS-OXCMAIL).
    ext = [
        ExtValue(f"name:00020386-0000-0000-c000-000000000046:{name}", "String", value)
        for name, value in _x_headers(data)
    ]
    item = NewItem(
        folder_id=folder.id,
        kind="Message",
        item_class=parsed.item_class,
        subject=parsed.subject,
        is_draft=False,
        is_read=False,
        sent=parsed.date_sent,
        received=parsed.date_received or now_iso(),
        size=len(data),
        mime=data,
        fields={},
        ext=ext,
        attachments=parsed.attachments,
        message_id=parsed.message_id,
    )
    row = items.insert(g, mailbox_id, item)
    g.stats.add("items_created")
    g.stats.add("graph:imported")
    return json_reply(201, listing.item_json(g, mailbox_id, row, None, None, None))


def mime_value(g: GraphState, mailbox_id: int, ref: str) -> GraphReply:
    """`GET …/messages/{id}/$value`: the message's MIME (learn.microsoft.com/graph/outlook-get-mime-message)."""
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("Message", "Item", "PostItem", "MeetingRequest"))
    return GraphReply(200, content.message_mime(g, item), content_type="text/plain")
