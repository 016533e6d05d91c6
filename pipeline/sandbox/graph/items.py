"""One item over Graph (GET, PATCH, DELETE of messages, events, contacts, tasks), creating typed items
(events, contacts, To Do tasks) and their extended properties as the store keeps them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from xml.sax.saxutils import escape

from pipeline.sandbox import ids, props, timezones
from pipeline.sandbox.graph import extprops, listing, shapes, state
from pipeline.sandbox.graph import series as graph_series
from pipeline.sandbox.graph.kinds import ALL_KINDS, CALENDAR, CLASS, ENTITY, KIND, OPEN_EXTENSIONS, TASK
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import ExtValue, FolderRow, ItemRow, NewItem, now_iso


def ext_values(body: dict[str, Any]) -> list[ExtValue]:
    out = []
    for prop in body.get("singleValueExtendedProperties") or []:
        try:
            pid = extprops.parse_id(str(prop.get("id", "")))
            out.append(ExtValue(pid.key, pid.ptype, extprops.normalize(pid, prop.get("value"))))
        except (extprops.BadPropertyId, props.PropertyError) as exc:
            raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property: {exc}") from exc
    for prop in body.get("multiValueExtendedProperties") or []:
        try:
            pid = extprops.parse_id(str(prop.get("id", "")), multi=True)
            values = prop.get("value") or []
            out.append(ExtValue(pid.key, pid.ptype, extprops.normalize(pid, list(values))))
        except (extprops.BadPropertyId, props.PropertyError) as exc:
            raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property: {exc}") from exc
    return out


def mapped_ext(body: dict[str, Any]) -> list[ExtValue]:
    """Graph's own properties that Exchange keeps as MAPI properties: categories, flag, importance."""
    out = []
    if isinstance(body.get("categories"), list):
        out.append(ExtValue(shapes.KEYWORDS, "StringArray", [str(c) for c in body["categories"]]))
    flag = body.get("flag")
    if isinstance(flag, dict) and flag.get("flagStatus"):
        status = {"flagged": "2", "complete": "1"}.get(str(flag["flagStatus"]))
        if status:
            out.append(ExtValue(shapes.FLAG_STATUS, "Integer", status))
    importance = body.get("importance")
    if importance in ("low", "normal", "high"):
        out.append(ExtValue(shapes.IMPORTANCE, "Integer", {"low": "0", "normal": "1", "high": "2"}[importance]))
    return out


def write_ext(conn: sqlite3.Connection, item_id: int, ext: list[ExtValue]) -> None:
    for value in ext:
        if isinstance(value.value, list):
            conn.execute(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                (item_id, value.key, value.ptype, json.dumps(value.value), None),
            )
        else:
            conn.execute(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                (item_id, value.key, value.ptype, value.value, props.numeric(value.ptype, value.value)),
            )


_T = 'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'


def _element(name: str, text: str) -> str:
    return f"<t:{name} {_T}>{escape(text)}</t:{name}>"


def _ews_fields(folder_class: str, body: dict[str, Any]) -> dict[str, str]:
    """A few EWS fields of a typed item created over Graph, so the EWS face shows it too."""
    fields: dict[str, str] = {}
    if folder_class == CALENDAR:
        for key, name in (("start", "Start"), ("end", "End")):
            value = body.get(key) or {}
            if value.get("dateTime"):
                try:  # wall-clock time in the given zone (Windows or IANA name), kept in UTC like EWS's
                    moment = graph_series.utc(value)
                except (ValueError, KeyError, timezones.UnknownZone) as exc:
                    raise GraphError(400, "ErrorInvalidRequest", f"{key}: {exc}") from exc
                fields[name] = _element(name, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        location = (body.get("location") or {}).get("displayName")
        if location:
            fields["Location"] = _element("Location", str(location))
        if body.get("isAllDay"):
            fields["IsAllDayEvent"] = _element("IsAllDayEvent", "true")
    return fields


def stored_item(g: GraphState, conn: sqlite3.Connection, mailbox_id: int, ref: str, kinds: tuple[str, ...]) -> ItemRow:
    try:
        row = ids.parse_item_id(shapes.ews_id(ref))
    except ids.MalformedId as exc:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from exc
    found = g.store.load_items(conn, [row.row_id], ext_keys=None) if row.mailbox_id == mailbox_id else {}
    item = found.get(row.row_id)
    if item is None or (item.kind not in kinds):
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return item


def serve_item(g: GraphState, call: Call, mailbox_id: int, ref: str, kind: str) -> GraphReply:
    kinds = (kind,) if kind != "Message" else tuple(k for k in ALL_KINDS if k not in KIND.values())
    with g.store.connection() as conn:
        item = stored_item(g, conn, mailbox_id, ref, kinds)
        stored = listing.stored_bodies(g, conn, [item.id]).get(item.id)
    if call.method == "GET":
        return json_reply(
            200,
            listing.item_json(
                g,
                mailbox_id,
                item,
                listing.expanded_properties(g, call),
                listing.selected_fields(g, call, kind),
                stored,
                listing.wants_extensions(call),
            ),
        )
    if call.method == "DELETE":
        if kind == "CalendarItem" and stored and json.loads(stored).get("attendees"):
            g.sent.log(mailbox_id, "event.cancel", {"id": ref})
        with g.store.write() as conn:
            g.store.delete_items(conn, [item.id])
            conn.execute("DELETE FROM graph_items WHERE item_id=?", (item.id,))
        return GraphReply(204)
    if call.method == "PATCH":
        entity = {"Message": "message", "CalendarItem": "event", "Contact": "contact", "Task": "todoTask"}[kind]
        body = state.read_body(g, call, entity)
        return patch(g, mailbox_id, item, body, stored, kind)
    raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported here.")


def patch(
    g: GraphState, mailbox_id: int, item: ItemRow, body: dict[str, Any], stored: str | None, kind: str
) -> GraphReply:
    ext = ext_values(body)
    ext += mapped_ext(body)
    # Clearing, as Exchange does: flagStatus notFlagged removes PR_FLAG_STATUS, an empty list the categories.
    cleared = []
    if isinstance(body.get("flag"), dict) and body["flag"].get("flagStatus") == "notFlagged":
        cleared.append(shapes.FLAG_STATUS)
    if body.get("categories") == []:
        cleared.append(shapes.KEYWORDS)
        ext = [e for e in ext if e.key != shapes.KEYWORDS]
    columns: dict[str, Any] = {}
    if "isRead" in body:
        columns["is_read"] = int(bool(body["isRead"]))
    for value in ext:
        if value.key == props.TAG_DELIVERY_TIME and isinstance(value.value, str):
            columns["received"] = value.value
        if value.key == props.TAG_SUBMIT_TIME and isinstance(value.value, str):
            columns["sent"] = value.value
        if value.key == props.TAG_MESSAGE_CLASS and isinstance(value.value, str):
            columns["item_class"] = value.value
        if value.key == props.TAG_MESSAGE_FLAGS:
            raise GraphError(
                400,
                "ErrorInvalidPropertyUpdateSentMessage",
                "PR_MESSAGE_FLAGS can only be set when the item is created.",
            )
    if kind == "CalendarItem" and body.get("attendees"):
        g.sent.log(mailbox_id, "event.update", {"attendees": body["attendees"]})
    subject = body.get("subject", body.get("title", body.get("displayName")))
    if subject is not None and kind != "Message":
        columns["subject"] = str(subject)
    with g.store.write() as conn:
        sets = ", ".join(f"{k}=?" for k in columns)
        conn.execute(
            f"UPDATE items SET {sets + ', ' if sets else ''}modified=?, version=version+1 WHERE id=?",
            [*columns.values(), now_iso(), item.id],
        )
        write_ext(conn, item.id, ext)
        for key in cleared:
            conn.execute("DELETE FROM ext_props WHERE item_id=? AND key=?", (item.id, key))
        if kind != "Message":
            merged = {**(json.loads(stored) if stored else {}), **body}
            conn.execute(
                "INSERT OR REPLACE INTO graph_items(item_id, body) VALUES (?,?)", (item.id, json.dumps(merged))
            )
        found = g.store.load_items(conn, [item.id], ext_keys=None)[item.id]
        new_stored = listing.stored_bodies(g, conn, [item.id]).get(item.id)
    return json_reply(200, listing.item_json(g, mailbox_id, found, None, None, new_stored))


def patch_extension(g: GraphState, call: Call, mailbox_id: int, ref: str, name: str) -> GraphReply:
    """`PATCH …/tasks/{id}/extensions/{name}`: an open extension's values replaced (learn.microsoft.com/graph/
    api/opentypeextension-update); 404 when the item has no extension of that name."""
    body = state.read_body(g, call)  # an open type: any property may be added
    prefix = f"name:{OPEN_EXTENSIONS}:{name}."
    with g.store.write() as conn:
        item = stored_item(g, conn, mailbox_id, ref, ("Task",))
        if not any(key.startswith(prefix) for key in item.ext):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        values = [
            ExtValue(f"{prefix}{key}", "String", str(value))
            for key, value in body.items()
            if key not in ("@odata.type", "extensionName", "id") and isinstance(value, str | int | bool)
        ]
        write_ext(conn, item.id, values)
        conn.execute("UPDATE items SET modified=?, version=version+1 WHERE id=?", (now_iso(), item.id))
    answer: dict[str, Any] = {"@odata.type": "#microsoft.graph.openTypeExtension", "extensionName": name, "id": name}
    answer.update({v.key[len(prefix) :]: v.value for v in values})
    return json_reply(200, answer)


def insert(g: GraphState, mailbox_id: int, item: NewItem, body: dict[str, Any] | None = None) -> ItemRow:
    with g.store.write() as conn:
        (row_id,) = g.store.insert_items(conn, mailbox_id, [item])
        if body is not None:
            conn.execute("INSERT INTO graph_items(item_id, body) VALUES (?,?)", (row_id, json.dumps(body)))
        return g.store.load_items(conn, [row_id], ext_keys=None)[row_id]


def check_size(g: GraphState, size: int) -> None:
    if size > g.limits().max_item_bytes:
        raise GraphError(413, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")


def sent_received(by_key: dict[str, ExtValue]) -> tuple[str | None, str | None]:
    """When an item was sent and received, from PR_CLIENT_SUBMIT_TIME and PR_MESSAGE_DELIVERY_TIME among
    its extended properties (by key)."""
    sent, received = by_key.get(props.TAG_SUBMIT_TIME), by_key.get(props.TAG_DELIVERY_TIME)
    return (str(sent.value) if sent else None, str(received.value) if received else None)


def create_typed(g: GraphState, call: Call, mailbox_id: int, folder: FolderRow, folder_class: str) -> GraphReply:
    body = state.read_body(g, call, ENTITY[folder_class])
    check_size(g, len(call.body))
    ext = ext_values(body) + mapped_ext(body)
    for extension in body.get("extensions") or []:  # open extensions (To Do takes no MAPI properties)
        name = str(extension.get("extensionName") or "")
        for key, value in extension.items():
            if key not in ("@odata.type", "extensionName", "id") and isinstance(value, str | int | bool):
                ext.append(ExtValue(f"name:{OPEN_EXTENSIONS}:{name}.{key}", "String", str(value)))
    if folder_class == CALENDAR and body.get("attendees"):
        g.sent.log(mailbox_id, "event.invitations", {"subject": body.get("subject"), "attendees": body["attendees"]})
    subject = (
        body.get("subject")
        if folder_class == CALENDAR
        else body.get("title" if folder_class == TASK else "displayName")
    )
    sent, received = sent_received({e.key: e for e in ext})  # as on any item
    item = NewItem(
        folder_id=folder.id,
        kind=KIND[folder_class],
        item_class=CLASS[folder_class],
        subject=str(subject or ""),
        is_draft=False,
        is_read=True,
        sent=sent,
        received=received,
        size=len(call.body),
        mime=None,
        fields=_ews_fields(folder_class, body),
        ext=ext,
        attachments=[],
    )
    row = insert(g, mailbox_id, item, body)
    g.stats.add("items_created")
    return json_reply(201, listing.item_json(g, mailbox_id, row, None, None, json.dumps(body)))
