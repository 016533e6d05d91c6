"""MimeContent of a calendar item: the iCalendar object Exchange answers for it (GetItem with
IncludeMimeContent on a CalendarItem), built from the item's stored fields and its series' exceptions.

Exchange gives calendar items as iCalendar (METHOD:PUBLISH, a VTIMEZONE per zone, the master VEVENT with
RRULE and EXDATE, one VEVENT per modified occurrence with RECURRENCE-ID): Microsoft, "Export items by using
EWS in Exchange" (appointments export as .ics), [MS-OXCICAL] for the mapping of each property. DavMail reads
it as is; a MIME message around it is what Exchange gives for meeting messages, not calendar items.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from lxml import etree

from pipeline.sandbox import timezones
from pipeline.sandbox.ews import recurrence, series
from pipeline.sandbox.ews.soap import T_NS
from pipeline.sandbox.rows import ItemRow

_T = f"{{{T_NS}}}"
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_CLASS = {"Normal": "PUBLIC", "Personal": "PRIVATE", "Private": "PRIVATE", "Confidential": "CONFIDENTIAL"}
_PRIORITY = {"High": "1", "Normal": "5", "Low": "9"}
_BUSY = {"Free": "FREE", "Tentative": "TENTATIVE", "Busy": "BUSY", "OOF": "OOF", "WorkingElsewhere": "WORKINGELSEWHERE"}
_INDEX = {1: "1", 2: "2", 3: "3", 4: "4", -1: "-1"}


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets are folded (continuation lines start with a space)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode("utf-8"))
            current = b""
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _offset(delta: dt.timedelta | None) -> str:
    seconds = int((delta or dt.timedelta()).total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    return f"{sign}{seconds // 3600:02d}{seconds % 3600 // 60:02d}"


def _transitions(zone: dt.tzinfo, year: int) -> list[tuple[dt.datetime, dt.timedelta, dt.timedelta]]:
    """(local wall time before, offset before, offset after) of each offset change in `year`."""
    found = []
    day = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    before = day.astimezone(zone).utcoffset()
    while day.year == year:
        following = day + dt.timedelta(days=1)
        after = following.astimezone(zone).utcoffset()
        if after != before and before is not None and after is not None:
            low, high = 0, 24 * 60  # bisect to the whole minute of the change
            while high - low > 1:
                middle = (low + high) // 2
                if (day + dt.timedelta(minutes=middle)).astimezone(zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append(((day + dt.timedelta(minutes=high) + before).replace(tzinfo=None), before, after))
            before = after
        day = following
    return found


def _yearly_rule(local: dt.datetime) -> str:
    last = local.day + 7 > calendar.monthrange(local.year, local.month)[1]
    index = -1 if last else (local.day - 1) // 7 + 1
    return f"RRULE:FREQ=YEARLY;BYMONTH={local.month};BYDAY={index}{_DAYS[local.weekday()]}"


def vtimezone(tzid: str, zone: dt.tzinfo, year: int) -> list[str]:
    """A VTIMEZONE for `zone` as of `year`: its yearly rules (as Exchange writes them, from 1601)."""
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    changes = _transitions(zone, year)
    if not changes:
        offset = _offset(dt.datetime(year, 1, 1, tzinfo=dt.UTC).astimezone(zone).utcoffset())
        lines += [
            "BEGIN:STANDARD",
            "DTSTART:16010101T000000",
            f"TZOFFSETFROM:{offset}",
            f"TZOFFSETTO:{offset}",
            "END:STANDARD",
        ]
    for local, before, after in changes:
        kind = "DAYLIGHT" if after > before else "STANDARD"
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:1601{local:%m%d}T{local:%H%M%S}",
            f"TZOFFSETFROM:{_offset(before)}",
            f"TZOFFSETTO:{_offset(after)}",
            _yearly_rule(local),
            f"END:{kind}",
        ]
    return [*lines, "END:VTIMEZONE"]


def _rrule(p: recurrence.Pattern, zone: dt.tzinfo, clock: dt.time) -> str:
    parts = []
    days = ",".join(_DAYS[d] for d in sorted(p.days))
    if p.kind == "daily":
        parts = ["FREQ=DAILY"]
    elif p.kind == "weekly":
        parts = ["FREQ=WEEKLY", f"BYDAY={days}"]
    elif p.kind == "absolute_monthly":
        parts = ["FREQ=MONTHLY", f"BYMONTHDAY={-1 if p.day_of_month == 31 else p.day_of_month}"]
    elif p.kind == "relative_monthly":
        parts = ["FREQ=MONTHLY", f"BYDAY={days}", f"BYSETPOS={_INDEX[p.week_index or 1]}"]
    elif p.kind == "absolute_yearly":
        parts = ["FREQ=YEARLY", f"BYMONTH={p.month}", f"BYMONTHDAY={p.day_of_month}"]
    else:
        parts = ["FREQ=YEARLY", f"BYMONTH={p.month}", f"BYDAY={days}", f"BYSETPOS={_INDEX[p.week_index or 1]}"]
    if p.count is not None:
        parts.append(f"COUNT={p.count}")
    elif p.end_date is not None:
        until = dt.datetime.combine(p.end_date, clock, zone).astimezone(dt.UTC)
        parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    parts.append(f"INTERVAL={p.interval}")
    if p.kind == "weekly":
        parts.append(f"WKST={_DAYS[p.first_day_of_week]}")
    return "RRULE:" + ";".join(parts)


def _people(fields: dict[str, str], name: str) -> list[tuple[str, str]]:
    xml = fields.get(name)
    if not xml:
        return []
    found = []
    for mailbox in etree.fromstring(xml).iter(f"{_T}Mailbox"):
        email = (mailbox.findtext(f"{_T}EmailAddress") or "").strip()
        if email:
            found.append(((mailbox.findtext(f"{_T}Name") or "").strip(), email))
    return found


class _Clock:
    """How a time is written in this item: local, with the TZID of its zone."""

    def __init__(self, tzid: str, zone: dt.tzinfo) -> None:
        self.tzid, self.zone = tzid, zone

    def prop(self, name: str, moment: dt.datetime) -> str:
        return f"{name};TZID={self.tzid}:{moment.astimezone(self.zone):%Y%m%dT%H%M%S}"


def _times(fields: dict[str, str], clock: _Clock, start: dt.datetime, end: dt.datetime) -> list[str]:
    if series.field_text(fields, "IsAllDayEvent") in ("1", "true"):
        local_start, local_end = start.astimezone(clock.zone), end.astimezone(clock.zone)
        return [f"DTSTART;VALUE=DATE:{local_start:%Y%m%d}", f"DTEND;VALUE=DATE:{local_end:%Y%m%d}"]
    return [clock.prop("DTSTART", start), clock.prop("DTEND", end)]


def _text_lines(fields: dict[str, str]) -> list[str]:
    lines = []
    for field_name, prop in (("Subject", "SUMMARY"), ("Location", "LOCATION")):
        text = series.field_text(fields, field_name)
        if text:
            lines.append(f"{prop}:{_escape(text)}")
    return lines


def calendar_ics(item: ItemRow) -> bytes:
    """The iCalendar text of a calendar item (master with its exceptions, or a single appointment)."""
    fields = item.fields
    start_text, end_text = series.field_text(fields, "Start"), series.field_text(fields, "End")
    start = series.parse_time(start_text) if start_text else series.parse_time(item.created)
    end = series.parse_time(end_text) if end_text else start
    zone_elem = fields.get("StartTimeZone")
    tzid = (etree.fromstring(zone_elem).get("Id") if zone_elem else None) or "UTC"
    try:
        zone = timezones.zone(tzid) if tzid != "UTC" else dt.UTC
    except timezones.UnknownZone:
        tzid, zone = "UTC", dt.UTC
    # Exchange writes every time with its zone's TZID and that zone's VTIMEZONE, UTC included (DavMail reads
    # the user's VTIMEZONE from such an item: without one it cannot accept a new event).
    clock = _Clock(tzid, zone)
    stamp = f"DTSTAMP:{series.parse_time(item.modified):%Y%m%dT%H%M%SZ}"
    lines = ["BEGIN:VCALENDAR", "METHOD:PUBLISH", "PRODID:Microsoft Exchange Server 2010", "VERSION:2.0"]
    lines += vtimezone(tzid, zone, start.astimezone(zone).year)
    uid = series.field_text(fields, "UID") or f"sandbox-{item.mailbox_id}-{item.id}"
    event = ["BEGIN:VEVENT"]
    organizer = _people(fields, "Organizer")
    if organizer:
        name, email = organizer[0]
        event.append(f"ORGANIZER;CN={_escape(name or email)}:mailto:{email}")
    for role, field_name in (("REQ-PARTICIPANT", "RequiredAttendees"), ("OPT-PARTICIPANT", "OptionalAttendees")):
        for name, email in _people(fields, field_name):
            event.append(
                f"ATTENDEE;ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={_escape(name or email)}:mailto:{email}"
            )
    body = series.field_text(fields, "Body")
    if body:
        event.append(f"DESCRIPTION:{_escape(body)}")
    pattern = recurrence.parse(fields["Recurrence"]) if "Recurrence" in fields else None
    exceptions: dict[str, Any] = item.exceptions or {}
    if pattern is not None:
        event.append(_rrule(pattern, zone, start.astimezone(zone).time()))
        for original in sorted(exceptions.get("deleted", [])):
            event.append(clock.prop("EXDATE", series.parse_time(original)))
    event.append(f"UID:{uid}")
    event += _text_lines({"Subject": fields.get("Subject") or _subject(item), **fields})
    event += _times(fields, clock, start, end)
    event.append(f"CLASS:{_CLASS.get(series.field_text(fields, 'Sensitivity') or 'Normal', 'PUBLIC')}")
    event.append(f"PRIORITY:{_PRIORITY.get(series.field_text(fields, 'Importance') or 'Normal', '5')}")
    event.append(stamp)
    busy = series.field_text(fields, "LegacyFreeBusyStatus") or "Busy"
    event.append(f"TRANSP:{'TRANSPARENT' if busy == 'Free' else 'OPAQUE'}")
    event.append(f"X-MICROSOFT-CDO-BUSYSTATUS:{_BUSY.get(busy, 'BUSY')}")
    if series.field_text(fields, "ReminderIsSet") in ("1", "true"):
        minutes = series.field_text(fields, "ReminderMinutesBeforeStart") or "15"
        event += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:REMINDER",
            f"TRIGGER;RELATED=START:-PT{minutes}M",
            "END:VALARM",
        ]
    lines += [*event, "END:VEVENT"]
    for original, change in sorted(exceptions.get("modified", {}).items()):
        changed = {**fields, **change.get("fields", {})}
        if change.get("subject") is not None:  # kept beside the fields (series.py)
            changed["Subject"] = series.element("Subject", _xml_text(change["subject"]))
        lines += ["BEGIN:VEVENT", f"UID:{uid}", clock.prop("RECURRENCE-ID", series.parse_time(original))]
        lines += _text_lines({"Subject": fields.get("Subject") or _subject(item), **changed})
        lines += _times(changed, clock, series.parse_time(change["start"]), series.parse_time(change["end"]))
        lines += [stamp, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _subject(item: ItemRow) -> str:
    return series.element("Subject", _xml_text(item.subject or ""))
