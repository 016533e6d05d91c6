"""DeleteFolder: removes a folder with its subfolders and items, or moves it under Deleted Items.

Distinguished folders cannot be deleted (ErrorDeleteDistinguishedFolder), as on Exchange.
"""

from __future__ import annotations

import sqlite3

from lxml import etree

from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, folder_refs, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation


def _subtree(conn: sqlite3.Connection, folder_id: int) -> list[int]:
    found = [folder_id]
    index = 0
    while index < len(found):
        found += [r[0] for r in conn.execute("SELECT id FROM folders WHERE parent_id=?", (found[index],))]
        index += 1
    return found


@operation("DeleteFolder")
def delete_folder(ctx: Context, request: etree._Element) -> str:
    delete_type = request.get("DeleteType", "HardDelete")
    messages = []
    with ctx.store.write() as conn:
        for ref in folder_refs(request.find(f"{M}FolderIds")):
            try:
                folder = resolve_folder(ctx, conn, ref)
                if folder.distinguished_id:
                    raise ResponseError("ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
                trash = ctx.store.distinguished(conn, folder.mailbox_id, "deleteditems")
                if delete_type == "MoveToDeletedItems" and trash is not None and folder.parent_id != trash.id:
                    conn.execute("UPDATE folders SET parent_id=?, version=version+1 WHERE id=?", (trash.id, folder.id))
                else:
                    ids = _subtree(conn, folder.id)
                    marks = ",".join("?" * len(ids))
                    items = [r[0] for r in conn.execute(f"SELECT id FROM items WHERE folder_id IN ({marks})", ids)]
                    ctx.store.delete_items(conn, items)
                    conn.execute(f"DELETE FROM folders WHERE id IN ({marks})", ids)
                messages.append(soap.success("DeleteFolder"))
            except ResponseError as exc:
                messages.append(soap.error("DeleteFolder", exc.code, exc.text))
    return soap.operation_response("DeleteFolder", messages)
