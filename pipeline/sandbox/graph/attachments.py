"""Attachments over Graph: the list of a message's attachments, and large ones through createUploadSession,
then PUTs by Content-Range to its uploadUrl (no token, as on Graph), the last one making the attachment.

As Graph documents (learn.microsoft.com/graph/outlook-large-attachments): an upload session is for a file
of 3 MB to 150 MB (a smaller one is refused: it goes in one POST), and the PUT of the last range answers
201 with the new attachment's URL in `Location`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from typing import Any

from pipeline.sandbox import ids
from pipeline.sandbox.graph import items, shapes, state
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.uploads import MIN_BYTES, UPLOAD_PREFIX, Session, UploadError
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, error_reply, json_reply
from pipeline.sandbox.mime import Attachment
from pipeline.sandbox.store import append_attachment


def upload_session(g: GraphState, call: Call, mailbox_id: int, ref: str) -> GraphReply:
    body = state.read_body(g, call)
    attachment = body.get("AttachmentItem") or {}
    state.check_body(g, "attachmentItem", attachment)
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("Message",))
    try:
        size = int(attachment.get("size") or 0)
    except (TypeError, ValueError) as exc:
        raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem.size must be a number.") from exc
    if 0 < size < MIN_BYTES:
        raise GraphError(
            400,
            "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
            "Attachment size must be greater than the minimum size.",
        )
    try:
        token = g.uploads.open(
            Session(
                call.app,
                call.segments[1].lower(),
                mailbox_id,
                item.id,
                str(attachment.get("name") or "attachment"),
                str(attachment.get("contentType") or "application/octet-stream"),
                size,
                bool(attachment.get("isInline")),
                str(attachment.get("contentId") or ""),
                time.monotonic() + 900,
                call.version,
                call.base,
            )
        )
    except UploadError as exc:
        raise GraphError(exc.status, exc.code, str(exc)) from exc
    g.stats.add("graph:upload_sessions")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=900)
    return json_reply(
        201,
        {
            "uploadUrl": f"{call.base}{UPLOAD_PREFIX}{token}",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "nextExpectedRanges": ["0-"],
        },
    )


def upload(g: GraphState, token: str, headers: dict[str, str], data: bytes) -> GraphReply:
    """PUT to an uploadUrl (pre-authenticated: no bearer token, as on Graph); the bytes count against the
    mailbox's upload budget like any other."""
    session = g.uploads.owner(token)
    if session is not None:
        throttled = g.throttle.enter(session.app, session.mailbox, len(data))
        if throttled is not None:
            g.stats.add(f"graph:429:{throttled.reason}")
            return throttled.reply()
    try:
        done = g.uploads.put(token, headers.get("content-range", ""), data)
    except UploadError as exc:
        return error_reply(GraphError(exc.status, exc.code, str(exc)))
    finally:
        if session is not None:
            g.throttle.leave(session.app, session.mailbox)
    g.stats.add("graph:upload_bytes", len(data))
    if done is None:
        return json_reply(200, {"nextExpectedRanges": [g.uploads.next_expected(token)]})
    content = bytes(done.received)
    with g.store.write() as conn:
        position = append_attachment(
            conn,
            done.item_id,
            Attachment(
                done.name,
                done.content_type,
                len(content),
                hashlib.sha256(content).hexdigest(),
                done.is_inline,
                done.content_id,
                content,
            ),
        )
        conn.execute(
            "UPDATE items SET has_attachments=1, size=size+?, version=version+1 WHERE id=?",
            (len(content), done.item_id),
        )
    location = (
        f"{done.base}/{done.version}/users/{done.mailbox}/messages/"
        f"{shapes.graph_id(ids.item_id(done.mailbox_id, done.item_id))}/attachments/"
        f"{shapes.attachment_id(done.mailbox_id, done.item_id, position)}"
    )
    return GraphReply(201, headers=[("Location", location)])


def listing(g: GraphState, call: Call, mailbox_id: int, ref: str, attachment: str | None = None) -> GraphReply:
    """`GET …/messages/{id}/attachments`: every attachment as fileAttachment (itemAttachment for an attached
    message), contentBytes included, as learn.microsoft.com/graph/api/message-list-attachments shows; with
    `attachment` (`…/attachments/{id}`, where an upload session's Location points) that one alone."""
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("Message", "Item", "PostItem", "MeetingRequest"))
        rows = conn.execute(
            "SELECT position, name, content_type, size, is_inline, content_id, content "
            "FROM attachments WHERE item_id=? ORDER BY position",
            (item.id,),
        ).fetchall()
    if attachment is not None:
        rows = [r for r in rows if shapes.attachment_id(mailbox_id, item.id, r[0]) == attachment]
        if not rows:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    values = []
    for position, name, content_type, size, is_inline, content_id, content in rows:
        embedded = content_type == "message/rfc822"
        value: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.itemAttachment" if embedded else "#microsoft.graph.fileAttachment",
            "id": shapes.attachment_id(mailbox_id, item.id, position),
            "lastModifiedDateTime": item.modified,
            "name": name,
            "contentType": content_type,
            "size": size,
            "isInline": bool(is_inline),
        }
        if not embedded:
            value.update(
                {
                    "contentId": content_id or None,
                    "contentLocation": None,
                    "contentBytes": base64.b64encode(content or b"").decode("ascii"),
                }
            )
        state.check_answer(g, "itemAttachment" if embedded else "fileAttachment", value)
        values.append(value)
    return json_reply(200, values[0] if attachment is not None else {"value": values})
