"""Which EWS item element may carry which item class, as Exchange enforces on CreateItem.

Exchange documents that an ItemClass inconsistent with the item type is an error (a message cannot take a
task's class): IPM.Post belongs to PostItem, IPM.Schedule.Meeting.* to the meeting types, IPM.Appointment to
CalendarItem, and so on. Classes no typed element claims (IPM.Note*, IPM.StickyNote, REPORT.*, custom ones)
belong to Message and Item.
"""

from __future__ import annotations

MEETING_KINDS = frozenset({"MeetingMessage", "MeetingRequest", "MeetingResponse", "MeetingCancellation"})

#: Class prefixes (whole dotted segments, most specific first) and the element that owns them.
_OWNERS: tuple[tuple[str, str], ...] = (
    ("ipm.appointment", "CalendarItem"),
    ("ipm.contact", "Contact"),
    ("ipm.distlist", "DistributionList"),
    ("ipm.task", "Task"),
    ("ipm.post", "PostItem"),
    ("ipm.schedule.meeting.request", "MeetingRequest"),
    ("ipm.schedule.meeting.resp", "MeetingResponse"),
    ("ipm.schedule.meeting.canceled", "MeetingCancellation"),
    ("ipm.schedule.meeting", "MeetingMessage"),
)


def owner(item_class: str) -> str | None:
    """The element a class belongs to, or None when any message (Message, Item) may carry it."""
    low = item_class.strip().lower()
    for prefix, kind in _OWNERS:
        if low == prefix or low.startswith(prefix + "."):
            return kind
    return None


def consistent(kind: str, item_class: str) -> bool:
    """May a <t:{kind}> element carry `item_class`? (A meeting element takes any meeting class.)"""
    wanted = owner(item_class)
    if kind in ("Message", "Item"):
        return wanted is None
    if kind in MEETING_KINDS:
        return wanted in MEETING_KINDS
    return wanted == kind
