"""Appointments and meetings as CalendarItem fields (with recurrence, exceptions and deleted
occurrences), and the same fields as an iCalendar VEVENT for `rebuild export` and comparison.

EWS CalendarItem fields, not iCalendar MIME, are the upload path: Exchange's iCalendar import drops
per-occurrence exceptions and attendee state, while typed fields keep them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline import mapi, props
from pipeline.convert import addresses, people, recurrence
from pipeline.convert.common import base_fields
from pipeline.convert.timezones import TimeZone, item_timezone
from pipeline.model import SourceItem

BUSY_STATUS = recurrence.BUSY_STATUS
ASF_MEETING = 0x0001
ASF_CANCELED = 0x0004


def global_uid(item: SourceItem) -> str | None:
    """The iCalendar UID of a meeting (MS-OXCICAL): the vCal-Uid inside the global object id when
    it carries one, else the clean global object id in upper-case hex."""
    goid = props.binary(item.named_prop(mapi.PSETID_MEETING, mapi.LID_CLEAN_GLOBAL_OBJECT_ID)) or props.binary(
        item.named_prop(mapi.PSETID_MEETING, mapi.LID_GLOBAL_OBJECT_ID))
    if not goid or len(goid) < 40:
        return None
    clean = goid[:16] + b"\x00\x00\x00\x00" + goid[20:]
    payload = clean[40:]
    if payload.startswith(b"vCal-Uid\x01\x00\x00\x00"):
        return payload[12:].rstrip(b"\x00").decode("utf-8", errors="replace") or None
    return clean.hex().upper()


def _local_date(moment: datetime, zone: TimeZone | None) -> date:
    return (zone.to_local(moment) if zone else moment.astimezone(UTC).replace(tzinfo=None)).date()


def calendar_fields(item: SourceItem, domain: str) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    fields = base_fields(item)
    start = props.named_time(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_START_WHOLE) or props.named_time(
        item, mapi.PSETID_COMMON, mapi.LID_COMMON_START)
    end = props.named_time(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE) or props.named_time(
        item, mapi.PSETID_COMMON, mapi.LID_COMMON_END)
    if start is None:
        warnings.append("appointment has no start time; using its creation time")
        start = props.time(item, mapi.PR_CREATION_TIME) or datetime(2000, 1, 1, tzinfo=UTC)
    if end is None or end < start:
        end = start + timedelta(minutes=props.named_int(item, mapi.PSETID_APPOINTMENT,
                                                         mapi.LID_APPOINTMENT_DURATION) or 30)
    zone = item_timezone(item)
    end_zone = item_timezone(item, end=True)
    all_day = bool(props.named_bool(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_SUB_TYPE))
    fields["is_all_day"] = all_day
    if all_day:
        fields["start"] = _local_date(start, zone)
        fields["end"] = max(_local_date(end, end_zone or zone), fields["start"] + timedelta(days=1))
    else:
        fields["start"], fields["end"] = start, end
    if zone and zone.key_name:
        fields["start_timezone"] = zone.key_name
    if end_zone and end_zone.key_name:
        fields["end_timezone"] = end_zone.key_name
    description = props.named_text(item, mapi.PSETID_APPOINTMENT, mapi.LID_TIMEZONE_DESCRIPTION)
    if description:
        fields["timezone_description"] = description
        # Without a TZDEFINITION the description is all we have; some writers put the key name there.
        if "start_timezone" not in fields and not description.lstrip().startswith("("):
            fields["start_timezone"] = fields.setdefault("end_timezone", description)
    location = props.named_text(item, mapi.PSETID_APPOINTMENT, mapi.LID_LOCATION)
    if location:
        fields["location"] = location
    busy = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_BUSY_STATUS)
    fields["legacy_free_busy_status"] = BUSY_STATUS.get(busy if busy is not None else 2, "Busy")
    state = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_STATE_FLAGS) or 0
    fields["is_meeting"] = bool(state & ASF_MEETING)
    fields["is_cancelled"] = bool(state & ASF_CANCELED)
    uid = global_uid(item)
    if uid:
        fields["uid"] = uid
    organizer = people.mailbox(addresses.sent_representing(item, domain))
    if organizer and fields["is_meeting"]:
        fields["organizer"] = organizer
    fields.update({k: v for k, v in people.attendees(item, domain).items() if v})
    blob = props.binary(item.named_prop(mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_RECUR))
    recurring = props.named_bool(item, mapi.PSETID_APPOINTMENT, mapi.LID_RECURRING)
    if blob and recurring is not False:
        try:
            rec = recurrence.parse(blob, props.codec_for(props.item_codepage(item)))
            fields["recurrence"] = recurrence.describe(rec, zone)
            _exception_bodies(item, fields["recurrence"], zone)
        except recurrence.RecurrenceError as exc:
            warnings.append(f"recurrence not carried: {exc}")
    elif recurring:
        warnings.append("recurring appointment without a recurrence pattern; uploaded as a single item")
    return fields, warnings


def _exception_bodies(item: SourceItem, described: dict[str, Any], zone: TimeZone | None) -> None:
    """Modified occurrences whose body differs keep it in an embedded exception message; match it by
    PidLidExceptionReplaceTime (the original start, UTC) and copy its body."""
    wanted = {entry["original_start"]: entry for entry in described["modified_occurrences"]}
    if not wanted:
        return
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
        entry = wanted.get(replace) if replace else None
        if entry is None:
            continue
        inner_fields = base_fields(inner)
        if entry.get("has_exceptional_body") and inner_fields.get("body"):
            entry["body"] = inner_fields["body"]
            entry["body_type"] = inner_fields.get("body_type", "text")
        inner_people = people.attendees(inner, "rebuild.invalid")
        if any(inner_people.values()):
            entry.update({k: v for k, v in inner_people.items() if v})


# -- iCalendar, for export ------------------------------------------------------------------------

_ICAL_DAYS = {"Sunday": "SU", "Monday": "MO", "Tuesday": "TU", "Wednesday": "WE", "Thursday": "TH",
              "Friday": "FR", "Saturday": "SA"}
_ICAL_SETPOS = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_RELATIVE_DAYS = {"Day": list(_ICAL_DAYS.values()), "Weekday": ["MO", "TU", "WE", "TH", "FR"],
                  "WeekendDay": ["SA", "SU"]}


def rrule(description: dict[str, Any]) -> dict[str, Any]:
    kind = description["pattern"]
    rule: dict[str, Any] = {}
    if kind == "daily":
        rule = {"FREQ": "DAILY", "INTERVAL": description["interval"]}
    elif kind == "weekly":
        rule = {"FREQ": "WEEKLY", "INTERVAL": description["interval"],
                "BYDAY": [_ICAL_DAYS[d] for d in description["weekdays"]],
                "WKST": _ICAL_DAYS[description["first_day_of_week"]]}
    elif kind in ("absolute_monthly", "absolute_yearly"):
        rule = {"FREQ": "MONTHLY" if kind == "absolute_monthly" else "YEARLY",
                "BYMONTHDAY": description["day_of_month"] if description["day_of_month"] < 31 else -1}
        rule["INTERVAL" if kind == "absolute_monthly" else "BYMONTH"] = description.get(
            "interval") if kind == "absolute_monthly" else description["month"]
    else:
        weekday = description["weekday"]
        days = _RELATIVE_DAYS.get(weekday, [_ICAL_DAYS.get(weekday, "MO")])
        rule = {"FREQ": "MONTHLY" if kind == "relative_monthly" else "YEARLY", "BYDAY": days,
                "BYSETPOS": _ICAL_SETPOS[description["week_number"]]}
        if kind == "relative_monthly":
            rule["INTERVAL"] = description["interval"]
        else:
            rule["BYMONTH"] = description["month"]
    if description.get("count"):
        rule["COUNT"] = description["count"]
    elif description.get("end"):
        rule["UNTIL"] = datetime.combine(description["end"], datetime.max.time().replace(microsecond=0),
                                         tzinfo=UTC)
    return rule


def _ical_person(entry: dict[str, Any], role: str | None = None) -> Any:
    from icalendar import vCalAddress

    address = vCalAddress(f"mailto:{entry.get('email') or ''}")
    if entry.get("name"):
        address.params["CN"] = entry["name"]
    if role:
        address.params["ROLE"] = role
    partstat = {"Accept": "ACCEPTED", "Decline": "DECLINED", "Tentative": "TENTATIVE"}.get(
        entry.get("response_type", ""), "NEEDS-ACTION")
    if role:
        address.params["PARTSTAT"] = partstat
    return address


def to_ics(fields: dict[str, Any], item_class: str = "IPM.Appointment", identity: str = "",
           itip: dict[str, Any] | None = None) -> bytes:
    """A VCALENDAR with the master VEVENT and one VEVENT per modified occurrence. An appointment without a
    UID of its own gets one from its identity (the fingerprint), so the same store exports the same bytes.
    itip (meeting messages, RFC 5546): method, stamp (DTSTAMP), sequence, and status for a cancellation."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//rebuild//convert//EN")
    cal.add("version", "2.0")
    if itip:
        cal.add("method", itip["method"])
    event = Event()
    uid = fields.get("uid") or f"rebuild-{identity.replace('#', '-') or 'no-uid'}"
    event.add("uid", uid)
    if itip:
        event.add("dtstamp", itip["stamp"])
        event.add("sequence", itip["sequence"])
        if itip.get("status"):
            event.add("status", itip["status"])
    event.add("summary", fields.get("subject", ""))
    event.add("dtstart", fields["start"])
    event.add("dtend", fields["end"])
    if fields.get("location"):
        event.add("location", fields["location"])
    if fields.get("body") and fields.get("body_type") == "text":
        event.add("description", fields["body"])
    event.add("class", {"Private": "PRIVATE", "Confidential": "CONFIDENTIAL"}.get(str(fields.get("sensitivity")),
                                                                                   "PUBLIC"))
    event.add("transp", "TRANSPARENT" if fields.get("legacy_free_busy_status") == "Free" else "OPAQUE")
    event.add("x-microsoft-cdo-busystatus", fields.get("legacy_free_busy_status", "Busy").upper())
    if fields.get("categories"):
        event.add("categories", fields["categories"])
    if fields.get("organizer"):
        event.add("organizer", _ical_person(fields["organizer"]))
    for key, role in (("required_attendees", "REQ-PARTICIPANT"), ("optional_attendees", "OPT-PARTICIPANT"),
                      ("resources", "NON-PARTICIPANT")):
        for entry in fields.get(key, []):
            event.add("attendee", _ical_person(entry, role))
    if fields.get("reminder_is_set"):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "Reminder")
        alarm.add("trigger", timedelta(minutes=-int(fields.get("reminder_minutes_before_start", 15))))
        event.add_component(alarm)
    described = fields.get("recurrence")
    if described:
        event.add("rrule", rrule(described))
        for moment in described["deleted_occurrences"]:
            event.add("exdate", moment)
    cal.add_component(event)
    for entry in (described or {}).get("modified_occurrences", []):
        occurrence = Event()
        occurrence.add("uid", uid)
        occurrence.add("recurrence-id", entry["original_start"])
        occurrence.add("summary", entry.get("subject", fields.get("subject", "")))
        occurrence.add("dtstart", entry["start"])
        occurrence.add("dtend", entry["end"])
        if entry.get("location", fields.get("location")):
            occurrence.add("location", entry.get("location", fields.get("location")))
        cal.add_component(occurrence)
    return cal.to_ical()


#: Meeting messages and the iTIP method of the text/calendar part a client acts on (RFC 5546; the classes of
#: [MS-OXOCAL] 2.2.6, 2.2.7 and 2.2.8), checked case-insensitively on whole dotted parts.
MEETING_METHODS = (("IPM.Schedule.Meeting.Request", "REQUEST"), ("IPM.Schedule.Meeting.Canceled", "CANCEL"),
                   ("IPM.Schedule.Meeting.Resp.Pos", "REPLY"), ("IPM.Schedule.Meeting.Resp.Neg", "REPLY"),
                   ("IPM.Schedule.Meeting.Resp.Tent", "REPLY"))
_REPLIES = {"pos": "Accept", "neg": "Decline", "tent": "Tentative"}


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
    fields, warnings = calendar_fields(item, domain)
    if not fields.get("uid") or any(w.startswith("appointment has no start time") for w in warnings):
        return None  # no meeting a calendar could match, or none with a time of its own
    fields.pop("body", None)  # the body travels in its own part
    sender = people.mailbox(addresses.sent_representing(item, domain))
    if method == "REPLY":
        # A response goes from an attendee (its sender) to the organizer (its recipient).
        organizer = (fields.get("required_attendees") or [None])[0]
        if sender is None or organizer is None:
            return None
        reply = dict(sender, response_type=_REPLIES[item_class.lower().split(".")[4]])
        fields.update(organizer=organizer, required_attendees=[reply], optional_attendees=[], resources=[])
    elif sender is not None:
        fields["organizer"] = sender
    sequence = props.named_int(item, mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_SEQUENCE) or 0
    stamp = props.time(item, mapi.PR_CLIENT_SUBMIT_TIME) or props.time(item, mapi.PR_CREATION_TIME) or fields["start"]
    if not isinstance(stamp, datetime):
        stamp = datetime.combine(stamp, datetime.min.time(), tzinfo=UTC)
    itip = {"method": method, "stamp": stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC),
            "sequence": sequence, "status": "CANCELLED" if method == "CANCEL" else None}
    return method, to_ics(fields, item_class, itip=itip)
