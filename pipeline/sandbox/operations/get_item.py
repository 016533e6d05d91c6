"""GetItem: items by id in the asked-for shape: MimeContent byte-equal to what was stored, extended props.

One response message per id; an unknown id is ErrorItemNotFound for that id only.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox import shapes, soap
from pipeline.sandbox.operations import Context, M, ResponseError, local, operation
from pipeline.sandbox.operations.find_item import needs_mime
from pipeline.sandbox.operations.item_refs import NOT_FOUND, parse_ref
from pipeline.sandbox.props import PropertyError


@operation("GetItem")
def get_item(ctx: Context, request: etree._Element) -> str:
    ids_elem = request.find(f"{M}ItemIds")
    refs = [c for c in ids_elem if local(c) == "ItemId"] if ids_elem is not None else []
    try:
        shape = shapes.parse_shape(request.find(f"{M}ItemShape"))
    except PropertyError as exc:
        return soap.operation_response(
            "GetItem",
            [soap.error("GetItem", "ErrorInvalidExtendedProperty", str(exc), "<m:Items/>") for _ in refs],
        )
    resolved: list[tuple[int, int] | ResponseError] = []
    for ref in refs:
        try:
            resolved.append(parse_ref(ctx, ref))
        except ResponseError as exc:
            resolved.append(exc)
    wanted = [r[1] for r in resolved if isinstance(r, tuple)]
    with ctx.store.connection() as conn:
        rows = ctx.store.load_items(
            conn,
            wanted,
            with_mime=needs_mime(shape),
            ext_keys=shape.ext_keys,
            with_attachments=shape.wants("Attachments"),
            with_fields=shape.needs_fields,
        )
    messages = []
    for entry in resolved:
        if isinstance(entry, ResponseError):
            messages.append(soap.error("GetItem", entry.code, entry.text, "<m:Items/>"))
            continue
        row = rows.get(entry[1])
        if row is None or row.mailbox_id != entry[0]:
            messages.append(soap.error("GetItem", NOT_FOUND.code, NOT_FOUND.text, "<m:Items/>"))
            continue
        messages.append(
            soap.success("GetItem", f"<m:Items>{shapes.item_xml(row, shape, entry[0])}</m:Items>")
        )
    ctx.count("items_read", len(rows))
    return soap.operation_response("GetItem", messages)
