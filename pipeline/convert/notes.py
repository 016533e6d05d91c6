"""Sticky notes (IPM.StickyNote) and journal entries (IPM.Activity): EWS has no type for them, so
they travel as Message items whose ItemClass is set to the original class, with their own
properties (colour, size, journal type and times) stamped as extended properties.
"""

from __future__ import annotations

from typing import Any

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert.common import common
from pipeline.model import ExtendedProperty, SourceItem

NOTE_PROPS = (
    (mapi.LID_NOTE_COLOR, "Integer"),
    (mapi.LID_NOTE_WIDTH, "Integer"),
    (mapi.LID_NOTE_HEIGHT, "Integer"),
    (mapi.LID_NOTE_X, "Integer"),
    (mapi.LID_NOTE_Y, "Integer"),
)
JOURNAL_PROPS = (
    (mapi.LID_LOG_TYPE, "String"),
    (mapi.LID_LOG_TYPE_DESC, "String"),
    (mapi.LID_LOG_START, "SystemTime"),
    (mapi.LID_LOG_END, "SystemTime"),
    (mapi.LID_LOG_DURATION, "Integer"),
)


def _named(item: SourceItem, guid: str, spec: tuple[tuple[int, str], ...]) -> list[ExtendedProperty]:
    out = []
    for lid, kind in spec:
        value: Any
        if kind == "Integer":
            value = props.named_int(item, guid, lid)
        elif kind == "SystemTime":
            value = props.named_time(item, guid, lid)
        else:
            value = props.named_text(item, guid, lid)
        if value is not None:
            out.append(ExtendedProperty(kind, value, propset_guid=guid, name=lid))
    return out


def sticky_note(item: SourceItem) -> tuple[v.StickyNote, list[ExtendedProperty]]:
    """The note, and its colour, size and position as extended properties."""
    value = v.StickyNote(**common(item), item_class=props.message_class(item))
    return value, _named(item, mapi.PSETID_NOTE, NOTE_PROPS)


def journal_entry(item: SourceItem) -> tuple[v.JournalEntry, list[ExtendedProperty]]:
    """The entry, and its type, times, duration and companions as extended properties."""
    value = v.JournalEntry(
        **common(item),
        item_class=props.message_class(item),
        start=props.named_time(item, mapi.PSETID_LOG, mapi.LID_LOG_START),
        end=props.named_time(item, mapi.PSETID_LOG, mapi.LID_LOG_END),
    )
    extra = _named(item, mapi.PSETID_LOG, JOURNAL_PROPS)
    for lid in (mapi.LID_COMMON_START, mapi.LID_COMMON_END):
        moment = props.named_time(item, mapi.PSETID_COMMON, lid)
        if moment is not None:
            extra.append(ExtendedProperty("SystemTime", moment, propset_guid=mapi.PSETID_COMMON, name=lid))
    companions = props.string_list(item.named_prop(mapi.PSETID_COMMON, mapi.LID_COMMON_CONTACTS))
    if companions:
        extra.append(
            ExtendedProperty("StringArray", companions, propset_guid=mapi.PSETID_COMMON, name=mapi.LID_COMMON_CONTACTS)
        )
    return value, extra
