"""GetItem: items by id in the asked-for shape: MimeContent byte-equal to what was stored (with the attachments
added since as further parts), extended props;
occurrences of a series by OccurrenceItemId (InstanceIndex) or by their own occurrence ItemId.

One response message per id; an unknown id is ErrorItemNotFound for that id only.
"""

from __future__ import annotations

import sqlite3

from lxml import etree

from pipeline.sandbox.ews import mime_content, series, shapes, soap
from pipeline.sandbox.ews.context import Context, M
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import NOT_FOUND, Ref, item_refs, occurrence, resolve
from pipeline.sandbox.ews.operations.find_item import load_for_shape
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.props import PropertyError
from pipeline.sandbox.rows import ItemRow


def _current_attachments(ctx: Context, conn: sqlite3.Connection, row: ItemRow) -> None:
    """Attachments added after the item's MIME was stored join its MimeContent (mime_content.py)."""
    if row.mime is None or not row.has_attachments:
        return
    rows = conn.execute(
        "SELECT position, sha256, content IS NOT NULL FROM attachments WHERE item_id=? ORDER BY position", (row.id,)
    ).fetchall()
    if not any(r[2] for r in rows):  # all cut from the MIME itself (CreateItem keeps no copy of those)
        return
    stored = [(r[0], r[1]) for r in rows]
    extra = [ctx.store.attachment(conn, row.id, position) for position in mime_content.added(row.mime, stored)]
    row.mime = mime_content.with_attachments(row.mime, [a for a in extra if a is not None and a.content is not None])


@operation("GetItem")
def get_item(ctx: Context, request: etree._Element) -> str:
    ids_elem = request.find(f"{M}ItemIds")
    refs = item_refs(ids_elem)
    try:
        shape = shapes.parse_shape(request.find(f"{M}ItemShape"))
    except PropertyError as exc:
        return soap.operation_response(
            "GetItem",
            [soap.error("GetItem", "ErrorInvalidExtendedProperty", str(exc), "<m:Items/>") for _ in refs],
        )
    resolved: list[Ref | ResponseError] = []
    for ref in refs:
        try:
            resolved.append(resolve(ctx, ref))
        except ResponseError as exc:
            resolved.append(exc)
    wanted = [r.row_id for r in resolved if isinstance(r, Ref)]
    any_occurrence = any(isinstance(r, Ref) and r.is_occurrence for r in resolved)
    with ctx.store.connection() as conn:
        rows = load_for_shape(ctx, conn, wanted, shape, with_fields=any_occurrence)
        if shape.include_mime:
            for stored in rows.values():
                _current_attachments(ctx, conn, stored)
    messages = []
    for entry in resolved:
        if isinstance(entry, ResponseError):
            messages.append(soap.error("GetItem", entry.code, entry.text, "<m:Items/>"))
            continue
        row = rows.get(entry.row_id)
        if row is None or row.mailbox_id != entry.mailbox_id:
            messages.append(soap.error("GetItem", NOT_FOUND.code, NOT_FOUND.text, "<m:Items/>"))
            continue
        if entry.is_occurrence:
            try:
                found, original = occurrence(row, entry)
            except ResponseError as exc:
                messages.append(soap.error("GetItem", exc.code, exc.text, "<m:Items/>"))
                continue
            row = series.occurrence_row(row, found, original)
        messages.append(soap.success("GetItem", f"<m:Items>{shapes.item_xml(row, shape, entry.mailbox_id)}</m:Items>"))
    ctx.count("items_read", len(rows))
    return soap.operation_response("GetItem", messages)
