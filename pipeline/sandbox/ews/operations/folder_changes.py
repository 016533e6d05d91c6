"""UpdateFolder and MoveFolder: renaming a folder, setting or deleting its extended properties, and moving
it under another parent of the same mailbox.

As Exchange: a name already used under the (new) parent is ErrorFolderExists; the folder class cannot change
(ErrorObjectTypeChanged, as for items); a distinguished folder cannot be moved (ErrorMoveDistinguishedFolder);
a folder cannot be moved under itself or one of its subfolders (ErrorMoveCopyFailed); a folder keeps its id
when it moves. Learn: updatefolder-operation, movefolder-operation.
"""

from __future__ import annotations

import json
import sqlite3

from lxml import etree

from pipeline.sandbox import ids, props
from pipeline.sandbox.ews import extended, shapes, soap
from pipeline.sandbox.ews.context import Context, M, T, folder_refs, local, resolve_folder, to_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.rows import FolderRow, folder_key

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"


def _answer(name: str, conn: sqlite3.Connection, ctx: Context, folder_id: int) -> str:
    folder = ctx.store.folder(conn, folder_id)
    assert folder is not None
    element = shapes.folder_element(folder)
    return soap.success(
        name,
        f'<m:Folders><t:{element}><t:FolderId Id="{ids.folder_id(folder.mailbox_id, folder.id)}" '
        f'ChangeKey="{ids.change_key(folder.version)}"/></t:{element}></m:Folders>',
    )


def _rename(conn: sqlite3.Connection, folder: FolderRow, name: str) -> None:
    if not name.strip():
        raise ResponseError("ErrorInvalidRequest", "The folder must have a display name.")
    clash = conn.execute(
        "SELECT 1 FROM folders WHERE mailbox_id=? AND parent_id IS ? AND name_key=? AND id!=?",
        (folder.mailbox_id, folder.parent_id, folder_key(name), folder.id),
    ).fetchone()
    if clash:
        raise ResponseError("ErrorFolderExists", "A folder with the specified name already exists.")
    conn.execute("UPDATE folders SET name=?, name_key=? WHERE id=?", (name, folder_key(name), folder.id))


def _set_field(conn: sqlite3.Connection, folder: FolderRow, update: etree._Element) -> None:
    path = next((c for c in update if local(c) in ("FieldURI", "ExtendedFieldURI", "IndexedFieldURI")), None)
    if path is None:
        raise ResponseError("ErrorInvalidRequest", "A folder change needs a property path.")
    holder = next((c for c in update if c is not path), None)
    if local(path) == "ExtendedFieldURI":
        try:
            uri = extended.parse_uri(path)
        except props.PropertyError as exc:
            raise ResponseError("ErrorInvalidExtendedProperty", str(exc)) from exc
        if local(update) == "DeleteFolderField":
            conn.execute("DELETE FROM folder_props WHERE folder_id=? AND key=?", (folder.id, uri.key))
            return
        prop = holder.find(f"{T}ExtendedProperty") if holder is not None else None
        if prop is None:
            raise ResponseError("ErrorInvalidRequest", "SetFolderField needs the folder with the property.")
        try:
            _, value = extended.read_values(prop)
        except props.PropertyError as exc:
            raise ResponseError("ErrorInvalidExtendedPropertyValue", str(exc)) from exc
        text = json.dumps(value) if isinstance(value, list) else value
        conn.execute(
            "INSERT OR REPLACE INTO folder_props(folder_id, key, ptype, value) VALUES (?,?,?,?)",
            (folder.id, uri.key, uri.ptype, text),
        )
        return
    field = path.get("FieldURI", "")
    if field == "folder:DisplayName":
        if local(update) == "DeleteFolderField":
            raise ResponseError("ErrorInvalidPropertyDelete", "DisplayName cannot be deleted.")
        _rename(conn, folder, (holder.findtext(f"{T}DisplayName") if holder is not None else None) or "")
        return
    if field == "folder:FolderClass":
        wanted = holder.findtext(f"{T}FolderClass") if holder is not None else None
        if local(update) == "DeleteFolderField" or wanted != folder.folder_class:
            raise ResponseError("ErrorObjectTypeChanged", "The folder class cannot be changed.")
        return
    raise ResponseError("ErrorInvalidPropertySet", f"{field or local(path)} cannot be set on a folder here.")


@operation("UpdateFolder")
def update_folder(ctx: Context, request: etree._Element) -> str:
    changes = request.find(f"{M}FolderChanges")
    messages = []
    with ctx.store.write() as conn:
        for change in changes if changes is not None else []:
            if not isinstance(change.tag, str):
                continue
            try:
                refs = folder_refs(change)
                if not refs:
                    raise ResponseError("ErrorInvalidRequest", "FolderChange needs a folder id.")
                folder = resolve_folder(ctx, conn, refs[0])
                updates = change.find(f"{T}Updates")
                conn.execute("SAVEPOINT folder_change")
                try:
                    for update in updates if updates is not None else []:
                        if isinstance(update.tag, str):
                            _set_field(conn, folder, update)
                except ResponseError:
                    conn.execute("ROLLBACK TO folder_change")
                    raise
                finally:
                    conn.execute("RELEASE folder_change")
                conn.execute(f"UPDATE folders SET version=version+1, changed={_NOW} WHERE id=?", (folder.id,))
                messages.append(_answer("UpdateFolder", conn, ctx, folder.id))
            except ResponseError as exc:
                messages.append(soap.error("UpdateFolder", exc.code, exc.text, "<m:Folders/>"))
    return soap.operation_response("UpdateFolder", messages)


def _is_under(conn: sqlite3.Connection, folder_id: int, ancestor_id: int) -> bool:
    current: int | None = folder_id
    while current is not None:
        if current == ancestor_id:
            return True
        row = conn.execute("SELECT parent_id FROM folders WHERE id=?", (current,)).fetchone()
        current = row[0] if row else None
    return False


@operation("MoveFolder")
def move_folder(ctx: Context, request: etree._Element) -> str:
    refs = folder_refs(request.find(f"{M}FolderIds"))
    messages = []
    with ctx.store.write() as conn:
        try:
            target = to_folder(ctx, conn, request)
        except ResponseError as exc:
            return soap.operation_response(
                "MoveFolder", [soap.error("MoveFolder", exc.code, exc.text, "<m:Folders/>") for _ in refs]
            )
        for ref in refs:
            try:
                folder = resolve_folder(ctx, conn, ref)
                if folder.distinguished_id:
                    raise ResponseError("ErrorMoveDistinguishedFolder", "Distinguished folders cannot be moved.")
                if folder.mailbox_id != target.mailbox_id:
                    raise ResponseError("ErrorCrossMailboxMoveCopy", "Folders cannot move between mailboxes.")
                if _is_under(conn, target.id, folder.id):
                    raise ResponseError(
                        "ErrorMoveCopyFailed", "A folder cannot be moved under itself or one of its subfolders."
                    )
                if folder.parent_id != target.id:
                    clash = conn.execute(
                        "SELECT 1 FROM folders WHERE parent_id=? AND name_key=?", (target.id, folder_key(folder.name))
                    ).fetchone()
                    if clash:
                        raise ResponseError("ErrorFolderExists", "A folder with the specified name already exists.")
                    conn.execute(f"UPDATE folders SET changed={_NOW} WHERE id IN (?, ?)", (folder.parent_id, target.id))
                    conn.execute(
                        f"UPDATE folders SET parent_id=?, version=version+1, changed={_NOW} WHERE id=?",
                        (target.id, folder.id),
                    )
                messages.append(_answer("MoveFolder", conn, ctx, folder.id))
            except ResponseError as exc:
                messages.append(soap.error("MoveFolder", exc.code, exc.text, "<m:Folders/>"))
    return soap.operation_response("MoveFolder", messages)
