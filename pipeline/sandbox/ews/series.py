"""Recurring calendar series as Exchange 2016 keeps them: the master's Recurrence and time zone, its deleted
and modified occurrences, and the CalendarItem views of masters, occurrences and exceptions.

The master's stored fields (Recurrence, Start, End, StartTimeZone) stay the one source of the pattern; the
`series` table only adds the exceptions, as Exchange keeps them on the master (deleted dates, exception items).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

from lxml import etree

from pipeline.sandbox import ids, timezones
from pipeline.sandbox.ews import recurrence
from pipeline.sandbox.ews.recurrence import RecurrenceError, Series
from pipeline.sandbox.ews.soap import T_NS
from pipeline.sandbox.rows import ExtValue, ItemRow

#: Element order of CalendarItemType's own elements in types.xsd (they follow ItemType's).
CALENDAR_ORDER = {
    name: 200 + i
    for i, name in enumerate(
        "UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent LegacyFreeBusyStatus Location "
        "When IsMeeting IsCancelled IsRecurring MeetingRequestWasSent IsResponseRequested CalendarItemType "
        "MyResponseType Organizer RequiredAttendees OptionalAttendees Resources InboxReminders "
        "ConflictingMeetingCount AdjacentMeetingCount ConflictingMeetings AdjacentMeetings Duration TimeZone "
        "AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence FirstOccurrence "
        "LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone StartTimeZone EndTimeZone "
        "ConferenceType AllowNewTimeProposal IsOnlineMeeting MeetingWorkspaceUrl NetShowUrl EnhancedLocation "
        "StartWallClock EndWallClock StartTimeZoneId EndTimeZoneId IntendedFreeBusyStatus "
        "JoinOnlineMeetingUrl OnlineMeetingSettings IsOrganizer".split()
    )
}
#: Elements only a master has; an occurrence never shows them.
MASTER_ONLY = frozenset(
    {"Recurrence", "FirstOccurrence", "LastOccurrence", "ModifiedOccurrences", "DeletedOccurrences"}
)
#: Elements the server computes; a client's value for them is never stored or echoed.
COMPUTED = MASTER_ONLY - {"Recurrence"} | {"CalendarItemType", "IsRecurring", "OriginalStart", "RecurrenceId"}


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """An xs:dateTime of a request; without an offset it is UTC (the sandbox's TimeZoneContext)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def element(name: str, text: str) -> str:
    """A stored field: a types-namespace element that parses on its own, like the ones CreateItem keeps."""
    return f'<t:{name} xmlns:t="{T_NS}">{text}</t:{name}>'


def _elem(fields: dict[str, str], name: str) -> etree._Element | None:
    xml = fields.get(name)
    return etree.fromstring(xml) if xml else None


def field_text(fields: dict[str, str], name: str) -> str | None:
    elem = _elem(fields, name)
    return None if elem is None else (elem.text or "").strip()


def zone_of(fields: dict[str, str]) -> dt.tzinfo:
    """The series' zone: StartTimeZone (Exchange 2010+), else MeetingTimeZone's name, else UTC."""
    start_zone = _elem(fields, "StartTimeZone")
    if start_zone is not None and start_zone.get("Id"):
        return timezones.zone(start_zone.get("Id"))
    meeting_zone = _elem(fields, "MeetingTimeZone")
    if meeting_zone is not None and meeting_zone.get("TimeZoneName"):
        return timezones.zone(meeting_zone.get("TimeZoneName"))
    return dt.UTC


def series_of(fields: dict[str, str]) -> Series | None:
    """The series of a CalendarItem's stored fields; None for a single item. Raises RecurrenceError."""
    if "Recurrence" not in fields:
        return None
    pattern = recurrence.parse(fields["Recurrence"])
    try:
        zone = zone_of(fields)
    except timezones.UnknownZone as exc:
        raise RecurrenceError("ErrorTimeZone", f"Unknown time zone {exc}.") from exc
    start_text, end_text = field_text(fields, "Start"), field_text(fields, "End")
    if not start_text or not end_text:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", "A recurring item needs Start and End.")
    try:
        start, end = parse_time(start_text), parse_time(end_text)
    except ValueError as exc:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", "Start or End is not a date-time.") from exc
    return Series.of(pattern, zone, start, end)


def prepare_master(fields: dict[str, str]) -> None:
    """Give a calendar item its UID; for a master, validate the series and move Start/End onto the first
    occurrence, as Exchange does when the given start does not fit the pattern (times are stored in UTC)."""
    for name in COMPUTED:
        fields.pop(name, None)
    if "UID" not in fields:
        # Exchange gives every calendar item a UID (its global object id); occurrences share the master's.
        goid = "040000008200E00074C5B7101A82E008" + "0" * 32 + "10000000" + uuid.uuid4().hex.upper()
        fields["UID"] = element("UID", goid)
    found = series_of(fields)
    if found is None:
        return
    first = found.nth(1)
    if first is None:
        raise RecurrenceError("ErrorRecurrenceHasNoOccurrence", "The recurrence range has no occurrence.")
    fields["Start"] = element("Start", iso(first))
    fields["End"] = element("End", iso(first + found.duration))


# -- exceptions ----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Exceptions:
    """Deleted occurrences (original starts) and modified ones (original start -> exception data)."""

    deleted: list[str] = dataclasses.field(default_factory=list)
    modified: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Exceptions:
        data = data or {}
        return cls(list(data.get("deleted", [])), dict(data.get("modified", {})))

    def dump(self) -> dict[str, Any]:
        return {"deleted": sorted(self.deleted), "modified": self.modified} if self else {}

    def __bool__(self) -> bool:
        return bool(self.deleted or self.modified)


def _occurrence_times(found: Series, original: dt.datetime, change: dict[str, Any] | None) -> tuple[str, str]:
    if change:
        return change["start"], change["end"]
    return iso(original), iso(original + found.duration)


def _info_xml(
    name: str, item: ItemRow, mailbox_id: int, found: Series, original: dt.datetime, change: dict[str, Any] | None
) -> str:
    start, end = _occurrence_times(found, original, change)
    version = item.version + int((change or {}).get("version", 0))
    return (
        f'<t:{name}><t:ItemId Id="{ids.occurrence_id(mailbox_id, item.id, original)}" '
        f'ChangeKey="{ids.change_key(version)}"/><t:Start>{start}</t:Start><t:End>{end}</t:End>'
        f"<t:OriginalStart>{iso(original)}</t:OriginalStart></t:{name}>"
    )


def _offset(found: Series, day: dt.date) -> str:
    offset = dt.datetime.combine(day, found.clock, tzinfo=found.zone).utcoffset() or dt.timedelta(0)
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def recurrence_xml(stored: str, found: Series) -> str:
    """The Recurrence as Exchange answers it: range dates carry the series' UTC offset ('2024-01-01+01:00'),
    which is also how exchangelib tells them from date-times."""
    elem = etree.fromstring(stored)
    for name in ("StartDate", "EndDate"):
        for date_elem in elem.iter(f"{{{T_NS}}}{name}"):
            day = dt.date.fromisoformat((date_elem.text or "").strip()[:10])
            date_elem.text = day.isoformat() + _offset(found, day)
    return etree.tostring(elem, encoding="unicode")


def calendar_fields(item: ItemRow, mailbox_id: int, wants: Callable[[str], bool]) -> dict[str, str]:
    """The computed CalendarItem elements of a stored item (single or master) that the shape asks for."""
    if item.occurrence_start is not None:
        return {}
    try:
        found = series_of(item.fields)
    except RecurrenceError:
        found = None
    out: dict[str, str] = {}
    if wants("CalendarItemType"):
        out["CalendarItemType"] = element("CalendarItemType", "RecurringMaster" if found else "Single")
    if wants("IsRecurring"):
        # Exchange documents IsRecurring as false on the organizer's own master (and keeps it so).
        out["IsRecurring"] = "<t:IsRecurring>false</t:IsRecurring>"
    if found is None:
        return out
    if wants("Recurrence"):
        out["Recurrence"] = recurrence_xml(item.fields["Recurrence"], found)
    exceptions = Exceptions.load(item.exceptions)
    deleted = set(exceptions.deleted)
    if wants("FirstOccurrence") or wants("LastOccurrence"):
        remaining = (s for s in found.starts() if iso(s) not in deleted)
        first = next(remaining, None)
        if first is not None and wants("FirstOccurrence"):
            change = exceptions.modified.get(iso(first))
            out["FirstOccurrence"] = _info_xml("FirstOccurrence", item, mailbox_id, found, first, change)
        if first is not None and wants("LastOccurrence") and found.pattern.range_kind != "no_end":
            last = first
            for last in remaining:  # noqa: B007 - the last remaining occurrence
                pass
            change = exceptions.modified.get(iso(last))
            out["LastOccurrence"] = _info_xml("LastOccurrence", item, mailbox_id, found, last, change)
    if wants("ModifiedOccurrences") and exceptions.modified:
        out["ModifiedOccurrences"] = (
            "<t:ModifiedOccurrences>"
            + "".join(
                _info_xml("Occurrence", item, mailbox_id, found, parse_time(key), change)
                for key, change in sorted(exceptions.modified.items())
            )
            + "</t:ModifiedOccurrences>"
        )
    if wants("DeletedOccurrences") and exceptions.deleted:
        out["DeletedOccurrences"] = (
            "<t:DeletedOccurrences>"
            + "".join(
                f"<t:DeletedOccurrence><t:Start>{key}</t:Start></t:DeletedOccurrence>"
                for key in sorted(exceptions.deleted)
            )
            + "</t:DeletedOccurrences>"
        )
    return out


def occurrence_row(master: ItemRow, found: Series, original: dt.datetime) -> ItemRow:
    """The CalendarItem of one occurrence: the master's fields at the occurrence's time, with the
    exception's own changes on top; its ItemId is the occurrence id (master + original start)."""
    exceptions = Exceptions.load(master.exceptions)
    change = exceptions.modified.get(iso(original))
    start, end = _occurrence_times(found, original, change)
    fields = {k: v for k, v in master.fields.items() if k not in MASTER_ONLY}
    fields.update((change or {}).get("fields", {}))
    fields["Start"] = element("Start", start)
    fields["End"] = element("End", end)
    fields["OriginalStart"] = element("OriginalStart", iso(original))
    fields["RecurrenceId"] = element("RecurrenceId", iso(original))
    fields["IsRecurring"] = "<t:IsRecurring>true</t:IsRecurring>"
    kind = "Exception" if change else "Occurrence"
    fields["CalendarItemType"] = element("CalendarItemType", kind)
    ext = dict(master.ext)
    for key, (ptype, value) in (change or {}).get("ext", {}).items():
        ext[key] = ExtValue(key, ptype, value)
    return dataclasses.replace(
        master,
        fields=fields,
        ext=ext,
        subject=(change or {}).get("subject", master.subject),
        version=master.version + int((change or {}).get("version", 0)),
        exceptions=None,
        occurrence_start=original,
    )


def summary(item: ItemRow) -> dict[str, Any]:
    """`recurrence`, `deleted_occurrences` and `modified_occurrences` of an item for SandboxStore.items()."""
    try:
        found = series_of(item.fields) if item.kind == "CalendarItem" else None
    except RecurrenceError:
        found = None
    if found is None:
        return {"recurrence": None, "deleted_occurrences": [], "modified_occurrences": []}
    exceptions = Exceptions.load(item.exceptions)
    described = found.pattern.summary()
    described["time_zone"] = getattr(found.zone, "key", "UTC")
    modified = []
    for key, change in sorted(exceptions.modified.items()):
        entry: dict[str, Any] = {"original_start": key, "start": change["start"], "end": change["end"]}
        if "subject" in change:
            entry["subject"] = change["subject"]
        for name, xml in change.get("fields", {}).items():
            if name in ("StartTimeZone", "EndTimeZone", "MeetingTimeZone"):
                continue  # exchangelib sends them with every Start/End; the times above are UTC anyway
            elem = etree.fromstring(xml)
            entry[snake(name)] = (elem.text or "") if len(elem) == 0 else xml
        modified.append(entry)
    return {
        "recurrence": described,
        "deleted_occurrences": sorted(exceptions.deleted),
        "modified_occurrences": modified,
    }


def snake(name: str) -> str:
    """LegacyFreeBusyStatus -> legacy_free_busy_status (exchangelib's names, for readable summaries)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
