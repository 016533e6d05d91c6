"""DeleteItem: HardDelete removes, SoftDelete moves to Recoverable Items, MoveToDeletedItems to Deleted Items.

All ids of a request are handled in one transaction; an unknown id fails alone with ErrorItemNotFound.
An occurrence of a series is not an item: deleting it records its original start on the master.
"""

from __future__ import annotations

import sqlite3

from lxml import etree

from pipeline.sandbox.ews import series, soap
from pipeline.sandbox.ews.context import Context, M
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import NOT_FOUND, Ref, item_refs, item_row, occurrence, resolve
from pipeline.sandbox.ews.registry import operation


def delete_occurrence(ctx: Context, conn: sqlite3.Connection, ref: Ref) -> None:
    """Record one occurrence as deleted (dropping its exception, if any); the master's version moves on."""
    master = ctx.store.load_items(conn, [ref.row_id]).get(ref.row_id)
    if master is None or master.mailbox_id != ref.mailbox_id:
        raise NOT_FOUND
    _, original = occurrence(master, ref)
    exceptions = series.Exceptions.load(master.exceptions)
    exceptions.modified.pop(series.iso(original), None)
    exceptions.deleted.append(series.iso(original))
    ctx.store.set_exceptions(conn, ref.row_id, exceptions.dump())
    conn.execute(
        "UPDATE items SET version=version+1, modified=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
        (ref.row_id,),
    )


@operation("DeleteItem")
def delete_item(ctx: Context, request: etree._Element) -> str:
    delete_type = request.get("DeleteType", "HardDelete")
    ids_elem = request.find(f"{M}ItemIds")
    refs = item_refs(ids_elem)
    messages = []
    deleted = 0
    with ctx.store.write() as conn:
        for ref in refs:
            try:
                found = resolve(ctx, ref)
                if found.is_occurrence:
                    delete_occurrence(ctx, conn, found)
                    deleted += 1
                    messages.append(soap.success("DeleteItem"))
                    continue
                mailbox_id, row_id = found.mailbox_id, found.row_id
                row = item_row(conn, mailbox_id, row_id, "folder_id")
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
