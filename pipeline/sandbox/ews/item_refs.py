"""Resolving ItemId, OccurrenceItemId and RecurringMasterItemId elements to rows of the acting (or an allowed)
mailbox, and to one occurrence of a series.

Shared by GetItem, DeleteItem and UpdateItem, which all answer per id and need the same access checks.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews import series
from pipeline.sandbox.ews.context import Context, checked_ref, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.recurrence import RecurrenceError, Series
from pipeline.sandbox.ews.shapes import parse_attachment_id
from pipeline.sandbox.rows import ItemRow

#: Request elements that name an item (NonEmptyArrayOfBaseItemIdsType, ItemChange).
ITEM_REFS = ("ItemId", "OccurrenceItemId", "RecurringMasterItemId")


@dataclass(frozen=True, slots=True)
class Ref:
    """An item, or one occurrence of a series by InstanceIndex or by original start (its occurrence id)."""

    mailbox_id: int
    row_id: int
    index: int | None = None
    original: dt.datetime | None = None

    @property
    def is_occurrence(self) -> bool:
        return self.index is not None or self.original is not None


def parse_ref(ctx: Context, elem: etree._Element) -> tuple[int, int]:
    """(mailbox id, item row id) of an ItemId element, after the mailbox access check."""
    ref = checked_ref(ctx, elem, ids.parse_item_id)
    return ref.mailbox_id, ref.row_id


def _checked(ctx: Context, ref: Ref) -> Ref:
    mailbox = ctx.mailbox_by_id(ref.mailbox_id)
    ctx.check_mailbox_faults(mailbox.address)
    return ref


def resolve(ctx: Context, elem: etree._Element) -> Ref:
    """Any item reference of a request -> Ref, after the mailbox access check."""
    kind = local(elem)
    if kind == "OccurrenceItemId":
        master_text = elem.get("RecurringMasterId", "")
        if ids.is_occurrence_id(master_text):
            raise ResponseError(
                "ErrorCalendarCannotUseIdForRecurringMasterId", "The Id can't be used as a recurring master id."
            )
        mailbox_id, row_id = parse_ref(ctx, etree.Element("x", Id=master_text))
        try:
            index = int(elem.get("InstanceIndex", ""))
        except ValueError as exc:
            raise ResponseError("ErrorInvalidIdMalformed", "InstanceIndex is not a number.") from exc
        return Ref(mailbox_id, row_id, index=index)
    text = elem.get("OccurrenceId" if kind == "RecurringMasterItemId" else "Id", "")
    if ids.is_occurrence_id(text):
        occurrence = ids.parse_occurrence_id(text)
        ref = Ref(occurrence.mailbox_id, occurrence.row_id)
        if kind == "ItemId":
            ref = Ref(occurrence.mailbox_id, occurrence.row_id, original=occurrence.original_start)
        return _checked(ctx, ref)
    if kind == "RecurringMasterItemId":
        try:
            ids.parse_item_id(text)
        except ids.MalformedId as exc:
            raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
        raise ResponseError("ErrorCalendarCannotUseIdForOccurrenceId", "The Id can't be used as an occurrence id.")
    mailbox_id, row_id = parse_ref(ctx, elem)
    return Ref(mailbox_id, row_id)


def item_refs(parent: etree._Element | None) -> list[etree._Element]:
    return [] if parent is None else [c for c in parent if local(c) in ITEM_REFS]


def occurrence(master: ItemRow, ref: Ref) -> tuple[Series, dt.datetime]:
    """The series of `master` and the original start of the occurrence `ref` names, with Exchange's errors:
    an index past the end, a deleted occurrence, or a master that is no series."""
    try:
        found = series.series_of(master.fields) if master.kind == "CalendarItem" else None
    except RecurrenceError:
        found = None
    if found is None:
        raise ResponseError(
            "ErrorCalendarCannotUseIdForRecurringMasterId", "The Id can't be used as a recurring master id."
        )
    if ref.index is not None:
        original = found.nth(ref.index)
        if original is None:
            raise ResponseError(
                "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                "The occurrence index is out of recurrence range.",
            )
    else:
        original = ref.original
        if original is None or found.index_of(original) is None:
            raise NOT_FOUND
    if series.iso(original) in (master.exceptions or {}).get("deleted", []):
        raise ResponseError(
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "Occurrence with this index was previously deleted from the recurrence.",
        )
    return found, original


NOT_FOUND = ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")


def item_row(conn: sqlite3.Connection, mailbox_id: int, row_id: int, columns: str) -> Any:
    """These columns (our own constant SQL, never the request's) of the mailbox's item; NOT_FOUND when the
    mailbox has no item of that id."""
    row = conn.execute(f"SELECT {columns} FROM items WHERE id=? AND mailbox_id=?", (row_id, mailbox_id)).fetchone()
    if row is None:
        raise NOT_FOUND
    return row


def attachment_ref(ctx: Context, text: str) -> tuple[ids.RowRef, int]:
    """(the item, the attachment's position) an AttachmentId names, its mailbox checked (ErrorInvalidIdMalformed
    for an id that is not one, as Exchange answers)."""
    try:
        item_text, position = parse_attachment_id(text)
        item_ref = ids.parse_item_id(item_text)
    except (ValueError, ids.MalformedId) as exc:
        raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
    ctx.mailbox_by_id(item_ref.mailbox_id)
    return item_ref, position
