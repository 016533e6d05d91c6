"""Listing items over Graph: pages with @odata.nextLink, $top/$skip, $select, $expand of extended
properties or open extensions, $filter on an extended property (strings compared without regard to case,
as Graph compares them), internetMessageHeaders when selected, and one item's JSON.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import quote

from pipeline.sandbox import props
from pipeline.sandbox.graph import content, extprops, metadata, shapes, state
from pipeline.sandbox.graph.kinds import KIND, OPEN_EXTENSIONS
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import FolderRow, ItemRow

_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=(.*)\)$", re.IGNORECASE | re.DOTALL)


_ID_EQ = re.compile(r"id\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


def _fold(value: str | None) -> str | None:
    """A string as Graph's $filter compares it: without regard to case."""
    return value.casefold() if isinstance(value, str) else value


def wants_extensions(call: Call) -> bool:
    return call.query.get("$expand", "").strip().lower().startswith("extensions")


def page(
    g: GraphState,
    call: Call,
    values: list[dict[str, Any]],
    total: int | None = None,
    skip: int = 0,
    top: int | None = None,
) -> GraphReply:
    answer: dict[str, Any] = {"value": values}
    if top is not None and total is not None and skip + top < total:
        query = dict(call.query)
        query["$skip"] = str(skip + top)
        path = "/".join(quote(s, safe="") for s in ["", call.version, *call.segments])
        answer["@odata.nextLink"] = f"{call.base}{path}?" + "&".join(
            f"{k}={quote(v, safe='')}" for k, v in query.items()
        )
    return json_reply(200, answer)


def items_page(
    g: GraphState, call: Call, conn: sqlite3.Connection, mailbox_id: int, folder: FolderRow, kind: str
) -> GraphReply:
    limits = g.throttle.limits
    try:
        top = int(call.query.get("$top", "10"))
        skip = int(call.query.get("$skip", "0"))
    except ValueError as exc:
        raise GraphError(400, "BadRequest", "Invalid $top or $skip.") from exc
    if top < 1 or top > limits.page_max:
        raise GraphError(400, "ErrorInvalidUrlQuery", f"$top must be between 1 and {limits.page_max}.")
    sql = "SELECT id FROM items i WHERE folder_id=?"
    params: list[Any] = [folder.id]
    ext_filter = call.query.get("$filter")
    if ext_filter:
        try:
            parsed = extprops.parse_filter(ext_filter)
        except (ValueError, extprops.BadPropertyId, props.PropertyError) as exc:
            raise GraphError(400, "ErrorInvalidUrlQueryFilter", str(exc)) from exc
        marks = ",".join("?" * len(parsed.values))
        if parsed.prop.ptype == "String":
            conn.create_function("graph_fold", 1, _fold, deterministic=True)
            sql += (
                " AND EXISTS (SELECT 1 FROM ext_props e WHERE e.item_id=i.id AND e.key=? "
                f"AND graph_fold(e.value) IN ({marks}))"
            )
            params += [parsed.prop.key, *(_fold(v) for v in parsed.values)]
        else:
            sql += f" AND EXISTS (SELECT 1 FROM ext_props e WHERE e.item_id=i.id AND e.key=? AND e.value IN ({marks}))"
            params += [parsed.prop.key, *parsed.values]
    total = conn.execute(sql.replace("SELECT id", "SELECT COUNT(*)", 1), params).fetchone()[0]
    row_ids = [r[0] for r in conn.execute(sql + " ORDER BY id LIMIT ? OFFSET ?", [*params, top, skip])]
    wanted = expanded_properties(g, call)
    rows = g.store.load_items(conn, row_ids, ext_keys=None)
    bodies = stored_bodies(g, conn, row_ids) if kind != "Message" else {}
    select = selected_fields(g, call, kind)
    values = [
        item_json(g, mailbox_id, rows[r], wanted, select, bodies.get(r), wants_extensions(call))
        for r in row_ids
        if r in rows
    ]
    return page(g, call, values, total, skip, top)


def expanded_properties(g: GraphState, call: Call) -> list[extprops.PropertyId] | None:
    expand = call.query.get("$expand", "")
    if not expand or wants_extensions(call):
        return None
    match = _EXPAND.match(expand.strip())
    if not match:
        raise GraphError(400, "BadRequest", f"Unsupported $expand: {expand[:80]}")
    try:
        return [extprops.parse_id(v.replace("''", "'")) for v in _ID_EQ.findall(match.group(1))]
    except extprops.BadPropertyId as exc:
        raise GraphError(400, "ErrorInvalidProperty", f"Invalid extended property id {exc}") from exc


def selected_fields(g: GraphState, call: Call, kind: str) -> set[str] | None:
    text = call.query.get("$select")
    if not text:
        return None
    names = {s.strip() for s in text.split(",") if s.strip()}
    entity = {"Message": "message", "CalendarItem": "event", "Contact": "contact", "Task": "todoTask"}[kind]
    if metadata.available():
        unknown = sorted(names - metadata.properties(entity))
        if unknown:
            raise GraphError(
                400, "BadRequest", f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.{entity}'."
            )
    return names | {"id"}


def stored_bodies(g: GraphState, conn: sqlite3.Connection, row_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(row_ids), 500):
        chunk = row_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        out.update(
            dict(conn.execute(f"SELECT item_id, body FROM graph_items WHERE item_id IN ({marks})", chunk).fetchall())
        )
    return out


def item_json(
    g: GraphState,
    mailbox_id: int,
    item: ItemRow,
    wanted: list[extprops.PropertyId] | None,
    select: set[str] | None,
    stored: str | None,
    extensions: bool = False,
) -> dict[str, Any]:
    data = (
        shapes.message_json(mailbox_id, item)
        if item.kind not in KIND.values()
        else shapes.typed_json(mailbox_id, item, stored)
    )
    state.check_answer(
        g,
        {"Message": "message", "CalendarItem": "event", "Contact": "contact", "Task": "todoTask"}.get(
            item.kind, "message"
        ),
        data,
    )
    if select is not None:
        data = {k: v for k, v in data.items() if k in select}
        if "internetMessageHeaders" in select and item.kind not in KIND.values():  # only when selected
            data["internetMessageHeaders"] = content.internet_headers(content.message_mime(g, item))
    if wanted is not None:
        data["singleValueExtendedProperties"] = shapes.extended(item, wanted)
    if extensions:
        found: dict[str, dict[str, Any]] = {}
        prefix = f"name:{OPEN_EXTENSIONS}:"
        for key, value in item.ext.items():
            if key.startswith(prefix):
                name, _, prop = key[len(prefix) :].rpartition(".")
                found.setdefault(
                    name, {"@odata.type": "#microsoft.graph.openTypeExtension", "extensionName": name, "id": name}
                )[prop] = value.value
        data["extensions"] = list(found.values())
    return data
