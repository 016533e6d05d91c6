"""Recurrence patterns of calendar series: parsing EWS <t:Recurrence> and expanding it into occurrences.

Expansion is written out here (not dateutil's rrule, which the client uses) so that the sandbox checks the
client against Exchange's documented rules instead of agreeing with it by construction: the pattern is local
wall-clock time in the series' zone, StartDate opens the range, day 31 means the month's last day, and
InstanceIndex counts every pattern position (deleted ones included), starting at 1.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count, islice

from lxml import etree

from pipeline.sandbox.ews.soap import T_NS

_T = f"{{{T_NS}}}"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_GROUPS = {"Day": frozenset(range(7)), "Weekday": frozenset(range(5)), "WeekendDay": frozenset({5, 6})}
WEEK_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = tuple(calendar.month_name)[1:]
PATTERNS = {
    "DailyRecurrence": "daily",
    "WeeklyRecurrence": "weekly",
    "AbsoluteMonthlyRecurrence": "absolute_monthly",
    "RelativeMonthlyRecurrence": "relative_monthly",
    "AbsoluteYearlyRecurrence": "absolute_yearly",
    "RelativeYearlyRecurrence": "relative_yearly",
}
RANGES = {"NumberedRecurrence": "numbered", "EndDateRecurrence": "end_date", "NoEndRecurrence": "no_end"}
#: Positions enumerated at most for a series without end (a daily series over 100 years).
MAX_OCCURRENCES = 36_600


class RecurrenceError(ValueError):
    """A Recurrence Exchange refuses; `code` is the EWS response code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True, slots=True)
class Pattern:
    """One <t:Recurrence>: the pattern (what days) and the range (from when, how long)."""

    kind: str
    interval: int
    days: frozenset[int]  # weekday numbers, Monday = 0
    first_day_of_week: int
    day_of_month: int | None
    week_index: int | None
    month: int | None
    range_kind: str
    start_date: dt.date
    end_date: dt.date | None
    count: int | None

    def summary(self) -> dict[str, object]:
        """A plain description for tests and `sandbox ls`."""
        found: dict[str, object] = {"pattern": self.kind, "interval": self.interval}
        if self.days and self.kind != "daily":
            found["days"] = [WEEKDAYS[d] for d in sorted(self.days)]
        if self.kind == "weekly":
            found["first_day_of_week"] = WEEKDAYS[self.first_day_of_week]
        for key in ("day_of_month", "week_index", "month"):
            if getattr(self, key) is not None:
                found[key] = getattr(self, key)
        found.update(range=self.range_kind, start=self.start_date.isoformat())
        if self.end_date is not None:
            found["end"] = self.end_date.isoformat()
        if self.count is not None:
            found["count"] = self.count
        return found


def _text(elem: etree._Element, name: str) -> str | None:
    found = elem.find(f"{_T}{name}")
    return None if found is None or found.text is None else found.text.strip()


def _int(elem: etree._Element, name: str, low: int, high: int) -> int:
    text = _text(elem, name)
    try:
        value = int(text or "")
    except ValueError as exc:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", f"{name} is missing or not a number.") from exc
    if not low <= value <= high:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", f"{name} {value} is out of range.")
    return value


def _date(elem: etree._Element, name: str) -> dt.date:
    text = (_text(elem, name) or "")[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", f"{name} is not a date.") from exc


def _days(text: str | None) -> frozenset[int]:
    days: set[int] = set()
    for word in (text or "").split():
        if word in DAY_GROUPS:
            days |= DAY_GROUPS[word]
        elif word in WEEKDAYS:
            days.add(WEEKDAYS.index(word))
        else:
            raise RecurrenceError("ErrorCalendarInvalidRecurrence", f"{word!r} is not a day of the week.")
    return frozenset(days)


def parse(recurrence: etree._Element | str) -> Pattern:
    """A <t:Recurrence> element (or its stored XML text) -> Pattern, or RecurrenceError."""
    elem = etree.fromstring(recurrence) if isinstance(recurrence, str) else recurrence
    children = list(elem)
    pattern_elem = next((c for c in children if etree.QName(c).localname in PATTERNS), None)
    range_elem = next((c for c in children if etree.QName(c).localname in RANGES), None)
    if pattern_elem is None or range_elem is None:
        raise RecurrenceError("ErrorCalendarInvalidRecurrence", "Recurrence needs a pattern and a range.")
    kind = PATTERNS[etree.QName(pattern_elem).localname]
    yearly = kind.endswith("yearly")
    interval = 1 if yearly else _int(pattern_elem, "Interval", 1, 999)
    days: frozenset[int] = frozenset()
    first_day = 6
    day_of_month = week_index = month = None
    if kind == "weekly":
        days = _days(_text(pattern_elem, "DaysOfWeek"))
        if not days:
            raise RecurrenceError(
                "ErrorCalendarInvalidDayForWeeklyRecurrence", "A weekly recurrence needs at least one day."
            )
        first_text = _text(pattern_elem, "FirstDayOfWeek")
        first_day = WEEKDAYS.index(first_text) if first_text in WEEKDAYS else 6
    if kind.startswith("absolute"):
        day_of_month = _int(pattern_elem, "DayOfMonth", 1, 31)
    if kind.startswith("relative"):
        days = _days(_text(pattern_elem, "DaysOfWeek"))
        index_text = _text(pattern_elem, "DayOfWeekIndex") or ""
        if not days or index_text not in WEEK_INDEX:
            raise RecurrenceError("ErrorCalendarInvalidRecurrence", "DaysOfWeek or DayOfWeekIndex is invalid.")
        week_index = WEEK_INDEX[index_text]
    if yearly:
        month_text = _text(pattern_elem, "Month") or ""
        if month_text not in MONTHS:
            raise RecurrenceError("ErrorCalendarInvalidRecurrence", f"{month_text!r} is not a month.")
        month = MONTHS.index(month_text) + 1
    range_kind = RANGES[etree.QName(range_elem).localname]
    start_date = _date(range_elem, "StartDate")
    end_date = _date(range_elem, "EndDate") if range_kind == "end_date" else None
    number = _int(range_elem, "NumberOfOccurrences", 1, 999) if range_kind == "numbered" else None
    if end_date is not None and end_date < start_date:
        raise RecurrenceError("ErrorRecurrenceHasNoOccurrence", "The recurrence range has no occurrence.")
    return Pattern(
        kind, interval, days, first_day, day_of_month, week_index, month, range_kind, start_date, end_date, number
    )


def _add_months(day: dt.date, months: int) -> tuple[int, int]:
    total = day.year * 12 + day.month - 1 + months
    return total // 12, total % 12 + 1


def _nth_in_month(year: int, month: int, days: frozenset[int], index: int) -> dt.date:
    matching = [
        dt.date(year, month, d)
        for d in range(1, calendar.monthrange(year, month)[1] + 1)
        if dt.date(year, month, d).weekday() in days
    ]
    return matching[index - 1] if index > 0 else matching[-1]


def _candidates(p: Pattern) -> Iterator[dt.date]:
    """Every date of the pattern from the range's start, ignoring the range's end (may not terminate)."""
    start = p.start_date
    if p.kind == "daily":
        for k in count():
            yield start + dt.timedelta(days=k * p.interval)
    elif p.kind == "weekly":
        week_start = start - dt.timedelta(days=(start.weekday() - p.first_day_of_week) % 7)
        order = [(p.first_day_of_week + i) % 7 for i in range(7)]
        for k in count():
            base = week_start + dt.timedelta(weeks=k * p.interval)
            for offset, weekday in enumerate(order):
                if weekday in p.days:
                    day = base + dt.timedelta(days=offset)
                    if day >= start:
                        yield day
    else:
        months = 12 if p.kind.endswith("yearly") else p.interval
        first = dt.date(start.year, p.month or start.month, 1)
        for k in count():
            y, m = _add_months(first, k * months)
            if y > 9999:
                return
            if p.day_of_month is not None:
                day = dt.date(y, m, min(p.day_of_month, calendar.monthrange(y, m)[1]))
            else:
                day = _nth_in_month(y, m, p.days, p.week_index or 1)
            if day >= start:
                yield day


def dates(p: Pattern) -> Iterator[dt.date]:
    """The local dates of the series, in order, within its range (at most MAX_OCCURRENCES)."""
    limit = p.count if p.count is not None else MAX_OCCURRENCES
    for day in islice(_candidates(p), limit):
        if p.end_date is not None and day > p.end_date:
            return
        yield day


@dataclass(frozen=True, slots=True)
class Series:
    """A pattern anchored in time: wall-clock start and duration of the master, in the series' zone."""

    pattern: Pattern
    zone: dt.tzinfo
    clock: dt.time
    duration: dt.timedelta

    @classmethod
    def of(cls, pattern: Pattern, zone: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> Series:
        local = start.astimezone(zone)
        return cls(pattern, zone, local.time().replace(tzinfo=None), end - start)

    def at(self, day: dt.date) -> dt.datetime:
        """UTC start of the occurrence on a local date."""
        return dt.datetime.combine(day, self.clock, tzinfo=self.zone).astimezone(dt.UTC)

    def starts(self) -> Iterator[dt.datetime]:
        """UTC (original) starts of every occurrence, in order."""
        for day in dates(self.pattern):
            yield self.at(day)

    def nth(self, index: int) -> dt.datetime | None:
        """The original start of the index-th occurrence (1-based), None beyond the series."""
        if index < 1:
            return None
        return next(islice(self.starts(), index - 1, None), None)

    def index_of(self, original: dt.datetime) -> int | None:
        for index, start in enumerate(self.starts(), start=1):
            if start == original:
                return index
            if start > original:
                return None
        return None

    def last(self) -> dt.datetime | None:
        """Original start of the last occurrence; None for a series without end."""
        if self.pattern.range_kind == "no_end":
            return None
        found = None
        for found in self.starts():  # noqa: B007 - only the last one matters
            pass
        return found

    def neighbours(self, original: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Original starts of the occurrences just before and after `original`."""
        before = None
        iterator = self.starts()
        for start in iterator:
            if start == original:
                return before, next(iterator, None)
            before = start
        return before, None
