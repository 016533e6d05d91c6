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

from pipeline.destination.ews.properties import FINGERPRINT_FIELD, PENDING_FIELD, register_fingerprint
from pipeline.model import UploadItem

_WEEKDAYS = {"Monday": rrule.MO, "Tuesday": rrule.TU, "Wednesday": rrule.WE, "Thursday": rrule.TH,
             "Friday": rrule.FR, "Saturday": rrule.SA, "Sunday": rrule.SU}
_DAY_GROUPS = {"Day": list(_WEEKDAYS.values()), "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
               "WeekendDay": [rrule.SA, rrule.SU]}
_WEEK_NUMBERS = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
#: Fields of a modified occurrence that are written back, in exchangelib's names.
MODIFIABLE = ("subject", "location", "legacy_free_busy_status", "reminder_is_set", "reminder_minutes_before_start",
              "is_all_day")
#: Upper bound of occurrences enumerated to find an index (a daily series over 30 years).
MAX_OCCURRENCES = 11_000


def _zone(upload: UploadItem) -> dt.tzinfo:
    key = upload.fields.get("start_timezone")
    if isinstance(key, str):
        try:
            return EWSTimeZone.from_ms_id(key)
        except Exception:  # noqa: BLE001 - an unknown zone falls back to UTC, the series still lands
            pass
    return dt.UTC


def _rule(recurrence: dict[str, Any], first: dt.datetime) -> rrule.rrule:
    kind = recurrence["pattern"]
    interval = int(recurrence.get("interval") or 1)
    common: dict[str, Any] = {"dtstart": first, "interval": interval, "count": MAX_OCCURRENCES}
    if kind == "daily":
        return rrule.rrule(rrule.DAILY, **common)
    if kind == "weekly":
        days = [_WEEKDAYS[d] for d in recurrence.get("weekdays") or [] if d in _WEEKDAYS] or None
        wkst = _WEEKDAYS.get(recurrence.get("first_day_of_week") or "Sunday", rrule.SU)
        return rrule.rrule(rrule.WEEKLY, byweekday=days, wkst=wkst, **common)
    if kind in ("absolute_monthly", "absolute_yearly"):
        day = int(recurrence.get("day_of_month") or first.day)
        by_day = -1 if day >= 31 else day
        if kind == "absolute_monthly":
            return rrule.rrule(rrule.MONTHLY, bymonthday=by_day, **common)
        return rrule.rrule(rrule.YEARLY, bymonth=int(recurrence.get("month") or first.month), bymonthday=by_day,
                           **{**common, "interval": 1})
    weekday = recurrence.get("weekday") or "Day"
    days = _DAY_GROUPS.get(weekday) or [_WEEKDAYS.get(weekday, rrule.MO)]
    position = _WEEK_NUMBERS.get(recurrence.get("week_number") or "First", 1)
    if kind == "relative_monthly":
        return rrule.rrule(rrule.MONTHLY, byweekday=days, bysetpos=position, **common)
    return rrule.rrule(rrule.YEARLY, bymonth=int(recurrence.get("month") or first.month), byweekday=days,
                       bysetpos=position, **{**common, "interval": 1})


def occurrence_dates(upload: UploadItem) -> Iterator[dt.date]:
    """Local dates of the series' occurrences, in order (the pattern as Exchange expands it)."""
    recurrence = upload.fields["recurrence"]
    zone = _zone(upload)
    start = upload.fields.get("start")
    if isinstance(start, dt.datetime):
        local_start = start.astimezone(zone) if start.tzinfo else start
        clock = local_start.time().replace(tzinfo=None)
    else:
        clock = dt.time(0, 0)
    day = start.date() if isinstance(start, dt.datetime) else start if isinstance(start, dt.date) else None
    first_day = recurrence.get("start") or day
    if first_day is None:
        return
    first = dt.datetime.combine(first_day, clock)
    end = recurrence.get("end")
    count = recurrence.get("count")
    for index, when in enumerate(_rule(recurrence, first)):
        if (count and index >= count) or (end and when.date() > end):
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


def _reach(master: CalendarItem, upload: UploadItem, original: dt.datetime, what: str,
           warnings: list[str]) -> CalendarItem | None:
    """The occurrence that originally started at `original`, fetched; None (with a warning unless it is
    simply deleted already, by an earlier run) when it cannot be had."""
    index = instance_index(upload, original)
    if index is None:
        warnings.append(f"{what} occurrence {original:%Y-%m-%d} is not in the series pattern")
        return None
    occurrence = master.occurrence(index)
    try:
        occurrence.refresh()
    except (ErrorCalendarOccurrenceIsDeletedFromRecurrence, ErrorItemNotFound):
        if what != "deleted":
            warnings.append(f"{what} occurrence {original:%Y-%m-%d} is deleted on the server")
        return None
    except ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange:
        warnings.append(f"{what} occurrence {original:%Y-%m-%d} is outside the series on the server")
        return None
    return occurrence


def apply_exceptions(account: Any, folder: Any, server_id: str, upload: UploadItem) -> list[str]:
    """Delete and modify the master's occurrences as the source says; returns warnings (never raises for
    an occurrence that is already in the wanted state, so a rerun can apply the same list again)."""
    recurrence = upload.fields["recurrence"]
    master = CalendarItem(account=account, folder=folder, id=server_id)
    warnings: list[str] = []
    for original in recurrence.get("deleted_occurrences") or []:
        occurrence = _reach(master, upload, original, "deleted", warnings)
        if occurrence is not None:
            occurrence.delete(send_meeting_cancellations=SEND_TO_NONE)
    for change in recurrence.get("modified_occurrences") or []:
        occurrence = _reach(master, upload, change["original_start"], "modified", warnings)
        if occurrence is None:
            continue
        fields = ["start", "end"]
        occurrence.start = _ews_time(change["start"])
        occurrence.end = _ews_time(change["end"])
        for name in MODIFIABLE:
            if name in change and change[name] is not None:
                setattr(occurrence, name, change[name])
                fields.append(name)
        try:
            occurrence.save(update_fields=fields, conflict_resolution=ALWAYS_OVERWRITE,
                            send_meeting_invitations=SEND_TO_NONE)
        except (ErrorOccurrenceCrossingBoundary, ErrorOccurrenceTimeSpanTooBig) as exc:
            # Exchange refuses a time that crosses or overlaps a neighbour: keep the pattern's time and the
            # other changes, and say so, rather than leave the series pending on every rerun.
            warnings.append(f"modified occurrence {change['original_start']:%Y-%m-%d} kept at its pattern time: "
                            f"the server refused its new time ({type(exc).__name__})")
            occurrence = _reach(master, upload, change["original_start"], "modified", warnings)
            if occurrence is not None and len(fields) > 2:
                for name in fields[2:]:
                    setattr(occurrence, name, change[name])
                occurrence.save(update_fields=fields[2:], conflict_resolution=ALWAYS_OVERWRITE,
                                send_meeting_invitations=SEND_TO_NONE)
    return warnings


def finish(account: Any, folder: Any, server_id: str, identity: str) -> None:
    """Clear the pending flag (and write the identity, which v1 stamped with a suffix): the series is
    complete on the server."""
    register_fingerprint()
    master = CalendarItem(account=account, folder=folder, id=server_id)
    master.refresh()
    setattr(master, FINGERPRINT_FIELD, identity)
    setattr(master, PENDING_FIELD, False)
    master.save(update_fields=[FINGERPRINT_FIELD, PENDING_FIELD], conflict_resolution=ALWAYS_OVERWRITE,
                send_meeting_invitations=SEND_TO_NONE)
