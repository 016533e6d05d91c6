"""A message's MIME as the Graph face gives it (`$value`, internetMessageHeaders): the MIME kept from an
import, or one made from what the store keeps of a message created from JSON, as Exchange converts a MAPI
message when a client asks for its MIME.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.rows import ItemRow


def message_mime(g: GraphState, item: ItemRow) -> bytes:
    """The item's MIME: as imported, or made of its subject, dates, Message-ID, an empty text body and
    its attachments."""
    with g.store.connection() as conn:
        row = g.store.load_items(conn, [item.id], with_mime=True, ext_keys=()).get(item.id)
        attachments = conn.execute(
            "SELECT name, content_type, is_inline, content_id, content FROM attachments "
            "WHERE item_id=? ORDER BY position",
            (item.id,),
        ).fetchall()
    if row is not None and row.mime:
        return row.mime
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = item.subject or ""
    when = item.sent or item.received or item.created
    if when:
        message["Date"] = email.utils.format_datetime(
            dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(dt.UTC)
        )
    if item.message_id:
        message["Message-ID"] = item.message_id
    message.set_content("")
    for name, content_type, is_inline, content_id, content in attachments:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        message.add_attachment(
            content or b"",
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=name,
            disposition="inline" if is_inline else "attachment",
            cid=f"<{content_id}>" if content_id else None,
        )
    return message.as_bytes()


def internet_headers(data: bytes) -> list[dict[str, str]]:
    """internetMessageHeaders: every header of the MIME's top part, in order, unfolded."""
    head = BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    return [{"name": name, "value": " ".join(str(value).split())} for name, value in head.items()]
