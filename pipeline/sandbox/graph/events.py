"""Recurring events over Graph: a series' instances in a window, and its occurrences (DELETE cancels one,
PATCH makes an exception), kept in the Graph face's own table.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pipeline.sandbox import ids
from pipeline.sandbox.graph import items, listing, shapes, state
from pipeline.sandbox.graph import series as graph_series
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply
from pipeline.sandbox.rows import ItemRow, now_iso


def _utc_param(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def series_of(g: GraphState, mailbox_id: int, ref: str) -> tuple[ItemRow, dict[str, Any]]:
    with g.store.connection() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, ("CalendarItem",))
        stored = listing.stored_bodies(g, conn, [item.id]).get(item.id)
    event = json.loads(stored) if stored else {}
    if not event.get("recurrence"):
        raise GraphError(400, "ErrorInvalidRequest", "The event is not a recurring series master.")
    return item, event


def instances(g: GraphState, call: Call, mailbox_id: int, ref: str) -> GraphReply:
    try:
        start = _utc_param(call.query["startDateTime"])
        end = _utc_param(call.query["endDateTime"])
    except (KeyError, ValueError) as exc:
        raise GraphError(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.") from exc
    item, event = series_of(g, mailbox_id, ref)
    try:
        found = graph_series.instances(event, start, end)
    except graph_series.SeriesError as exc:
        raise GraphError(400, "ErrorInvalidRecurrence", str(exc)) from exc
    master = shapes.graph_id(ids.item_id(mailbox_id, item.id))
    values = []
    for entry in found:
        original = dt.datetime.fromisoformat(entry["originalStart"].replace("Z", "+00:00"))
        values.append(
            {
                "id": shapes.graph_id(ids.occurrence_id(mailbox_id, item.id, original)),
                "seriesMasterId": master,
                "subject": entry.pop("subject", item.subject or ""),
                **entry,
            }
        )
    return listing.page(g, call, values)


def serve_occurrence(g: GraphState, call: Call, mailbox_id: int, ref: str) -> GraphReply:
    occurrence = ids.parse_occurrence_id(shapes.ews_id(ref))
    if occurrence.mailbox_id != mailbox_id:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    master = shapes.graph_id(ids.item_id(mailbox_id, occurrence.row_id))
    item, event = series_of(g, mailbox_id, master)
    key = occurrence.original_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        originals = {o.strftime("%Y-%m-%dT%H:%M:%SZ") for o in graph_series.expand(event)}
    except graph_series.SeriesError as exc:
        raise GraphError(400, "ErrorInvalidRecurrence", str(exc)) from exc
    if key not in originals or key in (event.get("_cancelled") or []):
        raise GraphError(404, "ErrorItemNotFound", "The occurrence is not in the series (or was deleted).")
    if call.method == "DELETE":
        event["_cancelled"] = sorted({*(event.get("_cancelled") or []), key})
        (event.get("_exceptions") or {}).pop(key, None)
    elif call.method == "PATCH":
        body = state.read_body(g, call, "event")
        change = dict((event.get("_exceptions") or {}).get(key) or {})
        try:
            if body.get("start"):
                change["start"] = graph_series.utc(body["start"]).isoformat()
            if body.get("end"):
                change["end"] = graph_series.utc(body["end"]).isoformat()
        except (KeyError, ValueError) as exc:
            raise GraphError(400, "ErrorInvalidRequest", f"bad start or end: {exc}") from exc
        change.setdefault("start", occurrence.original_start.isoformat())
        change.setdefault("end", change["start"])
        for name in ("subject", "location", "showAs", "isReminderOn"):
            if name in body:
                change[name] = body[name]
        event.setdefault("_exceptions", {})[key] = change
        if event.get("attendees"):
            g.sent.log(mailbox_id, "event.occurrence.update", {"original": key})
    else:
        raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported on an occurrence.")
    with g.store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO graph_items(item_id, body) VALUES (?,?)", (item.id, json.dumps(event)))
        conn.execute("UPDATE items SET version=version+1, modified=? WHERE id=?", (now_iso(), item.id))
    return GraphReply(204) if call.method == "DELETE" else json_reply(200, {"id": ref, "originalStart": key})
