"""DeleteItem: HardDelete removes, SoftDelete moves to Recoverable Items, MoveToDeletedItems to Deleted Items.

All ids of a request are handled in one transaction; an unknown id fails alone with ErrorItemNotFound.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox import soap
from pipeline.sandbox.operations import Context, M, ResponseError, local, operation
from pipeline.sandbox.operations.item_refs import NOT_FOUND, parse_ref


@operation("DeleteItem")
def delete_item(ctx: Context, request: etree._Element) -> str:
    delete_type = request.get("DeleteType", "HardDelete")
    ids_elem = request.find(f"{M}ItemIds")
    refs = [c for c in ids_elem if local(c) == "ItemId"] if ids_elem is not None else []
    messages = []
    deleted = 0
    with ctx.store.write() as conn:
        for ref in refs:
            try:
                mailbox_id, row_id = parse_ref(ctx, ref)
                row = conn.execute(
                    "SELECT folder_id FROM items WHERE id=? AND mailbox_id=?", (row_id, mailbox_id)
                ).fetchone()
                if row is None:
                    raise NOT_FOUND
                target = None
                if delete_type == "SoftDelete":
                    target = ctx.store.distinguished(conn, mailbox_id, "recoverableitemsdeletions")
                elif delete_type == "MoveToDeletedItems":
                    target = ctx.store.distinguished(conn, mailbox_id, "deleteditems")
                    if target is not None and target.id == row[0]:
                        target = ctx.store.distinguished(conn, mailbox_id, "recoverableitemsdeletions")
                if target is None:
                    ctx.store.delete_items(conn, [row_id])
                else:
                    ctx.store.move_items(conn, [row_id], target.id)
                deleted += 1
                messages.append(soap.success("DeleteItem"))
            except ResponseError as exc:
                messages.append(soap.error("DeleteItem", exc.code, exc.text))
    ctx.count("items_deleted", deleted)
    return soap.operation_response("DeleteItem", messages)
