"""Appointments and meetings as typed `Appointment` values (with recurrence, exceptions and deleted
occurrences); item_files.py writes the iCalendar `rebuild export` keeps, and a meeting message's
text/calendar part.

Typed values, not iCalendar MIME, are the upload path: Exchange's iCalendar import drops per-occurrence
exceptions and attendee state, while EWS CalendarItem fields (and Graph's event) keep them.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import addresses, item_files, people, recurrence
from pipeline.convert.common import body, common
from pipeline.convert.item_files import Itip
from pipeline.convert.timezones import TimeZone, item_timezone
from pipeline.model import SourceItem

BUSY_STATUS = recurrence.BUSY_STATUS
ASF_MEETING = 0x0001
ASF_CANCELED = 0x0004


def global_uid(item: SourceItem) -> str | None:
    """The iCalendar UID of a meeting (MS-OXCICAL): the vCal-Uid inside the global object id when
    it carries one, else the clean global object id in upper-case hex."""
    goid = props.binary(item.named_prop(mapi.PSETID_MEETING, mapi.LID_CLEAN_GLOBAL_OBJECT_ID)) or props.binary(
        item.named_prop(mapi.PSETID_MEETING, mapi.LID_GLOBAL_OBJECT_ID)
    )
    if not goid or len(goid) < 40:
        return None
    clean = goid[:16] + b"\x00\x00\x00\x00" + goid[20:]
    payload = clean[40:]
    if payload.startswith(b"vCal-Uid\x01\x00\x00\x00"):
        return payload[12:].rstrip(b"\x00").decode("utf-8", errors="replace") or None
    return clean.hex().upper()


def _local_date(moment: datetime, zone: TimeZone | None) -> date:
    return (zone.to_local(moment) if zone else moment.astimezone(UTC).replace(tzinfo=None)).date()


def appointment(item: SourceItem, domain: str) -> tuple[v.Appointment, list[str]]:
    """The appointment (its series and exceptions included) and what could not be carried, in words."""
    warnings: list[str] = []
    start = props.named_time(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_START_WHOLE) or props.named_time(
        item, mapi.PSETID_COMMON, mapi.LID_COMMON_START
    )
    end = props.named_time(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE) or props.named_time(
        item, mapi.PSETID_COMMON, mapi.LID_COMMON_END
    )
    if start is None:
        warnings.append("appointment has no start time; using its creation time")
        start = props.time(item, mapi.PR_CREATION_TIME) or datetime(2000, 1, 1, tzinfo=UTC)
    if end is None or end < start:
        end = start + timedelta(
            minutes=props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_DURATION) or 30
        )
    zone = item_timezone(item)
    end_zone = item_timezone(item, end=True)
    all_day = bool(props.named_bool(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_SUB_TYPE))
    first: datetime | date = start
    last: datetime | date = end
    if all_day:
        first = _local_date(start, zone)
        last = max(_local_date(end, end_zone or zone), first + timedelta(days=1))
    start_key = zone.key_name if zone and zone.key_name else None
    end_key = end_zone.key_name if end_zone and end_zone.key_name else None
    description = props.named_text(item, mapi.PSETID_APPOINTMENT, mapi.LID_TIMEZONE_DESCRIPTION) or None
    # Without a TZDEFINITION the description is all we have; some writers put the key name there.
    if description and start_key is None and not description.lstrip().startswith("("):
        end_key = end_key or description
        start_key = end_key
    busy = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_BUSY_STATUS)
    state = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_STATE_FLAGS) or 0
    is_meeting = bool(state & ASF_MEETING)
    series = None
    blob = props.binary(item.named_prop(mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_RECUR))
    recurring = props.named_bool(item, mapi.PSETID_APPOINTMENT, mapi.LID_RECURRING)
    if blob and recurring is not False:
        try:
            rec = recurrence.parse(blob, props.codec_for(props.item_codepage(item)))
            series = _exception_bodies(item, recurrence.series(rec, zone))
        except recurrence.RecurrenceError as exc:
            warnings.append(f"recurrence not carried: {exc}")
    elif recurring:
        warnings.append("recurring appointment without a recurrence pattern; uploaded as a single item")
    value = v.Appointment(
        **common(item),
        start=first,
        end=last,
        is_all_day=all_day,
        start_zone=start_key,
        end_zone=end_key,
        zone_description=description,
        location=props.named_text(item, mapi.PSETID_APPOINTMENT, mapi.LID_LOCATION) or None,
        show_as=BUSY_STATUS.get(busy if busy is not None else 2, v.ShowAs.BUSY),
        is_meeting=is_meeting,
        is_cancelled=bool(state & ASF_CANCELED),
        uid=global_uid(item),
        organizer=people.person(addresses.sent_representing(item, domain)) if is_meeting else None,
        attendees=people.attendees(item, domain),
        series=series,
    )
    return value, warnings


def _exception_bodies(item: SourceItem, series: v.Series) -> v.Series:
    """Modified occurrences whose body differs keep it in an embedded exception message; match it by
    PidLidExceptionReplaceTime (the original start, UTC) and copy its body and attendees."""
    modified = list(series.modified)
    wanted = {entry.original_start: index for index, entry in enumerate(modified)}
    if not wanted:
        return series
    for att in item.attachments:
        if att.method != mapi.ATTACH_EMBEDDED_MSG:
            continue
        try:
            inner = att.embedded()
        except Exception:
            continue
        if inner is None:
            continue
        replace = props.named_time(inner, mapi.PSETID_APPOINTMENT, mapi.LID_EXCEPTION_REPLACE_TIME)
        index = wanted.get(replace) if replace else None
        if index is None:
            continue
        entry = modified[index]
        inner_body = body(inner)
        if entry.has_exceptional_body and inner_body is not None:
            entry = dataclasses.replace(entry, body=inner_body)
        inner_people = people.attendees(inner, "rebuild.invalid")
        if inner_people:
            entry = dataclasses.replace(entry, attendees=inner_people)
        modified[index] = entry
    return dataclasses.replace(series, modified=tuple(modified))


#: Meeting messages and the iTIP method of the text/calendar part a client acts on (RFC 5546; the classes of
#: [MS-OXOCAL] 2.2.6, 2.2.7 and 2.2.8), checked case-insensitively on whole dotted parts.
MEETING_METHODS = (
    ("IPM.Schedule.Meeting.Request", "REQUEST"),
    ("IPM.Schedule.Meeting.Canceled", "CANCEL"),
    ("IPM.Schedule.Meeting.Resp.Pos", "REPLY"),
    ("IPM.Schedule.Meeting.Resp.Neg", "REPLY"),
    ("IPM.Schedule.Meeting.Resp.Tent", "REPLY"),
)
_REPLIES = {"pos": v.Response.ACCEPTED, "neg": v.Response.DECLINED, "tent": v.Response.TENTATIVE}


def meeting_method(message_class: str) -> str | None:
    """REQUEST, CANCEL or REPLY for a meeting message's class; None for anything else."""
    lowered = message_class.lower()
    for prefix, method in MEETING_METHODS:
        prefix = prefix.lower()
        if lowered == prefix or lowered.startswith(prefix + "."):
            return method
    return None


def meeting_ics(item: SourceItem, domain: str) -> tuple[str, bytes] | None:
    """(method, VCALENDAR) for a meeting request, cancellation or response, from its appointment properties,
    as the text/calendar part Exchange puts in such a message's MIME ([MS-OXCICAL], [MS-OXCMAIL] 2.4.3):
    what lets a client accept, decline or remove the meeting. None for other items, or a meeting without
    a global object id (no UID a calendar could match) or without a start time."""
    item_class = props.message_class(item)
    method = meeting_method(item_class)
    if method is None:
        return None
    value, warnings = appointment(item, domain)
    if not value.uid or any(w.startswith("appointment has no start time") for w in warnings):
        return None  # no meeting a calendar could match, or none with a time of its own
    sender = people.person(addresses.sent_representing(item, domain))
    if method == "REPLY":
        # A response goes from an attendee (its sender) to the organizer (its recipient).
        organizer = value.attendees.required[0].person if value.attendees.required else None
        if sender is None or organizer is None:
            return None
        reply = v.Attendee(sender, _REPLIES[item_class.lower().split(".")[4]])
        value = dataclasses.replace(value, organizer=organizer, attendees=v.Attendees((reply,)))
    elif sender is not None:
        value = dataclasses.replace(value, organizer=sender)
    value = dataclasses.replace(value, body=None)  # the body travels in its own part
    sequence = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_SEQUENCE) or 0
    stamp = props.time(item, mapi.PR_CLIENT_SUBMIT_TIME) or props.time(item, mapi.PR_CREATION_TIME) or value.start
    if not isinstance(stamp, datetime):
        stamp = datetime.combine(stamp, datetime.min.time(), tzinfo=UTC)
    itip = Itip(
        method,
        stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC),
        sequence,
        "CANCELLED" if method == "CANCEL" else None,
    )
    return method, item_files.to_ics(value, itip=itip)
