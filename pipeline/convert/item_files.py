"""Typed item values -> the files `rebuild export` writes: iCalendar for appointments, vCard 3.0 for
contacts, JSON for every other typed kind. Pure: bytes out, the caller writes them.

Beside conversion because they read the same values the destinations map, in neither EWS's nor Graph's
words; a kind added to pipeline.item_values falls to JSON until it has a format of its own.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipeline.item_values import (
    Appointment,
    Attendee,
    Contact,
    ItemValue,
    PatternKind,
    Person,
    PhoneKind,
    Recurrence,
    RelativeDay,
    Response,
    Sensitivity,
    ShowAs,
    Weekday,
    WeekIndex,
)

# -- iCalendar ------------------------------------------------------------------------------------
_DAYS = {
    Weekday.SUNDAY: "SU",
    Weekday.MONDAY: "MO",
    Weekday.TUESDAY: "TU",
    Weekday.WEDNESDAY: "WE",
    Weekday.THURSDAY: "TH",
    Weekday.FRIDAY: "FR",
    Weekday.SATURDAY: "SA",
}
_RELATIVE_DAYS = {
    RelativeDay.DAY: list(_DAYS.values()),
    RelativeDay.WEEKDAY: ["MO", "TU", "WE", "TH", "FR"],
    RelativeDay.WEEKEND_DAY: ["SA", "SU"],
}
_SETPOS = {WeekIndex.FIRST: 1, WeekIndex.SECOND: 2, WeekIndex.THIRD: 3, WeekIndex.FOURTH: 4, WeekIndex.LAST: -1}
_PARTSTAT = {Response.ACCEPTED: "ACCEPTED", Response.DECLINED: "DECLINED", Response.TENTATIVE: "TENTATIVE"}
_CLASS = {Sensitivity.PRIVATE: "PRIVATE", Sensitivity.CONFIDENTIAL: "CONFIDENTIAL"}
_BUSY = {
    ShowAs.FREE: "FREE",
    ShowAs.TENTATIVE: "TENTATIVE",
    ShowAs.BUSY: "BUSY",
    ShowAs.OUT_OF_OFFICE: "OOF",
    ShowAs.WORKING_ELSEWHERE: "WORKINGELSEWHERE",
}


def rrule(spec: Recurrence) -> dict[str, Any]:
    """A recurrence as the RRULE of RFC 5545."""
    rule_of = spec.pattern
    kind = rule_of.kind
    rule: dict[str, Any]
    if kind is PatternKind.DAILY:
        rule = {"FREQ": "DAILY", "INTERVAL": rule_of.interval}
    elif kind is PatternKind.WEEKLY:
        rule = {
            "FREQ": "WEEKLY",
            "INTERVAL": rule_of.interval,
            "BYDAY": [_DAYS[d] for d in rule_of.weekdays],
            "WKST": _DAYS[rule_of.first_day_of_week or Weekday.SUNDAY],
        }
    elif kind in (PatternKind.ABSOLUTE_MONTHLY, PatternKind.ABSOLUTE_YEARLY):
        day = rule_of.day_of_month or 1
        rule = {
            "FREQ": "MONTHLY" if kind is PatternKind.ABSOLUTE_MONTHLY else "YEARLY",
            "BYMONTHDAY": day if day < 31 else -1,
        }
        if kind is PatternKind.ABSOLUTE_MONTHLY:
            rule["INTERVAL"] = rule_of.interval
        else:
            rule["BYMONTH"] = rule_of.month
    else:
        relative = rule_of.day or RelativeDay.MONDAY
        days = _RELATIVE_DAYS.get(relative) or [_DAYS[Weekday(relative.value)]]
        rule = {
            "FREQ": "MONTHLY" if kind is PatternKind.RELATIVE_MONTHLY else "YEARLY",
            "BYDAY": days,
            "BYSETPOS": _SETPOS[rule_of.week or WeekIndex.FIRST],
        }
        if kind is PatternKind.RELATIVE_MONTHLY:
            rule["INTERVAL"] = rule_of.interval
        else:
            rule["BYMONTH"] = rule_of.month
    if spec.count:
        rule["COUNT"] = spec.count
    elif spec.end:
        rule["UNTIL"] = datetime.combine(spec.end, datetime.max.time().replace(microsecond=0), tzinfo=UTC)
    return rule


def _ical_person(who: Person | Attendee, role: str | None = None) -> Any:
    from icalendar import vCalAddress

    person = who.person if isinstance(who, Attendee) else who
    address = vCalAddress(f"mailto:{person.email or ''}")
    if person.name:
        address.params["CN"] = person.name
    if role:
        address.params["ROLE"] = role
        response = who.response if isinstance(who, Attendee) else Response.UNKNOWN
        address.params["PARTSTAT"] = _PARTSTAT.get(response, "NEEDS-ACTION")
    return address


@dataclass(frozen=True, slots=True)
class Itip:
    """What a meeting message's calendar part adds (RFC 5546): its method, DTSTAMP, SEQUENCE, and STATUS
    for a cancellation."""

    method: str
    stamp: datetime
    sequence: int = 0
    status: str | None = None


def to_ics(value: Appointment, identity: str = "", itip: Itip | None = None) -> bytes:
    """A VCALENDAR with the master VEVENT and one VEVENT per modified occurrence. An appointment without a
    UID of its own gets one from its identity (the fingerprint), so the same store exports the same bytes.
    itip: the method and stamps of a meeting message's text/calendar part."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//rebuild//convert//EN")
    cal.add("version", "2.0")
    if itip:
        cal.add("method", itip.method)
    event = Event()
    uid = value.uid or f"rebuild-{identity.replace('#', '-') or 'no-uid'}"
    event.add("uid", uid)
    if itip:
        event.add("dtstamp", itip.stamp)
        event.add("sequence", itip.sequence)
        if itip.status:
            event.add("status", itip.status)
    event.add("summary", value.subject)
    event.add("dtstart", value.start)
    event.add("dtend", value.end)
    if value.location:
        event.add("location", value.location)
    if value.body and not value.body.html:
        event.add("description", value.body.text)
    event.add("class", _CLASS.get(value.sensitivity, "PUBLIC"))
    event.add("transp", "TRANSPARENT" if value.show_as is ShowAs.FREE else "OPAQUE")
    event.add("x-microsoft-cdo-busystatus", _BUSY[value.show_as])
    if value.categories:
        event.add("categories", list(value.categories))
    if value.organizer is not None:
        event.add("organizer", _ical_person(value.organizer))
    for people, role in (
        (value.attendees.required, "REQ-PARTICIPANT"),
        (value.attendees.optional, "OPT-PARTICIPANT"),
        (value.attendees.resources, "NON-PARTICIPANT"),
    ):
        for attendee in people:
            event.add("attendee", _ical_person(attendee, role))
    reminder = value.reminder
    if reminder is not None and reminder.is_set:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "Reminder")
        minutes = reminder.minutes_before if reminder.minutes_before is not None else 15
        alarm.add("trigger", timedelta(minutes=-minutes))
        event.add_component(alarm)
    series = value.series
    if series is not None:
        event.add("rrule", rrule(series.recurrence))
        for moment in series.deleted:
            event.add("exdate", moment)
    cal.add_component(event)
    for change in series.modified if series is not None else ():
        occurrence = Event()
        occurrence.add("uid", uid)
        occurrence.add("recurrence-id", change.original_start)
        occurrence.add("summary", change.subject if change.subject is not None else value.subject)
        occurrence.add("dtstart", change.start)
        occurrence.add("dtend", change.end)
        location = change.location if change.location is not None else value.location
        if location:
            occurrence.add("location", location)
        cal.add_component(occurrence)
    result: bytes = cal.to_ical()
    return result


# -- vCard ----------------------------------------------------------------------------------------
def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    out, current = [], ""
    for char in line:
        if len((current + char).encode("utf-8")) > 75:
            out.append(current)
            current = " " + char
        else:
            current += char
    out.append(current)
    return "\r\n".join(out)


#: TEL types per telephone number (VOICE for those RFC 2426 names no type for).
_TEL = {
    PhoneKind.BUSINESS: ["WORK"],
    PhoneKind.BUSINESS_2: ["WORK"],
    PhoneKind.HOME: ["HOME"],
    PhoneKind.HOME_2: ["HOME"],
    PhoneKind.MOBILE: ["CELL"],
    PhoneKind.BUSINESS_FAX: ["WORK", "FAX"],
    PhoneKind.HOME_FAX: ["HOME", "FAX"],
    PhoneKind.OTHER_FAX: ["FAX"],
    PhoneKind.PAGER: ["PAGER"],
}
_ADR = {"business": "WORK", "home": "HOME"}


def to_vcard(value: Contact) -> bytes:
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    name = value.display_name or value.file_as or value.subject or ""
    lines.append(f"FN:{_escape(name)}")
    lines.append(
        "N:"
        + ";".join(_escape(part or "") for part in (value.surname, value.given_name, value.middle_name))
        + ";;"
        + _escape(value.generation or "")
    )
    if value.nickname:
        lines.append(f"NICKNAME:{_escape(value.nickname)}")
    if value.company or value.department:
        lines.append(f"ORG:{_escape(value.company or '')};{_escape(value.department or '')}")
    if value.job_title:
        lines.append(f"TITLE:{_escape(value.job_title)}")
    for entry in value.emails:
        lines.append(f"EMAIL;TYPE=INTERNET:{_escape(entry.address)}")
    for phone in value.phones:
        lines.append(f"TEL;TYPE={','.join(_TEL.get(phone.kind, ['VOICE']))}:{_escape(phone.number)}")
    for postal in value.addresses:
        parts = (postal.street, postal.city, postal.state, postal.postal_code, postal.country)
        lines.append(
            f"ADR;TYPE={_ADR.get(postal.kind.value, 'POSTAL')}:;;" + ";".join(_escape(part or "") for part in parts)
        )
    if value.birthday:
        lines.append(f"BDAY:{value.birthday.isoformat()}")
    if value.business_homepage:
        lines.append(f"URL:{_escape(value.business_homepage)}")
    if value.categories:
        lines.append("CATEGORIES:" + ",".join(_escape(c) for c in value.categories))
    if value.body and not value.body.html:
        lines.append(f"NOTE:{_escape(value.body.text)}")
    if value.photo:
        lines.append("PHOTO;ENCODING=b;TYPE=JPEG:" + base64.b64encode(value.photo).decode())
    lines.append("END:VCARD")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")


# -- JSON -----------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """A value as JSON takes it: bytes as {base64}, times in ISO 8601, enums by their word, dataclasses as
    objects (with their kind)."""
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def to_json(value: ItemValue | None) -> Any:
    """The typed value as a JSON object."""
    return jsonable(value) if value is not None else {}


def item_document(kind: str, item_class: str, value: ItemValue | None, extended: list[Any]) -> bytes:
    """The .json file of an item without a format of its own: its kind, class, value and extended properties."""
    document = {
        "kind": kind,
        "item_class": item_class,
        "value": to_json(value),
        "extended": [
            jsonable({"type": p.mapi_type, "value": p.value, "tag": p.tag, "propset": p.propset_guid, "name": p.name})
            for p in extended
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")
