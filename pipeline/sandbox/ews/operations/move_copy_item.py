"""MoveItem and CopyItem: items into another folder of the same mailbox, each under a new id.

As Exchange: the moved or copied item is a new item in its destination (a new ItemId, answered unless
ReturnNewItemIds is false, and a new IMAP number); an occurrence of a series cannot be moved or copied
(ErrorCalendarCannotMoveOrCopyOccurrence); a destination that cannot be resolved is ErrorToFolderNotFound;
a destination in another mailbox is ErrorCrossMailboxMoveCopy (the sandbox grants no delegate access, so
only the acting mailbox can be named anyway). Learn: moveitem-operation, copyitem-operation.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews import item_refs, soap
from pipeline.sandbox.ews.context import Context, M, to_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation


def _move_or_copy(ctx: Context, request: etree._Element, name: str) -> str:
    refs = item_refs_of(request)
    return_ids = (request.findtext(f"{M}ReturnNewItemIds") or "true").strip().lower() != "false"
    messages = []
    with ctx.store.write() as conn:
        try:
            target = to_folder(ctx, conn, request)
        except ResponseError as exc:
            return soap.operation_response(name, [soap.error(name, exc.code, exc.text, "<m:Items/>") for _ in refs])
        for elem in refs:
            try:
                ref = item_refs.resolve(ctx, elem)
                if ref.is_occurrence:
                    raise ResponseError(
                        "ErrorCalendarCannotMoveOrCopyOccurrence",
                        "Occurrences of a recurring series cannot be moved or copied.",
                    )
                row = item_refs.item_row(conn, ref.mailbox_id, ref.row_id, "kind, folder_id")
                if ref.mailbox_id != target.mailbox_id:
                    raise ResponseError(
                        "ErrorCrossMailboxMoveCopy", "Moving or copying items between mailboxes is not supported here."
                    )
                if name == "MoveItem":
                    (new_row,) = ctx.store.move_items(conn, [ref.row_id], target.id)
                else:
                    new_row = ctx.store.copy_item(conn, ref.row_id, target.id)
                version = conn.execute("SELECT version FROM items WHERE id=?", (new_row,)).fetchone()[0]
                inner = ""
                if return_ids:
                    inner = (
                        f'<t:{row[0]}><t:ItemId Id="{ids.item_id(target.mailbox_id, new_row)}" '
                        f'ChangeKey="{ids.change_key(version, new_row)}"/></t:{row[0]}>'
                    )
                messages.append(soap.success(name, f"<m:Items>{inner}</m:Items>"))
            except ResponseError as exc:
                messages.append(soap.error(name, exc.code, exc.text, "<m:Items/>"))
    ctx.count(
        "items_moved" if name == "MoveItem" else "items_copied",
        sum(1 for m in messages if 'ResponseClass="Success"' in m),
    )
    return soap.operation_response(name, messages)


def item_refs_of(request: etree._Element) -> list[etree._Element]:
    return item_refs.item_refs(request.find(f"{M}ItemIds"))


@operation("MoveItem")
def move_item(ctx: Context, request: etree._Element) -> str:
    return _move_or_copy(ctx, request, "MoveItem")


@operation("CopyItem")
def copy_item(ctx: Context, request: etree._Element) -> str:
    return _move_or_copy(ctx, request, "CopyItem")
