"""CreateFolder: new folders under one parent, one response message per folder.

A name already used under that parent (compared case-insensitively, as Exchange does) is ErrorFolderExists.
Names are kept exactly as given (surrounding spaces too): Exchange documents no trimming.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox import ids, search_folders
from pipeline.sandbox.ews import shapes, soap
from pipeline.sandbox.ews.context import Context, M, T, folder_refs, local, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.restriction import RestrictionError, to_sql
from pipeline.sandbox.store import FolderExists

DEFAULT_CLASSES = {
    "Folder": "IPF.Note",
    "CalendarFolder": "IPF.Appointment",
    "ContactsFolder": "IPF.Contact",
    "TasksFolder": "IPF.Task",
    "SearchFolder": None,
}


@operation("CreateFolder")
def create_folder(ctx: Context, request: etree._Element) -> str:
    refs = folder_refs(request.find(f"{M}ParentFolderId"))
    new_folders = list(request.find(f"{M}Folders") if request.find(f"{M}Folders") is not None else [])
    messages = []
    with ctx.store.write() as conn:
        try:
            if not refs:
                raise ResponseError("ErrorInvalidRequest", "ParentFolderId is required.")
            parent = resolve_folder(ctx, conn, refs[0])
        except ResponseError as exc:
            return soap.operation_response(
                "CreateFolder",
                [soap.error("CreateFolder", exc.code, exc.text, "<m:Folders/>") for _ in new_folders],
            )
        for elem in new_folders:
            kind = local(elem)
            name = elem.findtext(f"{T}DisplayName") or ""
            folder_class = elem.findtext(f"{T}FolderClass") or DEFAULT_CLASSES.get(kind, "IPF.Note")
            if not name.strip():
                messages.append(
                    soap.error(
                        "CreateFolder",
                        "ErrorInvalidRequest",
                        "The folder must have a display name.",
                        "<m:Folders/>",
                    )
                )
                continue
            try:
                criteria = _search_parameters(ctx, conn, elem) if kind == "SearchFolder" else None
            except ResponseError as exc:
                messages.append(soap.error("CreateFolder", exc.code, exc.text, "<m:Folders/>"))
                continue
            try:
                folder = ctx.store.create_folder(conn, parent.mailbox_id, parent.id, name, folder_class)
            except FolderExists:
                messages.append(
                    soap.error(
                        "CreateFolder",
                        "ErrorFolderExists",
                        "A folder with the specified name already exists.",
                        "<m:Folders/>",
                    )
                )
                continue
            if kind == "SearchFolder":
                folder.is_search = True
                conn.execute("UPDATE folders SET is_search=1 WHERE id=?", (folder.id,))
                if criteria is not None:
                    restriction, bases, traversal = criteria
                    search_folders.save(conn, search_folders.SearchParameters(folder.id, restriction, bases, traversal))
            element = shapes.folder_element(folder)
            messages.append(
                soap.success(
                    "CreateFolder",
                    f'<m:Folders><t:{element}><t:FolderId Id="{ids.folder_id(folder.mailbox_id, folder.id)}" '
                    f'ChangeKey="{ids.change_key(folder.version)}"/></t:{element}></m:Folders>',
                )
            )
    ctx.count("folders_created", sum(1 for m in messages if 'ResponseClass="Success"' in m))
    return soap.operation_response("CreateFolder", messages)


def _search_parameters(ctx: Context, conn, elem: etree._Element) -> tuple[str, tuple[int, ...], str] | None:
    """A SearchFolder's SearchParameters: its restriction (checked as FindItem would evaluate it), its base
    folders (each resolved with the access checks of any folder reference) and the traversal (Shallow by
    default, as the schema's SearchFolderTraversalType leaves it optional)."""
    parameters = elem.find(f"{T}SearchParameters")
    if parameters is None:
        return None
    restriction = parameters.find(f"{T}Restriction")
    try:
        to_sql(restriction)
    except RestrictionError as exc:
        raise ResponseError(exc.code, str(exc)) from exc
    bases = tuple(resolve_folder(ctx, conn, ref).id for ref in folder_refs(parameters.find(f"{T}BaseFolderIds")))
    if not bases:
        raise ResponseError("ErrorInvalidRequest", "A search folder needs at least one base folder.")
    return etree.tostring(restriction).decode(), bases, parameters.get("Traversal", "Shallow")
