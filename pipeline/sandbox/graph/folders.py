"""Folders over Graph: mailFolders (well-known names, childFolders, hidden folders, $filter on the name),
and the typed collections calendars, contactFolders and To Do lists over the same folder table.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from pipeline.sandbox import ids
from pipeline.sandbox.graph import items, listing, messages, search_folders, shapes, state
from pipeline.sandbox.graph.kinds import CALENDAR, CONTACT, KIND, TASK
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import FolderRow
from pipeline.sandbox.store import FolderExists

#: Graph's well-known mail folder names that this store has (Microsoft's list, mailFolder resource).
WELL_KNOWN = {
    "inbox",
    "drafts",
    "sentitems",
    "deleteditems",
    "junkemail",
    "outbox",
    "msgfolderroot",
    "conversationhistory",
    "syncissues",
    "conflicts",
    "localfailures",
    "serverfailures",
    "searchfolders",
    "recoverableitemsdeletions",
    "archive",
    "clutter",
    "scheduled",
}


_NAME_EQ = re.compile(r"^(displayName|name)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)


def in_class(folder: FolderRow, classes: tuple[str | None, ...] | None) -> bool:
    cls = folder.folder_class or ""
    if classes is None:  # mail folders: everything but the typed collections
        return not any(cls.startswith(c) for c in KIND) and not cls.startswith("IPF.Configuration")
    return any(c is not None and cls.startswith(c) for c in classes)


def resolve_folder(g: GraphState, conn: sqlite3.Connection, mailbox_id: int, ref: str) -> FolderRow:
    if ref.lower() in WELL_KNOWN:
        found = g.store.distinguished(conn, mailbox_id, ref.lower())
        if found is None:
            raise GraphError(404, "ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return found
    try:
        row = ids.parse_folder_id(shapes.ews_id(ref))
    except ids.MalformedId as exc:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from exc
    folder = g.store.folder(conn, row.row_id) if row.mailbox_id == mailbox_id else None
    if folder is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return folder


def folder_page(
    g: GraphState,
    call: Call,
    conn: sqlite3.Connection,
    mailbox_id: int,
    parent: FolderRow,
    classes: tuple[str, ...] | None,
    deep: bool = False,
) -> GraphReply:
    folders = g.store.all_folders(conn, mailbox_id)
    hidden = {r[0] for r in conn.execute("SELECT folder_id FROM graph_hidden")}
    counts = g.store.counts(conn, mailbox_id)
    children: dict[int, list[FolderRow]] = {}
    for f in folders:
        if f.parent_id is not None:
            children.setdefault(f.parent_id, []).append(f)
    below = list(children.get(parent.id, []))
    if deep:
        stack = list(below)
        while stack:
            current = stack.pop()
            more = children.get(current.id, [])
            below.extend(more)
            stack.extend(more)
    searchable = search_folders.definitions(conn) if classes is None else {}
    wanted = [
        f
        for f in below
        if (not f.is_search or f.id in searchable)
        and in_class(f, classes)
        and (f.id not in hidden or call.query.get("includeHiddenFolders") == "true")
    ]
    name_filter = call.query.get("$filter")
    if name_filter:
        match = _NAME_EQ.match(name_filter.strip())
        if not match:
            raise GraphError(400, "BadRequest", "Unsupported $filter on folders.")
        name = match.group(2).replace("''", "'").casefold()
        wanted = [f for f in wanted if f.name.casefold() == name]
    values = [
        folder_json(g, mailbox_id, f, counts, len(children.get(f.id, [])), f.id in hidden, classes) for f in wanted
    ]
    values = [
        search_folders.shape(v, searchable[f.id]) if f.id in searchable else v
        for f, v in zip(wanted, values, strict=True)
    ]
    return listing.page(g, call, values)


def folder_json(
    g: GraphState,
    mailbox_id: int,
    folder: FolderRow,
    counts: dict,
    children: int,
    hidden: bool,
    classes: tuple[str, ...] | None,
) -> dict[str, Any]:
    answer = folder_shape(folder, shapes.folder_json(mailbox_id, folder, counts, children, hidden), classes)
    entity = (
        "mailFolder"
        if classes is None or classes == (None,)
        else {CALENDAR: "calendar", CONTACT: "contactFolder", TASK: "todoTaskList"}.get(classes[0] or "", "mailFolder")
    )
    state.check_answer(g, entity, answer)
    return answer


def folder_shape(folder: FolderRow, data: dict[str, Any], classes: tuple[str, ...] | None) -> dict[str, Any]:
    """A folder as the resource of its class shows it (calendar, todoTaskList, contactFolder), from its
    mailFolder shape `data`."""
    if classes is None or classes == (None,):
        return data
    if CALENDAR in classes:
        return {
            "id": data["id"],
            "name": folder.name,
            "canEdit": True,
            "isDefaultCalendar": folder.distinguished_id == "calendar",
        }
    if TASK in classes:
        return {
            "id": data["id"],
            "displayName": folder.name,
            "isOwner": True,
            "isShared": False,
            "wellknownListName": "defaultList" if folder.distinguished_id == "tasks" else "none",
        }
    return {"id": data["id"], "displayName": folder.name, "parentFolderId": data["parentFolderId"]}


def create_folder(
    g: GraphState, call: Call, mailbox_id: int, parent: FolderRow, folder_class: str | None, entity: str, name_key: str
) -> GraphReply:
    body = state.read_body(g, call, entity)
    name = str(body.get(name_key) or "").strip()
    if not name:
        raise GraphError(400, "ErrorInvalidRequest", f"The {name_key} is required.")
    with g.store.write() as conn:
        try:
            folder = g.store.create_folder(conn, mailbox_id, parent.id, name, folder_class)
        except FolderExists as exc:
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.") from exc
        if body.get("isHidden"):
            conn.execute("INSERT INTO graph_hidden(folder_id) VALUES (?)", (folder.id,))
    g.stats.add("folders_created")
    return json_reply(
        201,
        folder_json(
            g, mailbox_id, folder, {}, 0, bool(body.get("isHidden")), (folder_class,) if folder_class in KIND else None
        ),
    )


def mail_folders(g: GraphState, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
    method = call.method
    with g.store.connection() as conn:
        root = resolve_folder(g, conn, mailbox_id, "msgfolderroot")
        folder = resolve_folder(g, conn, mailbox_id, rest[0]) if rest else root
        if not rest or (len(rest) == 2 and rest[1] == "childFolders"):
            if method == "GET":
                return folder_page(g, call, conn, mailbox_id, folder, None)
            if method == "POST":
                if search_folders.is_search_body(_peek(call)):
                    return search_folders.create(g, call, mailbox_id, folder, resolve_folder)
                return create_folder(g, call, mailbox_id, folder, "IPF.Note", "mailFolder", "displayName")
        elif len(rest) == 1 and method == "GET":
            hidden = conn.execute("SELECT 1 FROM graph_hidden WHERE folder_id=?", (folder.id,)).fetchone()
            kids = conn.execute("SELECT COUNT(*) FROM folders WHERE parent_id=?", (folder.id,)).fetchone()[0]
            answer = folder_json(g, mailbox_id, folder, g.store.counts(conn, mailbox_id), kids, bool(hidden), None)
            definition = search_folders.definitions(conn).get(folder.id) if folder.is_search else None
            return json_reply(200, search_folders.shape(answer, definition) if definition else answer)
        elif len(rest) == 1 and method == "DELETE":
            return delete_folder(g, conn, mailbox_id, folder)
        elif len(rest) == 2 and rest[1] == "messages":
            if method == "GET":
                found = search_folders.messages(g, call, conn, mailbox_id, folder) if folder.is_search else None
                return found or listing.items_page(g, call, conn, mailbox_id, folder, "Message")
            if method == "POST":
                return messages.create_message(g, call, mailbox_id, folder)
        elif len(rest) == 2 and rest[1] == "importMime" and method == "POST":
            if call.version != "beta" or not g.import_mime:
                raise GraphError(400, "BadRequest", "Resource not found for the segment 'importMime'.")
            return messages.import_mime(g, call, mailbox_id, folder)
    raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")


def _peek(call: Call) -> dict[str, Any]:
    """The request body as JSON when it is an object (read_body refuses it properly later), else {}."""
    try:
        body = json.loads(call.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def delete_folder(g: GraphState, conn: sqlite3.Connection, mailbox_id: int, folder: FolderRow) -> GraphReply:
    if folder.distinguished_id:
        raise GraphError(403, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
    with g.store.write() as wconn:
        doomed = [folder.id]
        index = 0
        while index < len(doomed):
            doomed += [r[0] for r in wconn.execute("SELECT id FROM folders WHERE parent_id=?", (doomed[index],))]
            index += 1
        marks = ",".join("?" * len(doomed))
        rows = [r[0] for r in wconn.execute(f"SELECT id FROM items WHERE folder_id IN ({marks})", doomed)]
        g.store.delete_items(wconn, rows)
        wconn.execute(f"DELETE FROM folders WHERE id IN ({marks})", doomed)
        wconn.execute(f"DELETE FROM graph_hidden WHERE folder_id IN ({marks})", doomed)
    return GraphReply(204)


def collection(g: GraphState, call: Call, mailbox_id: int, rest: list[str], folder_class: str) -> GraphReply:
    """calendar[s][/{id}[/events]], contactFolders[/{id}[/childFolders|/contacts]], contacts,
    lists[/{id}[/tasks]] — all folders of the store with that container class."""
    method = call.method
    default_name = {CALENDAR: "calendar", CONTACT: "contacts", TASK: "tasks"}[folder_class]
    with g.store.connection() as conn:
        default = g.store.distinguished(conn, mailbox_id, default_name)
        if default is None:
            raise GraphError(404, "ErrorFolderNotFound", f"No default {default_name} folder.")
        head = rest[0]
        if head == "calendar" and len(rest) == 1 and method == "GET":
            return json_reply(200, folder_json(g, mailbox_id, default, {}, 0, False, (CALENDAR,)))
        if head == "calendar" and len(rest) == 2 and rest[1] == "events":
            folder, tail = default, "events"
        elif head == "contacts" and len(rest) == 1:
            folder, tail = default, "contacts"
        elif len(rest) == 1:  # calendars, contactFolders, lists: the collection itself
            if method == "GET":
                deep = folder_class != CONTACT
                top = resolve_folder(g, conn, mailbox_id, "msgfolderroot") if deep else default
                return folder_page(g, call, conn, mailbox_id, top, (folder_class,), deep=deep)
            if method == "POST":
                parent = resolve_folder(g, conn, mailbox_id, "msgfolderroot") if folder_class != CONTACT else default
                entity = {CALENDAR: "calendar", CONTACT: "contactFolder", TASK: "todoTaskList"}[folder_class]
                return create_folder(
                    g,
                    call,
                    mailbox_id,
                    parent,
                    folder_class,
                    entity,
                    "name" if folder_class == CALENDAR else "displayName",
                )
            raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")
        else:
            folder = resolve_folder(g, conn, mailbox_id, rest[1])
            if not in_class(folder, (folder_class,)):
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            tail = rest[2] if len(rest) > 2 else ""
        if tail == "" and method == "GET":
            return json_reply(200, folder_json(g, mailbox_id, folder, {}, 0, False, (folder_class,)))
        if tail == "" and method == "DELETE":
            return delete_folder(g, conn, mailbox_id, folder)
        if tail == "childFolders" and folder_class == CONTACT:
            if method == "GET":
                return folder_page(g, call, conn, mailbox_id, folder, (CONTACT,))
            return create_folder(g, call, mailbox_id, folder, CONTACT, "contactFolder", "displayName")
        if tail in ("events", "contacts", "tasks"):
            if method == "GET":
                return listing.items_page(g, call, conn, mailbox_id, folder, KIND[folder_class])
            if method == "POST":
                return items.create_typed(g, call, mailbox_id, folder, folder_class)
    raise GraphError(405, "ErrorInvalidRequest", f"{method} is not supported here.")
