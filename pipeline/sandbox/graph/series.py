"""Recurring events on the Graph face: a patternedRecurrence expanded into instances (in the range's
time zone, wall-clock), occurrences deleted (cancelled) or changed (exceptions), kept with the event.

Graph's own vocabulary: pattern types daily/weekly/absoluteMonthly/relativeMonthly/absoluteYearly/
relativeYearly, ranges endDate/noEnd/numbered; an instance answers id, originalStart, start, end, type
(occurrence or exception) and seriesMasterId.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dateutil import rrule

from pipeline.sandbox import timezones

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
MAX_INSTANCES = 11_000


class SeriesError(ValueError):
    """A recurrence Graph would refuse (400 ErrorInvalidRecurrence)."""


def _local_start(event: dict[str, Any]) -> tuple[dt.datetime, dt.tzinfo, dt.timedelta]:
    start, end = event.get("start") or {}, event.get("end") or {}
    try:
        zone = timezones.zone(start.get("timeZone") or "UTC")
        first = dt.datetime.fromisoformat(str(start["dateTime"]).replace("Z", "")[:19])
        last = dt.datetime.fromisoformat(str(end["dateTime"]).replace("Z", "")[:19])
        end_zone = timezones.zone(end.get("timeZone") or start.get("timeZone") or "UTC")
    except (KeyError, ValueError, timezones.UnknownZone) as exc:
        raise SeriesError(f"bad start or end: {exc}") from exc
    duration = last.replace(tzinfo=end_zone) - first.replace(tzinfo=zone)
    return first, zone, duration


def expand(event: dict[str, Any]) -> list[dt.datetime]:
    """Original starts (UTC) of every occurrence of the series, in order."""
    recurrence = event.get("recurrence") or {}
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    first, zone, _ = _local_start(event)
    kind = pattern.get("type")
    interval = int(pattern.get("interval") or 1)
    try:
        start_date = dt.date.fromisoformat(str(rng.get("startDate") or first.date().isoformat()))
    except ValueError as exc:
        raise SeriesError(f"bad range start: {exc}") from exc
    begin = dt.datetime.combine(start_date, first.time())
    days = [_DAYS[d] for d in pattern.get("daysOfWeek") or [] if d in _DAYS]
    common: dict[str, Any] = {"dtstart": begin, "interval": interval, "count": MAX_INSTANCES}
    if kind == "daily":
        rule = rrule.rrule(rrule.DAILY, **common)
    elif kind == "weekly":
        rule = rrule.rrule(
            rrule.WEEKLY,
            byweekday=days or None,
            wkst=_DAYS.get(str(pattern.get("firstDayOfWeek") or "sunday"), rrule.SU),
            **common,
        )
    elif kind == "absoluteMonthly":
        rule = rrule.rrule(rrule.MONTHLY, bymonthday=int(pattern.get("dayOfMonth") or begin.day), **common)
    elif kind == "relativeMonthly":
        rule = rrule.rrule(
            rrule.MONTHLY, byweekday=days, bysetpos=_INDEX.get(pattern.get("index") or "first", 1), **common
        )
    elif kind == "absoluteYearly":
        rule = rrule.rrule(
            rrule.YEARLY,
            bymonth=int(pattern.get("month") or begin.month),
            bymonthday=int(pattern.get("dayOfMonth") or begin.day),
            **common,
        )
    elif kind == "relativeYearly":
        rule = rrule.rrule(
            rrule.YEARLY,
            bymonth=int(pattern.get("month") or begin.month),
            byweekday=days,
            bysetpos=_INDEX.get(pattern.get("index") or "first", 1),
            **common,
        )
    else:
        raise SeriesError(f"unknown recurrence pattern {kind!r}")
    end_date = None
    if rng.get("type") == "endDate":
        end_date = dt.date.fromisoformat(str(rng.get("endDate")))
    count = int(rng.get("numberOfOccurrences") or 0) if rng.get("type") == "numbered" else 0
    out: list[dt.datetime] = []
    for local in rule:
        if (count and len(out) >= count) or (end_date and local.date() > end_date):
            break
        out.append(local.replace(tzinfo=zone).astimezone(dt.UTC))
        if not count and not end_date and len(out) >= 3650:
            break  # noEnd: ten years of daily occurrences is plenty for a listing
    if not out:
        raise SeriesError("the recurrence has no occurrence")
    return out


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def instances(event: dict[str, Any], window_start: dt.datetime, window_end: dt.datetime) -> list[dict[str, Any]]:
    """The series' instances starting in the window: {originalStart, start, end, type} (UTC)."""
    _, _, duration = _local_start(event)
    cancelled = set(event.get("_cancelled") or [])
    changed = event.get("_exceptions") or {}
    out = []
    for original in expand(event):
        key = original.strftime("%Y-%m-%dT%H:%M:%SZ")
        if key in cancelled:
            continue
        change = changed.get(key)
        start = dt.datetime.fromisoformat(change["start"]) if change else original
        end = dt.datetime.fromisoformat(change["end"]) if change else original + duration
        if start < window_start or start >= window_end:
            continue
        entry = {
            "originalStart": key,
            "type": "exception" if change else "occurrence",
            "start": {"dateTime": iso(start), "timeZone": "UTC"},
            "end": {"dateTime": iso(end), "timeZone": "UTC"},
        }
        if change and change.get("subject") is not None:
            entry["subject"] = change["subject"]
        out.append(entry)
    return out


def utc(when: dict[str, Any]) -> dt.datetime:
    """A Graph dateTimeTimeZone as an aware UTC datetime."""
    zone = timezones.zone(when.get("timeZone") or "UTC")
    local = dt.datetime.fromisoformat(str(when["dateTime"]).replace("Z", "")[:19])
    return local.replace(tzinfo=zone).astimezone(dt.UTC)
