"""Exceptions of recurring series: deleted and modified occurrences, applied after the master is created.

EWS cannot create them with the master, so the master is created with its pending flag set
(pipeline.fingerprint) and the flag is cleared only once every exception is applied: a run killed in
between is finished by the rerun, which finds the pending flag on the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dateutil import rrule
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib.errors import (
    ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange,
    ErrorCalendarOccurrenceIsDeletedFromRecurrence,
    ErrorItemNotFound,
    ErrorOccurrenceCrossingBoundary,
    ErrorOccurrenceTimeSpanTooBig,
)
from exchangelib.items import ALWAYS_OVERWRITE, SEND_TO_NONE

from pipeline.destination.ews.fields import SHOW_AS
from pipeline.destination.ews.properties import FINGERPRINT_FIELD, PENDING_FIELD, register_fingerprint
from pipeline.item_values import (
    Appointment,
    ModifiedOccurrence,
    Pattern,
    PatternKind,
    RelativeDay,
    Weekday,
    WeekIndex,
)
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.item_values.item_warnings import occurrence as occurrence_warning
from pipeline.model import UploadItem

_WEEKDAYS = {
    Weekday.MONDAY: rrule.MO,
    Weekday.TUESDAY: rrule.TU,
    Weekday.WEDNESDAY: rrule.WE,
    Weekday.THURSDAY: rrule.TH,
    Weekday.FRIDAY: rrule.FR,
    Weekday.SATURDAY: rrule.SA,
    Weekday.SUNDAY: rrule.SU,
}
_DAY_GROUPS = {
    RelativeDay.DAY: list(_WEEKDAYS.values()),
    RelativeDay.WEEKDAY: [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    RelativeDay.WEEKEND_DAY: [rrule.SA, rrule.SU],
}
_WEEK_NUMBERS = {WeekIndex.FIRST: 1, WeekIndex.SECOND: 2, WeekIndex.THIRD: 3, WeekIndex.FOURTH: 4, WeekIndex.LAST: -1}
#: Upper bound of occurrences enumerated to find an index (a daily series over 30 years).
MAX_OCCURRENCES = 11_000


def _appointment(upload: UploadItem) -> Appointment:
    if not isinstance(upload.value, Appointment) or upload.value.series is None:
        raise TypeError(f"{upload.item_class} {upload.identity} is not a recurring series")
    return upload.value


def _zone(upload: UploadItem) -> dt.tzinfo:
    key = upload.value.start_zone if isinstance(upload.value, Appointment) else None
    if isinstance(key, str):
        try:
            return EWSTimeZone.from_ms_id(key)
        except Exception:  # noqa: BLE001 - an unknown zone falls back to UTC, the series still lands
            pass
    return dt.UTC


def _rule(pattern: Pattern, first: dt.datetime) -> rrule.rrule:
    kind = pattern.kind
    common: dict[str, Any] = {"dtstart": first, "interval": pattern.interval, "count": MAX_OCCURRENCES}
    if kind is PatternKind.DAILY:
        return rrule.rrule(rrule.DAILY, **common)
    if kind is PatternKind.WEEKLY:
        days = [_WEEKDAYS[d] for d in pattern.weekdays] or None
        wkst = _WEEKDAYS[pattern.first_day_of_week or Weekday.SUNDAY]
        return rrule.rrule(rrule.WEEKLY, byweekday=days, wkst=wkst, **common)
    if kind in (PatternKind.ABSOLUTE_MONTHLY, PatternKind.ABSOLUTE_YEARLY):
        day = pattern.day_of_month or first.day
        by_day = -1 if day >= 31 else day
        if kind is PatternKind.ABSOLUTE_MONTHLY:
            return rrule.rrule(rrule.MONTHLY, bymonthday=by_day, **common)
        return rrule.rrule(
            rrule.YEARLY, bymonth=pattern.month or first.month, bymonthday=by_day, **{**common, "interval": 1}
        )
    relative = pattern.day or RelativeDay.DAY
    days = _DAY_GROUPS.get(relative) or [_WEEKDAYS[Weekday(relative.value)]]
    position = _WEEK_NUMBERS[pattern.week or WeekIndex.FIRST]
    if kind is PatternKind.RELATIVE_MONTHLY:
        return rrule.rrule(rrule.MONTHLY, byweekday=days, bysetpos=position, **common)
    return rrule.rrule(
        rrule.YEARLY,
        bymonth=pattern.month or first.month,
        byweekday=days,
        bysetpos=position,
        **{**common, "interval": 1},
    )


def occurrence_dates(upload: UploadItem) -> Iterator[dt.date]:
    """Local dates of the series' occurrences, in order (the pattern as Exchange expands it)."""
    item = _appointment(upload)
    assert item.series is not None
    spec = item.series.recurrence
    zone = _zone(upload)
    start = item.start
    if isinstance(start, dt.datetime):
        local_start = start.astimezone(zone) if start.tzinfo else start
        clock = local_start.time().replace(tzinfo=None)
    else:
        clock = dt.time(0, 0)
    day = start.date() if isinstance(start, dt.datetime) else start
    first = dt.datetime.combine(spec.start or day, clock)
    for index, when in enumerate(_rule(spec.pattern, first)):
        if (spec.count and index >= spec.count) or (spec.end and when.date() > spec.end):
            return
        yield when.date()


def instance_index(upload: UploadItem, original_start: dt.datetime) -> int | None:
    """The 1-based index EWS uses for the occurrence that originally started at original_start (UTC)."""
    zone = _zone(upload)
    day = original_start.astimezone(zone).date() if original_start.tzinfo else original_start.date()
    for index, when in enumerate(occurrence_dates(upload), start=1):
        if when == day:
            return index
        if when > day:
            return None
    return None


def _ews_time(value: dt.datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))


def _reach(
    master: CalendarItem, upload: UploadItem, original: dt.datetime, what: str, warnings: list[ItemWarning]
) -> CalendarItem | None:
    """The occurrence that originally started at `original`, fetched; None (with a warning unless it is
    simply deleted already, by an earlier run) when it cannot be had."""
    index = instance_index(upload, original)
    if index is None:
        warnings.append(occurrence_warning(what, original, "is not in the series pattern"))
        return None
    occurrence = master.occurrence(index)
    try:
        occurrence.refresh()
    except (ErrorCalendarOccurrenceIsDeletedFromRecurrence, ErrorItemNotFound):
        if what != "deleted":
            warnings.append(occurrence_warning(what, original, "is deleted on the server"))
        return None
    except ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange:
        warnings.append(occurrence_warning(what, original, "is outside the series on the server"))
        return None
    return occurrence


def _changes(change: ModifiedOccurrence) -> dict[str, Any]:
    """What a modified occurrence changes besides its times, as exchangelib names the fields."""
    values = {
        "subject": change.subject,
        "location": change.location,
        "legacy_free_busy_status": SHOW_AS[change.show_as] if change.show_as else None,
        "reminder_is_set": change.reminder_is_set,
        "reminder_minutes_before_start": change.reminder_minutes_before,
        "is_all_day": change.is_all_day,
    }
    return {name: value for name, value in values.items() if value is not None}


def apply_exceptions(account: Any, folder: Any, server_id: str, upload: UploadItem) -> list[ItemWarning]:
    """Delete and modify the master's occurrences as the source says; returns warnings (never raises for
    an occurrence that is already in the wanted state, so a rerun can apply the same list again)."""
    series = _appointment(upload).series
    assert series is not None
    master = CalendarItem(account=account, folder=folder, id=server_id)
    warnings: list[ItemWarning] = []
    for original in series.deleted:
        occurrence = _reach(master, upload, original, "deleted", warnings)
        if occurrence is not None:
            occurrence.delete(send_meeting_cancellations=SEND_TO_NONE)
    for change in series.modified:
        occurrence = _reach(master, upload, change.original_start, "modified", warnings)
        if occurrence is None:
            continue
        changes = _changes(change)
        occurrence.start = _ews_time(change.start)
        occurrence.end = _ews_time(change.end)
        for name, value in changes.items():
            setattr(occurrence, name, value)
        try:
            occurrence.save(
                update_fields=["start", "end", *changes],
                conflict_resolution=ALWAYS_OVERWRITE,
                send_meeting_invitations=SEND_TO_NONE,
            )
        except (ErrorOccurrenceCrossingBoundary, ErrorOccurrenceTimeSpanTooBig) as exc:
            # Exchange refuses a time that crosses or overlaps a neighbour: keep the pattern's time and the
            # other changes, and say so, rather than leave the series pending on every rerun.
            warnings.append(
                occurrence_warning(
                    "modified",
                    change.original_start,
                    "kept at its pattern time",
                    f"the server refused its new time ({type(exc).__name__})",
                )
            )
            occurrence = _reach(master, upload, change.original_start, "modified", warnings)
            if occurrence is not None and changes:
                for name, value in changes.items():
                    setattr(occurrence, name, value)
                occurrence.save(
                    update_fields=list(changes),
                    conflict_resolution=ALWAYS_OVERWRITE,
                    send_meeting_invitations=SEND_TO_NONE,
                )
    return warnings


def finish(account: Any, folder: Any, server_id: str, identity: str) -> None:
    """Clear the pending flag (and write the identity, which v1 stamped with a suffix): the series is
    complete on the server."""
    register_fingerprint()
    master = CalendarItem(account=account, folder=folder, id=server_id)
    master.refresh()
    setattr(master, FINGERPRINT_FIELD, identity)
    setattr(master, PENDING_FIELD, False)
    master.save(
        update_fields=[FINGERPRINT_FIELD, PENDING_FIELD],
        conflict_resolution=ALWAYS_OVERWRITE,
        send_meeting_invitations=SEND_TO_NONE,
    )
