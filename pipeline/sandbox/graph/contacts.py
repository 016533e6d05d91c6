"""A contact's photo over Graph (PUT …/photo/$value), kept as Exchange keeps it: the attachment
ContactPicture.jpg.
"""

from __future__ import annotations

from hashlib import sha256

from pipeline.sandbox.graph import items
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply
from pipeline.sandbox.mime import Attachment
from pipeline.sandbox.store import append_attachment


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
        photo = call.body
        append_attachment(
            conn,
            item.id,
            Attachment(
                "ContactPicture.jpg", call.headers["content-type"], len(photo), sha256(photo).hexdigest(), content=photo
            ),
        )
        conn.execute("UPDATE items SET has_attachments=1, version=version+1 WHERE id=?", (item.id,))
    return GraphReply(200)
