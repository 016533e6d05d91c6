"""Mail search folders on the Graph face (`mailSearchFolder`): created as a child of a mail folder (the
well-known `searchfolders` one, as Microsoft's example does) with a `filterQuery`, `sourceFolderIds` and
`includeNestedFolders` (kept in graph_search_folders, made by the face at start); listed among the child folders with those properties; and their `messages` are
what the filter matches, evaluated when asked (odata_filter.py) over the source folders' messages (and
their subfolders' when nested), as Exchange keeps a search folder's contents up to date.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from pipeline.sandbox import ids
from pipeline.sandbox.graph import listing, odata_filter, shapes, state
from pipeline.sandbox.graph.kinds import KIND
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import FolderRow
from pipeline.sandbox.store import FolderExists

SEARCH_TYPE = "#microsoft.graph.mailSearchFolder"


def is_search_body(body: dict[str, Any]) -> bool:
    return str(body.get("@odata.type") or "").lstrip("#").lower() == SEARCH_TYPE.lstrip("#").lower()


def definitions(conn: sqlite3.Connection) -> dict[int, tuple[str, list[str], bool]]:
    rows = conn.execute("SELECT folder_id, filter, sources, nested FROM graph_search_folders")
    return {r[0]: (r[1], json.loads(r[2]), bool(r[3])) for r in rows}


def shape(folder_json: dict[str, Any], definition: tuple[str, list[str], bool]) -> dict[str, Any]:
    """A mailFolder's JSON as its mailSearchFolder."""
    query, sources, nested = definition
    return {
        "@odata.type": SEARCH_TYPE,
        **folder_json,
        "isSupported": True,
        "includeNestedFolders": nested,
        "sourceFolderIds": sources,
        "filterQuery": query,
    }


def create(g: GraphState, call: Call, mailbox_id: int, parent: FolderRow, resolve: Any) -> GraphReply:
    body = state.read_body(g, call, "mailSearchFolder")
    name = str(body.get("displayName") or "").strip()
    if not name:
        raise GraphError(400, "ErrorInvalidRequest", "The displayName is required.")
    query = body.get("filterQuery")
    if not isinstance(query, str) or not query.strip():
        raise GraphError(400, "ErrorInvalidRequest", "A mailSearchFolder needs a filterQuery.")
    odata_filter.parse(query)  # 400 ErrorInvalidUrlQueryFilter when Exchange could not run it
    sources = body.get("sourceFolderIds")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise GraphError(400, "ErrorInvalidRequest", "A mailSearchFolder needs sourceFolderIds.")
    nested = bool(body.get("includeNestedFolders", False))
    with g.store.write() as conn:
        for source in sources:
            found = resolve(g, conn, mailbox_id, source)  # 400 malformed, 404 not in this mailbox
            if found.is_search:
                raise GraphError(400, "ErrorInvalidRequest", "A search folder cannot search a search folder.")
        try:
            folder = g.store.create_folder(conn, mailbox_id, parent.id, name, "IPF.Note")
        except FolderExists as exc:
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.") from exc
        conn.execute("UPDATE folders SET is_search=1 WHERE id=?", (folder.id,))
        conn.execute(
            "INSERT INTO graph_search_folders(folder_id, filter, sources, nested) VALUES (?,?,?,?)",
            (folder.id, query, json.dumps(sources), int(nested)),
        )
    g.stats.add("graph:searchFolders:created")
    answer = shape(shapes.folder_json(mailbox_id, folder, {}, 0, False), (query, sources, nested))
    state.check_answer(g, "mailSearchFolder", answer)
    return json_reply(201, answer)


def _scope(conn: sqlite3.Connection, g: GraphState, mailbox_id: int, sources: list[str], nested: bool) -> set[int]:
    folders = g.store.all_folders(conn, mailbox_id)
    children: dict[int, list[FolderRow]] = {}
    for folder in folders:
        if folder.parent_id is not None:
            children.setdefault(folder.parent_id, []).append(folder)
    scope: set[int] = set()
    for source in sources:
        try:
            row = ids.parse_folder_id(shapes.ews_id(source))
        except ids.MalformedId:
            continue  # checked at creation; a folder deleted since searches nothing
        stack = [row.row_id]
        while stack:
            current = stack.pop()
            scope.add(current)
            if nested:
                stack.extend(f.id for f in children.get(current, []) if not f.is_search)
    return scope


def messages(
    g: GraphState, call: Call, conn: sqlite3.Connection, mailbox_id: int, folder: FolderRow
) -> GraphReply | None:
    """The search folder's messages: what its filter matches now; None for a folder with no definition."""
    definition = definitions(conn).get(folder.id)
    if definition is None:
        return None
    query, sources, nested = definition
    tree = odata_filter.parse(query)
    scope = sorted(_scope(conn, g, mailbox_id, sources, nested))
    if not scope:
        return listing.page(g, call, [])
    try:
        top = int(call.query.get("$top", "10"))
        skip = int(call.query.get("$skip", "0"))
    except ValueError as exc:
        raise GraphError(400, "BadRequest", "Invalid $top or $skip.") from exc
    if top < 1 or top > g.throttle.limits.page_max:
        raise GraphError(400, "ErrorInvalidUrlQuery", f"$top must be between 1 and {g.throttle.limits.page_max}.")
    marks = ",".join("?" * len(scope))
    row_ids = [r[0] for r in conn.execute(f"SELECT id FROM items WHERE folder_id IN ({marks}) ORDER BY id", scope)]
    rows = g.store.load_items(conn, row_ids, ext_keys=None)
    matched = []
    for row_id in row_ids:
        item = rows.get(row_id)
        if item is None or item.kind in KIND.values():
            continue  # a mail search folder lists messages
        view = shapes.message_json(mailbox_id, item)
        view["singleValueExtendedProperties"] = [{"id": "String 0x001A", "value": item.item_class}]
        if odata_filter.matches(tree, view):
            matched.append(item)
    wanted = listing.expanded_properties(g, call)
    select = listing.selected_fields(g, call, "Message")
    values = [listing.item_json(g, mailbox_id, i, wanted, select, None) for i in matched[skip : skip + top]]
    return listing.page(g, call, values, len(matched), skip, top)
