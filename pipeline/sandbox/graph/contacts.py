"""A contact's photo over Graph (PUT …/photo/$value), kept as Exchange keeps it: the attachment
ContactPicture.jpg.
"""

from __future__ import annotations

import hashlib

from pipeline.sandbox.graph import items
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply


def photo(g: GraphState, call: Call, mailbox_id: int, ref: str) -> GraphReply:
    """A contact's photo (image/jpeg or image/png, at most 4 MB), kept as Exchange keeps it: an attachment
    named ContactPicture.jpg (IsContactPhoto on the EWS face)."""
    if not call.headers.get("content-type", "").lower().startswith("image/"):
        raise GraphError(415, "UnsupportedMediaType", "A photo takes Content-Type image/jpeg or image/png.")
    if not call.body or len(call.body) > 4 * 1024 * 1024:
        raise GraphError(400, "ErrorInvalidRequest", "A photo is 1 byte to 4 MB.")
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("Contact",))
    with g.store.write() as conn:
        conn.execute("DELETE FROM attachments WHERE item_id=? AND name='ContactPicture.jpg'", (item.id,))
        position = conn.execute(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM attachments WHERE item_id=?", (item.id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO attachments(item_id, position, name, content_type, size, sha256, is_inline, "
            "content_id, content) VALUES (?,?,?,?,?,?,0,'',?)",
            (
                item.id,
                position,
                "ContactPicture.jpg",
                call.headers["content-type"],
                len(call.body),
                hashlib.sha256(call.body).hexdigest(),
                call.body,
            ),
        )
        conn.execute("UPDATE items SET has_attachments=1, version=version+1 WHERE id=?", (item.id,))
    return GraphReply(200)
