"""A calendar item created from iCalendar MimeContent: Exchange reads the VEVENT into the item's own fields
(subject, times and zone, location, body, UID, recurrence), as it does for CalDAV clients such as DavMail,
which create events this way ([MS-OXCICAL] 2.1.3.1, the import direction).

Only the first VEVENT (the master) is read; EXDATE and RECURRENCE-ID overrides are not imported (the item
keeps the iCalendar as its MimeContent, so a client reading it back sees them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import icalendar

from pipeline.sandbox import timezones
from pipeline.sandbox.ews.series import element, iso
from pipeline.sandbox.ews.soap import T_NS

_WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_MONTHS = ("January February March April May June July August September October November December").split()


class IcsError(ValueError):
    """iCalendar content Exchange cannot convert (ErrorMimeContentConversionFailed)."""


def is_icalendar(data: bytes) -> bool:
    return data.lstrip()[:15].upper() == b"BEGIN:VCALENDAR"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _moment(prop: Any) -> tuple[dt.datetime | dt.date, str | None]:
    """The value of DTSTART/DTEND as an aware datetime (or a date), and its TZID when it names a zone."""
    value = prop.dt
    tzid = prop.params.get("TZID")
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        try:
            value = value.replace(tzinfo=timezones.zone(tzid) if tzid else dt.UTC)
        except timezones.UnknownZone:
            value = value.replace(tzinfo=dt.UTC)
    return value, str(tzid) if tzid else None


def _recurrence(rule: Any, start: dt.date) -> str:
    freq = (rule.get("FREQ") or [""])[0]
    interval = (rule.get("INTERVAL") or [1])[0]
    days = " ".join(_WEEKDAYS[str(d)[-2:]] for d in rule.get("BYDAY", []) if str(d)[-2:] in _WEEKDAYS)
    if freq == "DAILY":
        pattern = f"<t:DailyRecurrence><t:Interval>{interval}</t:Interval></t:DailyRecurrence>"
    elif freq == "WEEKLY":
        days = days or _WEEKDAYS[("MO", "TU", "WE", "TH", "FR", "SA", "SU")[start.weekday()]]
        pattern = (
            f"<t:WeeklyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{days}</t:DaysOfWeek>"
            "</t:WeeklyRecurrence>"
        )
    elif freq == "MONTHLY":
        day = (rule.get("BYMONTHDAY") or [start.day])[0]
        pattern = (
            f"<t:AbsoluteMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DayOfMonth>"
            f"{31 if day == -1 else day}</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>"
        )
    elif freq == "YEARLY":
        month = (rule.get("BYMONTH") or [start.month])[0]
        day = (rule.get("BYMONTHDAY") or [start.day])[0]
        pattern = (
            f"<t:AbsoluteYearlyRecurrence><t:DayOfMonth>{day}</t:DayOfMonth><t:Month>{_MONTHS[month - 1]}"
            "</t:Month></t:AbsoluteYearlyRecurrence>"
        )
    else:
        raise IcsError(f"RRULE FREQ={freq or '?'} is not imported")
    if rule.get("COUNT"):
        boundary = (
            f"<t:NumberedRecurrence><t:StartDate>{start.isoformat()}</t:StartDate>"
            f"<t:NumberOfOccurrences>{rule['COUNT'][0]}</t:NumberOfOccurrences></t:NumberedRecurrence>"
        )
    elif rule.get("UNTIL"):
        until = rule["UNTIL"][0]
        until_date = until.date() if isinstance(until, dt.datetime) else until
        boundary = (
            f"<t:EndDateRecurrence><t:StartDate>{start.isoformat()}</t:StartDate>"
            f"<t:EndDate>{until_date.isoformat()}</t:EndDate></t:EndDateRecurrence>"
        )
    else:
        boundary = f"<t:NoEndRecurrence><t:StartDate>{start.isoformat()}</t:StartDate></t:NoEndRecurrence>"
    return pattern + boundary


def fields_from_ics(data: bytes) -> tuple[str | None, dict[str, str]]:
    """(subject, stored fields) of the first VEVENT of an iCalendar object; IcsError if it has none."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise IcsError(str(exc)) from exc
    event: Any = next(iter(calendar.walk("VEVENT")), None)
    if event is None or event.get("DTSTART") is None:
        raise IcsError("no VEVENT with a DTSTART")
    start, tzid = _moment(event["DTSTART"])
    if event.get("DTEND") is not None:
        end, _ = _moment(event["DTEND"])
    elif event.get("DURATION") is not None:
        end = start + event["DURATION"].dt
    else:
        end = start + (dt.timedelta(days=1) if not isinstance(start, dt.datetime) else dt.timedelta())
    all_day = not isinstance(start, dt.datetime)
    zone_id = tzid if tzid and not all_day else "UTC"
    try:
        zone = timezones.zone(zone_id)
    except timezones.UnknownZone:
        zone_id, zone = "UTC", dt.UTC
    if all_day:
        start = dt.datetime.combine(start, dt.time(), zone)  # type: ignore[arg-type]
        end = dt.datetime.combine(end, dt.time(), zone)  # type: ignore[arg-type]
    assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
    fields = {
        "Start": element("Start", iso(start)),
        "End": element("End", iso(end)),
        "IsAllDayEvent": element("IsAllDayEvent", "true" if all_day else "false"),
        "StartTimeZone": f'<t:StartTimeZone xmlns:t="{T_NS}" Id="{_esc(zone_id)}"/>',
        "EndTimeZone": f'<t:EndTimeZone xmlns:t="{T_NS}" Id="{_esc(zone_id)}"/>',
    }
    if event.get("LOCATION"):
        fields["Location"] = element("Location", _esc(str(event["LOCATION"])))
    if event.get("DESCRIPTION"):
        fields["Body"] = element("Body", _esc(str(event["DESCRIPTION"]))).replace(
            "<t:Body ", '<t:Body BodyType="Text" ', 1
        )
    if event.get("UID"):
        fields["UID"] = element("UID", _esc(str(event["UID"])))
    if event.get("RRULE") is not None:
        fields["Recurrence"] = element("Recurrence", _recurrence(event["RRULE"], start.astimezone(zone).date()))
    summary = event.get("SUMMARY")
    return (str(summary) if summary is not None else None), fields
