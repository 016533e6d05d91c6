"""Large attachments over Graph: createUploadSession, then PUTs by Content-Range to its uploadUrl (no
token, as on Graph), the last one making the attachment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

from pipeline.sandbox.graph import items, metadata, state
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.uploads import UPLOAD_PREFIX, Session, UploadError
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, error_reply, json_reply


def upload_session(g: GraphState, call: Call, mailbox_id: int, ref: str) -> GraphReply:
    body = state.read_body(g, call)
    attachment = body.get("AttachmentItem") or {}
    unknown = metadata.unknown_properties("attachmentItem", attachment)
    if unknown:
        g.stats.add("schema_violations")
        raise GraphError(400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type "
                                                 "'microsoft.graph.attachmentItem'.")
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("Message",))
    try:
        token = g.uploads.open(Session(call.app, call.segments[1].lower(), mailbox_id, item.id, str(attachment.get("name") or "attachment"),
                                          str(attachment.get("contentType") or "application/octet-stream"),
                                          int(attachment.get("size") or 0), bool(attachment.get("isInline")),
                                          str(attachment.get("contentId") or ""), time.monotonic() + 900))
    except UploadError as exc:
        raise GraphError(exc.status, exc.code, str(exc)) from exc
    g.stats.add("graph:upload_sessions")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=900)
    return json_reply(201, {"uploadUrl": f"{call.base}{UPLOAD_PREFIX}{token}",
                       "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "nextExpectedRanges": ["0-"]})


def upload(g: GraphState, token: str, headers: dict[str, str], data: bytes) -> GraphReply:
    """PUT to an uploadUrl (pre-authenticated: no bearer token, as on Graph); the bytes count against the
    mailbox's upload budget like any other."""
    session = g.uploads.owner(token)
    if session is not None:
        throttled = g.throttle.enter(session.app, session.mailbox, len(data))
        if throttled is not None:
            g.stats.add(f"graph:429:{throttled.reason}")
            return error_reply(GraphError(429, "ApplicationThrottled", f"Application is over its {throttled.reason} "
                                     "limit.", [("Retry-After", str(int(throttled.retry_after)))]))
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
        position = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE item_id=?",
                                (done.item_id,)).fetchone()[0]
        conn.execute("INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
                     "content_id, content) VALUES (?,?,?,?,?,?,?,?,?)",
                     (done.item_id, position, done.name, done.content_type, len(content),
                      hashlib.sha256(content).hexdigest(), int(done.is_inline), done.content_id, content))
        conn.execute("UPDATE items SET has_attachments=1, size=size+?, version=version+1 WHERE id=?",
                     (len(content), done.item_id))
    return json_reply(201, {"name": done.name, "size": len(content)})
