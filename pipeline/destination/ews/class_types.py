"""Which EWS item type carries an item class: Exchange refuses a class inconsistent with the element.

IPM.Post* travels as a PostItem, IPM.Schedule.Meeting.* as MeetingRequest/MeetingResponse/
MeetingCancellation/MeetingMessage, everything else that reaches here as a Message. Each type is a variant
whose ItemClass is writable (exchangelib treats it as read-only); the meeting types keep only the fields a
stored message has, since exchangelib would otherwise send calendar defaults that make no sense for an old
meeting message. If the server still refuses the type, the uploader falls back to a plain message and
reports it (upload._simpler).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from exchangelib import PostItem
from exchangelib.items import MeetingCancellation, MeetingMessage, MeetingRequest, MeetingResponse
from exchangelib.items.calendar_item import BaseMeetingItem
from exchangelib.properties import Fields

from pipeline.destination.ews.classed import ClassedMessage

#: Class prefixes (whole dotted segments, most specific first) and the exchangelib type that carries them.
_TYPES: tuple[tuple[str, type], ...] = (
    ("ipm.post", PostItem),
    ("ipm.schedule.meeting.request", MeetingRequest),
    ("ipm.schedule.meeting.resp", MeetingResponse),
    ("ipm.schedule.meeting.canceled", MeetingCancellation),
    ("ipm.schedule.meeting", MeetingMessage),
)
#: Meeting fields a stored copy of an old meeting message cannot state truthfully (they have defaults
#: exchangelib would send, or point at calendar items of the old mailbox).
_MEETING_DROPPED = {"response_type", "associated_calendar_item_id"}


@cache
def _classed(cls: Any) -> Any:  # exchangelib item classes (untyped)
    """cls with a writable ItemClass (and, for meeting types, only the fields of a stored message)."""
    keep = None
    if issubclass(cls, BaseMeetingItem):
        keep = {f.name for f in BaseMeetingItem.FIELDS} - _MEETING_DROPPED
    fields = []
    for field in cls.FIELDS:
        if keep is not None and field.name not in keep:
            continue
        if field.name == "item_class":
            field = copy.copy(field)
            field.is_read_only = False
        fields.append(field)
    return type(f"Classed{cls.__name__}", (cls,), {"FIELDS": Fields(*fields), "__doc__": cls.__doc__})


#: Every variant, so extended properties can be registered on each (properties.ITEM_CLASSES).
CLASSED_TYPES: tuple[type, ...] = tuple(_classed(cls) for _, cls in _TYPES)


def type_for_class(item_class: str) -> Any:
    """The exchangelib type (ItemClass writable) to create an item of this class with."""
    low = item_class.strip().lower()
    for prefix, cls in _TYPES:
        if low == prefix or low.startswith(prefix + "."):
            return _classed(cls)
    return ClassedMessage
