"""FindItem: items of each parent folder filtered by a Restriction, sorted, paged (at most 1000 per page).

Filtering and paging run in SQL so a folder of many thousand items pages as fast as a small one. With a
search lag, a restricted FindItem does not see items written in the last `search_lag_s` seconds (as
Exchange's restriction results can trail a commit); a FindItem without a Restriction always sees them.
"""

from __future__ import annotations

import sqlite3
import time

from lxml import etree

from pipeline.sandbox import search_folders
from pipeline.sandbox.ews import shapes, soap
from pipeline.sandbox.ews.context import Context, M, folder_refs, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.restriction import RestrictionError, order_by, to_sql
from pipeline.sandbox.props import PropertyError
from pipeline.sandbox.rows import ItemRow


@operation("FindItem")
def find_item(ctx: Context, request: etree._Element) -> str:
    traversal = request.get("Traversal", "Shallow")
    messages = []
    try:
        shape = shapes.parse_shape(request.find(f"{M}ItemShape"))
        where = to_sql(request.find(f"{M}Restriction"))
        order, order_params = order_by(request.find(f"{M}SortOrder"))
    except (RestrictionError, PropertyError) as exc:
        code = getattr(exc, "code", "ErrorInvalidExtendedProperty")
        refs = folder_refs(request.find(f"{M}ParentFolderIds"))
        return soap.operation_response("FindItem", [soap.error("FindItem", code, str(exc)) for _ in refs or [0]])
    lagging = ctx.limits.search_lag_s > 0 and request.find(f"{M}Restriction") is not None
    page = request.find(f"{M}IndexedPageItemView")
    if page is None:
        page = request.find(f"{M}FractionalPageItemView")
    with ctx.store.connection() as conn:
        for ref in folder_refs(request.find(f"{M}ParentFolderIds")):
            try:
                folder = resolve_folder(ctx, conn, ref)
                if traversal not in ("Shallow", "Associated"):
                    messages.append(soap.success("FindItem", _root_xml("", 0, 0, True)))
                    continue
                # Shallow: the folder's contents; Associated: its folder-associated items (FAI) alone
                fai = "IN" if traversal == "Associated" else "NOT IN"
                base_sql = (
                    f"FROM items WHERE folder_id=? AND items.id {fai} (SELECT item_id FROM associated_items) "
                    f"AND {where.where}"
                )
                params = [folder.id, *where.params]
                if folder.is_search:  # its base folders' items its own restriction matches, found when asked
                    base_sql, params = _search_folder_sql(conn, folder.id, where.where, where.params)
                if lagging or (folder.is_search and ctx.limits.search_lag_s > 0):  # a search folder's results too
                    base_sql += " AND touched <= ?"
                    params.append(time.time() - ctx.limits.search_lag_s)
                total = conn.execute(f"SELECT COUNT(*) {base_sql}", params).fetchone()[0]
                limit = ctx.limits.max_page_entries
                offset = 0
                if page is not None:
                    limit = min(int(page.get("MaxEntriesReturned") or limit), limit)
                    if etree.QName(page).localname == "FractionalPageItemView":
                        numerator = int(page.get("Numerator") or 0)
                        denominator = int(page.get("Denominator") or 1) or 1
                        offset = total * numerator // denominator
                    else:
                        offset = int(page.get("Offset") or 0)
                        if page.get("BasePoint", "Beginning") == "End":
                            offset = max(total - offset - limit, 0)
                row_ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT items.id {base_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                        [*params, *order_params, limit, offset],
                    )
                ]
                rows = load_for_shape(ctx, conn, row_ids, shape)
                body = "".join(shapes.item_xml(rows[i], shape, folder.mailbox_id) for i in row_ids if i in rows)
                last = offset + len(row_ids) >= total
                messages.append(soap.success("FindItem", _root_xml(body, offset + len(row_ids), total, last)))
            except ResponseError as exc:
                messages.append(soap.error("FindItem", exc.code, exc.text))
            except sqlite3.OperationalError as exc:
                if where.where == "1":
                    raise
                # The backstop behind restriction.MAX_DEPTH: a restriction SQLite cannot take is one the
                # sandbox cannot evaluate, answered as such, never as an internal error.
                messages.append(
                    soap.error("FindItem", "ErrorRestrictionTooComplex", f"The restriction cannot be evaluated: {exc}")
                )
    ctx.count("items_found", sum(m.count("<t:ItemId ") for m in messages))
    return soap.operation_response("FindItem", messages)


def _search_folder_sql(conn: sqlite3.Connection, folder_id: int, where: str, params: list) -> tuple[str, list]:
    criteria = search_folders.of_folder(conn, folder_id)
    if criteria is None:  # a search folder without criteria (Exchange's own, or made without any) lists nothing
        return "FROM items WHERE 0", []
    folders = search_folders.searched(conn, criteria)
    own = to_sql(etree.fromstring(criteria.restriction))
    marks = ",".join("?" * len(folders)) or "NULL"
    return (
        f"FROM items WHERE folder_id IN ({marks}) AND items.id NOT IN (SELECT item_id FROM associated_items) "
        f"AND ({own.where}) AND {where}",
        [*folders, *own.params, *params],
    )


def needs_mime(shape: shapes.Shape) -> bool:
    return shape.include_mime or shape.base == "AllProperties" or bool(shape.fields & {"Body", "TextBody"})


def load_for_shape(
    ctx: Context, conn: sqlite3.Connection, row_ids: list[int], shape: shapes.Shape, *, with_fields: bool = False
) -> dict[int, ItemRow]:
    """The rows with what this ItemShape shows (MIME, extended properties, attachments, fields) and no more:
    FindItem and GetItem load alike."""
    return ctx.store.load_items(
        conn,
        row_ids,
        with_mime=needs_mime(shape),
        ext_keys=shape.ext_keys,
        with_attachments=shape.wants("Attachments"),
        with_fields=shape.needs_fields or with_fields,
    )


def _root_xml(body: str, next_offset: int, total: int, last: bool) -> str:
    return (
        f'<m:RootFolder IndexedPagingOffset="{next_offset}" TotalItemsInView="{total}" '
        f'IncludesLastItemInRange="{"true" if last else "false"}"><t:Items>{body}</t:Items></m:RootFolder>'
    )
