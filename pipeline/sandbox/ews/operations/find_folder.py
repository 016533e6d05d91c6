"""FindFolder: children (Shallow) or all descendants (Deep) of each parent, with IndexedPageFolderView paging.

Deep traversal lists folders depth-first in creation order, like Exchange's hierarchy table.
"""

from __future__ import annotations

import sqlite3

from lxml import etree

from pipeline.sandbox import props
from pipeline.sandbox.ews import computed, extended, shapes, soap
from pipeline.sandbox.ews.context import Context, M, folder_refs, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.folder_view import FolderView
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.restriction import RestrictionError, check_size
from pipeline.sandbox.props import PropertyError
from pipeline.sandbox.rows import FolderRow, folder_key


def _matches(folder: FolderRow, restriction: etree._Element | None, view: FolderView) -> bool:
    """Folder restrictions are rare and small: evaluate them in Python, on the folder's typed properties and
    on its extended properties (kept or computed, as GetFolder answers them)."""
    if restriction is None or len(restriction) == 0:
        return True
    check_size(restriction)  # at most 255 expressions, so the recursion below stays shallow
    return _eval(folder, restriction[0], view)


def _eval(folder: FolderRow, node: etree._Element, view: FolderView) -> bool:
    kind = etree.QName(node).localname
    if kind == "And":
        return all(_eval(folder, c, view) for c in node)
    if kind == "Or":
        return any(_eval(folder, c, view) for c in node)
    if kind == "Not":
        if len(node) != 1:
            raise RestrictionError("Not needs exactly one child", "ErrorInvalidRestriction")
        return not _eval(folder, node[0], view)
    path = node[0]
    constant = node.find(f".//{{{soap.T_NS}}}Constant")
    expected = constant.get("Value", "") if constant is not None else ""
    if etree.QName(path).localname == "ExtendedFieldURI":
        try:
            uri = extended.parse_uri(path)
        except PropertyError as exc:
            raise RestrictionError(str(exc), "ErrorInvalidExtendedProperty") from exc
        return _compare_ext(kind, uri.ptype, computed.folder_value(folder, uri.key, view.facts(folder)), expected, node)
    uri_text = path.get("FieldURI", "")
    values = {"folder:DisplayName": folder.name, "folder:FolderClass": folder.folder_class}
    if uri_text not in values:
        raise RestrictionError(f"folder restriction on {uri_text or etree.QName(path).localname} is not supported")
    actual = values[uri_text]
    if kind == "Exists":
        return actual is not None
    if actual is None:
        return False
    if kind == "IsEqualTo":
        return folder_key(actual) == folder_key(expected)
    if kind == "IsNotEqualTo":
        return folder_key(actual) != folder_key(expected)
    if kind == "Contains":
        return folder_key(expected) in folder_key(actual)
    raise RestrictionError(f"folder restriction {kind} is not supported")


_COMPARE = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


def _compare_ext(kind: str, ptype: str, actual: list[str] | str | None, expected: str, node: etree._Element) -> bool:
    """A comparison on a folder's extended property: as for items, a folder without the property never
    matches (not even IsNotEqualTo); strings compare case-insensitively, numbers as numbers."""
    if kind == "Exists":
        return actual is not None
    if actual is None:
        return False
    if isinstance(actual, list):
        return any(_compare_ext(kind, ptype.removesuffix("Array"), v, expected, node) for v in actual)
    if kind == "Contains":
        return expected.casefold() in actual.casefold()
    if kind == "Excludes":
        bitmask = node.find(f"{{{soap.T_NS}}}Bitmask")
        mask = int((bitmask.get("Value") if bitmask is not None else "0") or "0", 0)
        return (int(actual) & mask) == 0
    if kind not in _COMPARE:
        raise RestrictionError(f"folder restriction {kind} is not supported")
    try:
        wanted = props.normalize(ptype, expected)
    except PropertyError as exc:
        raise RestrictionError(str(exc), "ErrorInvalidValueForProperty") from exc
    number = props.numeric(ptype, wanted)
    if number is not None:
        return bool(_COMPARE[kind](float(actual), number))
    return bool(_COMPARE[kind](actual.casefold(), wanted.casefold()))


@operation("FindFolder")
def find_folder(ctx: Context, request: etree._Element) -> str:
    shape = shapes.parse_shape(request.find(f"{M}FolderShape"))
    traversal = request.get("Traversal", "Shallow")
    page = request.find(f"{M}IndexedPageFolderView")
    restriction = request.find(f"{M}Restriction")
    messages = []
    with ctx.store.connection() as conn:
        view = FolderView(ctx.store, conn)
        for ref in folder_refs(request.find(f"{M}ParentFolderIds")):
            try:
                parent = resolve_folder(ctx, conn, ref)
                if traversal == "SoftDeleted":
                    found: list[FolderRow] = []
                else:
                    found = _descendants(ctx, conn, parent, deep=traversal == "Deep")
                found = [f for f in found if _matches(f, restriction, view)]
                messages.append(soap.success("FindFolder", _root_folder(found, page, shape, view, ctx)))
            except ResponseError as exc:
                messages.append(soap.error("FindFolder", exc.code, exc.text))
            except RestrictionError as exc:
                messages.append(soap.error("FindFolder", exc.code, str(exc)))
    return soap.operation_response("FindFolder", messages)


def _descendants(ctx: Context, conn: sqlite3.Connection, parent: FolderRow, deep: bool) -> list[FolderRow]:
    folders = ctx.store.all_folders(conn, parent.mailbox_id)
    children: dict[int | None, list[FolderRow]] = {}
    for folder in folders:
        children.setdefault(folder.parent_id, []).append(folder)
    if not deep:
        return children.get(parent.id, [])
    out: list[FolderRow] = []
    stack = list(reversed(children.get(parent.id, [])))
    while stack:
        folder = stack.pop()
        out.append(folder)
        stack.extend(reversed(children.get(folder.id, [])))
    return out


def _root_folder(
    found: list[FolderRow], page: etree._Element | None, shape: shapes.Shape, view: FolderView, ctx: Context
) -> str:
    total = len(found)
    offset = 0
    limit = ctx.limits.max_page_entries
    if page is not None:
        max_entries = int(page.get("MaxEntriesReturned", limit) or limit)
        limit = min(max_entries, limit)
        offset = int(page.get("Offset", "0") or 0)
        if page.get("BasePoint", "Beginning") == "End":
            offset = max(total - offset - limit, 0)
    chosen = found[offset : offset + limit]
    last = offset + len(chosen) >= total
    body = "".join(view.render(f, shape) for f in chosen)
    return (
        f'<m:RootFolder IndexedPagingOffset="{offset + len(chosen)}" TotalItemsInView="{total}" '
        f'IncludesLastItemInRange="{"true" if last else "false"}">'
        f"<t:Folders>{body}</t:Folders></m:RootFolder>"
    )
