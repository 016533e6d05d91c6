"""UpdateItem: SetItemField/AppendToItemField/DeleteItemField on stored items, one message per change.

Covers what bulk_update sends for read state, subject, class, extended properties and echoed typed fields.
Optimistic concurrency as in Exchange: every update moves the item's ChangeKey on, and an ItemId whose
ChangeKey is stale fails with ErrorIrresolvableConflict unless ConflictResolution is AlwaysOverwrite (the
sandbox does not merge disjoint changes the way AutoResolve may, so it treats every stale key as a conflict).
An occurrence of a series becomes an exception kept on its master; a master whose pattern, zone or time of
day changes loses its exceptions, as in Outlook.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from typing import Any

from lxml import etree

from pipeline.sandbox import ids, props
from pipeline.sandbox.ews import extended, series, soap
from pipeline.sandbox.ews.context import Context, T, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import ITEM_REFS, NOT_FOUND, Ref, item_row, occurrence, resolve
from pipeline.sandbox.ews.recurrence import RecurrenceError, Series
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.shapes import INDEXED_ELEMENTS

_CONFLICT_TEXT = (
    "The send or update operation could not be performed because the change key passed in the request does "
    "not match the current change key for the item."
)
_COLUMNS = {"Subject": "subject", "ItemClass": "item_class", "IsRead": "is_read"}


def _series(fields: dict[str, str]) -> Series | None:
    try:
        return series.series_of(fields)
    except RecurrenceError:
        return None


def _apply(ctx: Context, db: sqlite3.Connection, row_id: int, updates: etree._Element) -> None:
    fields_row = db.execute("SELECT fields, kind FROM items WHERE id=?", (row_id,)).fetchone()
    fields = json.loads(fields_row[0])
    before = _series(fields) if fields_row[1] == "CalendarItem" else None
    for change in updates:
        kind = local(change)
        path = change[0]
        path_kind = local(path)
        if path_kind == "ExtendedFieldURI":
            uri = extended.parse_uri(path)
            if kind == "DeleteItemField":
                db.execute("DELETE FROM ext_props WHERE item_id=? AND key=?", (row_id, uri.key))
                continue
            prop = change.find(f".//{T}ExtendedProperty")
            if prop is None:
                raise ResponseError("ErrorInvalidPropertySet", "SetItemField without an ExtendedProperty.")
            uri, value = extended.read_values(prop)
            stored = json.dumps(value) if isinstance(value, list) else value
            number = None if isinstance(value, list) else props.numeric(uri.ptype, value)
            db.execute(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                (row_id, uri.key, uri.ptype, stored, number),
            )
            if uri.key == props.TAG_MESSAGE_FLAGS and isinstance(value, str):
                db.execute(
                    "UPDATE items SET is_read=? WHERE id=?",
                    (int(bool(int(value) & props.MSGFLAG_READ)), row_id),
                )
            continue
        name = path.get("FieldURI", "").split(":", 1)[-1]
        name = INDEXED_ELEMENTS.get(name, name) if path_kind == "IndexedFieldURI" else name
        if kind == "DeleteItemField":
            fields.pop(name, None)
            continue
        holder = change[1] if len(change) > 1 else None
        value_elem = holder.find(f"{T}{name}") if holder is not None else None
        if value_elem is None:
            raise ResponseError("ErrorInvalidPropertySet", f"No value given for {name}.")
        if name in _COLUMNS:
            text = value_elem.text or ""
            value_sql: object = int(text.strip().lower() in ("true", "1")) if name == "IsRead" else text
            db.execute(f"UPDATE items SET {_COLUMNS[name]}=? WHERE id=?", (value_sql, row_id))
        elif name not in series.COMPUTED:
            fields[name] = etree.tostring(value_elem, encoding="unicode")
    if fields_row[1] == "CalendarItem" and ("Recurrence" in fields or before is not None):
        try:
            series.prepare_master(fields)
        except RecurrenceError as exc:
            raise ResponseError(exc.code, str(exc)) from exc
        after = _series(fields)
        if before is not None and (
            after is None or (after.pattern, after.zone, after.clock) != (before.pattern, before.zone, before.clock)
        ):
            ctx.store.set_exceptions(db, row_id, None)
    db.execute(
        "UPDATE items SET fields=?, version=version+1, touched=?, "
        "modified=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
        (json.dumps(fields), time.time(), row_id),
    )


@operation("UpdateItem")
def update_item(ctx: Context, request: etree._Element) -> str:
    changes_elem = request.find(f"{{{soap.M_NS}}}ItemChanges")
    changes = list(changes_elem) if changes_elem is not None else []
    overwrite = request.get("ConflictResolution", "AutoResolve") == "AlwaysOverwrite"
    messages = []
    with ctx.store.write() as conn:
        for change in changes:
            try:
                ref = next((c for c in change if local(c) in ITEM_REFS), None)
                if ref is None:
                    raise ResponseError("ErrorInvalidRequest", "ItemChange without an item id.")
                target = resolve(ctx, ref)
                if target.is_occurrence:
                    messages.append(_update_occurrence(ctx, conn, target, change.find(f"{T}Updates")))
                    continue
                mailbox_id, row_id = target.mailbox_id, target.row_id
                row = item_row(conn, mailbox_id, row_id, "kind, version")
                given_key = ref.get("ChangeKey") if local(ref) == "ItemId" else None
                if given_key and not overwrite and given_key != ids.change_key(row[1], row_id):
                    raise ResponseError("ErrorIrresolvableConflict", _CONFLICT_TEXT)
                updates = change.find(f"{T}Updates")
                conn.execute("SAVEPOINT one_change")
                try:
                    _apply(ctx, conn, row_id, updates if updates is not None else etree.Element("x"))
                except (ResponseError, props.PropertyError):
                    conn.execute("ROLLBACK TO one_change")
                    raise
                finally:
                    conn.execute("RELEASE one_change")
                version = conn.execute("SELECT version FROM items WHERE id=?", (row_id,)).fetchone()[0]
                messages.append(
                    soap.success(
                        "UpdateItem",
                        f'<m:Items><t:{row[0]}><t:ItemId Id="{ids.item_id(mailbox_id, row_id)}" '
                        f'ChangeKey="{ids.change_key(version, row_id)}"/></t:{row[0]}></m:Items>'
                        "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                    )
                )
            except props.PropertyError as exc:
                messages.append(soap.error("UpdateItem", "ErrorInvalidExtendedPropertyValue", str(exc), "<m:Items/>"))
            except ResponseError as exc:
                messages.append(soap.error("UpdateItem", exc.code, exc.text, "<m:Items/>"))
    return soap.operation_response("UpdateItem", messages)


def _local_day(found: Series, when: dt.datetime) -> dt.date:
    return when.astimezone(found.zone).date()


def _shortest_gap(found: Series, limit: int = 400) -> dt.timedelta | None:
    """The shortest time between two consecutive occurrences of the pattern (over its first `limit`)."""
    gap = None
    previous = None
    for count, start in enumerate(found.starts()):
        if count >= limit:
            break
        if previous is not None and (gap is None or start - previous < gap):
            gap = start - previous
        previous = start
    return gap


def _check_boundaries(
    found: Series, exceptions: series.Exceptions, original: dt.datetime, start: dt.datetime, end: dt.datetime
) -> None:
    """Exchange's rules for moving an occurrence: it ends after it starts, stays strictly between the days of
    its neighbours (as they now are: ErrorOccurrenceCrossingBoundary), lasts less than the pattern's shortest
    gap and overlaps no neighbour (ErrorOccurrenceTimeSpanTooBig)."""
    if end < start:
        raise ResponseError("ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate")
    if (start, end) == (original, original + found.duration):
        return  # not moved: the pattern itself placed it
    before, after = found.neighbours(original)
    spans: list[tuple[dt.datetime, dt.datetime, bool]] = []
    for neighbour, later in ((before, False), (after, True)):
        if neighbour is None or series.iso(neighbour) in exceptions.deleted:
            continue
        moved = exceptions.modified.get(series.iso(neighbour))
        actual = series.parse_time(moved["start"]) if moved else neighbour
        actual_end = series.parse_time(moved["end"]) if moved else neighbour + found.duration
        spans.append((actual, actual_end, later))
        if (later and _local_day(found, start) >= _local_day(found, actual)) or (
            not later and _local_day(found, start) <= _local_day(found, actual)
        ):
            raise ResponseError(
                "ErrorOccurrenceCrossingBoundary",
                "An occurrence cannot be moved to or past the day of an adjacent occurrence.",
            )
    gap = _shortest_gap(found)
    overlaps = any((later and end > n_start) or (not later and start < n_end) for n_start, n_end, later in spans)
    if overlaps or (gap is not None and end - start >= gap):
        raise ResponseError(
            "ErrorOccurrenceTimeSpanTooBig",
            "The occurrence is longer than the time between occurrences, or overlaps an adjacent occurrence.",
        )


def _update_occurrence(ctx: Context, db: sqlite3.Connection, ref: Ref, updates: etree._Element | None) -> str:
    """Turn one occurrence into an exception (or change an exception) with the item changes sent."""
    master = ctx.store.load_items(db, [ref.row_id]).get(ref.row_id)
    if master is None or master.mailbox_id != ref.mailbox_id:
        raise NOT_FOUND
    found, original = occurrence(master, ref)
    exceptions = series.Exceptions.load(master.exceptions)
    key = series.iso(original)
    change: dict[str, Any] = exceptions.modified.get(key) or {
        "start": key,
        "end": series.iso(original + found.duration),
        "fields": {},
        "ext": {},
        "version": 0,
    }
    for update in updates if updates is not None else []:
        kind, path = local(update), update[0]
        if local(path) == "ExtendedFieldURI":
            uri = extended.parse_uri(path)
            if kind == "DeleteItemField":
                change["ext"].pop(uri.key, None)
                continue
            prop = update.find(f".//{T}ExtendedProperty")
            if prop is None:
                raise ResponseError("ErrorInvalidPropertySet", "SetItemField without an ExtendedProperty.")
            uri, value = extended.read_values(prop)
            change["ext"][uri.key] = [uri.ptype, value]
            continue
        name = path.get("FieldURI", "").split(":", 1)[-1]
        if name in series.MASTER_ONLY or name in series.COMPUTED:
            raise ResponseError("ErrorInvalidPropertySet", f"{name} cannot be set on an occurrence.")
        if kind == "DeleteItemField":
            change["fields"].pop(name, None)
            if name == "Subject":
                change.pop("subject", None)
            continue
        holder = update[1] if len(update) > 1 else None
        value_elem = holder.find(f"{T}{name}") if holder is not None else None
        if value_elem is None:
            raise ResponseError("ErrorInvalidPropertySet", f"No value given for {name}.")
        if name in ("Start", "End"):
            try:
                change[name.lower()] = series.iso(series.parse_time(value_elem.text or ""))
            except ValueError as exc:
                raise ResponseError("ErrorInvalidValueForProperty", f"{name} is not a date-time.") from exc
        elif name == "Subject":
            change["subject"] = value_elem.text or ""
        else:
            change["fields"][name] = etree.tostring(value_elem, encoding="unicode")
    _check_boundaries(found, exceptions, original, series.parse_time(change["start"]), series.parse_time(change["end"]))
    change["version"] = int(change.get("version", 0)) + 1
    exceptions.modified[key] = change
    ctx.store.set_exceptions(db, ref.row_id, exceptions.dump())
    db.execute(
        "UPDATE items SET version=version+1, touched=?, modified=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
        (time.time(), ref.row_id),
    )
    version = master.version + 1 + change["version"]
    return soap.success(
        "UpdateItem",
        f'<m:Items><t:CalendarItem><t:ItemId Id="{ids.occurrence_id(ref.mailbox_id, ref.row_id, original)}" '
        f'ChangeKey="{ids.change_key(version)}"/></t:CalendarItem></m:Items>'
        "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
    )
