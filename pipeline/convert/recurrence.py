"""PidLidAppointmentRecur (MS-OXOCAL 2.2.1.44): the series pattern, its range, deleted occurrences
and modified occurrences (exceptions), turned into the item values' `Series` (an appointment's) or
`Recurrence` (a task's).

Times inside the blob are local to the series' zone in minutes since 1601-01-01, hence `TimeZone`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline import item_values as v
from pipeline.convert.timezones import UTC_ZONE, TimeZone

EPOCH_1601 = datetime(1601, 1, 1)
WEEKDAYS = tuple(v.Weekday)  # Sunday first, as the day mask's bits
WEEK_NUMBERS = {
    1: v.WeekIndex.FIRST,
    2: v.WeekIndex.SECOND,
    3: v.WeekIndex.THIRD,
    4: v.WeekIndex.FOURTH,
    5: v.WeekIndex.LAST,
}
END_BY_DATE, END_AFTER_N, END_NEVER, END_NEVER_OLD = 0x2021, 0x2022, 0x2023, 0xFFFFFFFF
FREQ_DAILY, FREQ_WEEKLY, FREQ_MONTHLY, FREQ_YEARLY = 0x200A, 0x200B, 0x200C, 0x200D
PATTERN_DAY, PATTERN_WEEK, PATTERN_MONTH, PATTERN_MONTH_NTH, PATTERN_MONTH_END = 0, 1, 2, 3, 4
HJ_PATTERNS = (0x0A, 0x0B, 0x0C)
ARO_SUBJECT, ARO_MEETINGTYPE, ARO_REMINDERDELTA, ARO_REMINDER = 0x01, 0x02, 0x04, 0x08
ARO_LOCATION, ARO_BUSYSTATUS, ARO_ATTACHMENT, ARO_SUBTYPE = 0x10, 0x20, 0x40, 0x80
ARO_APPTCOLOR, ARO_EXCEPTIONAL_BODY = 0x100, 0x200
#: PidLidBusyStatus
BUSY_STATUS = {
    0: v.ShowAs.FREE,
    1: v.ShowAs.TENTATIVE,
    2: v.ShowAs.BUSY,
    3: v.ShowAs.OUT_OF_OFFICE,
    4: v.ShowAs.WORKING_ELSEWHERE,
}


class RecurrenceError(ValueError):
    """The blob is truncated or inconsistent."""


def minutes_to_local(minutes: int) -> datetime:
    return EPOCH_1601 + timedelta(minutes=minutes)


@dataclass(slots=True)
class ExceptionInfo:
    """One modified occurrence, local times; None for what the exception does not override."""

    start: datetime
    end: datetime
    original_start: datetime
    flags: int
    subject: str | None = None
    location: str | None = None
    meeting_type: int | None = None
    reminder_delta: int | None = None
    reminder_set: bool | None = None
    busy_status: int | None = None
    has_attachment: bool | None = None
    is_all_day: bool | None = None
    color: int | None = None


@dataclass(slots=True)
class Recurrence:
    """The parsed blob (local times) before it becomes a typed Recurrence or Series."""

    frequency: int
    pattern_type: int
    calendar_type: int
    period: int
    day_mask: int = 0
    day_of_month: int = 0
    nth: int = 0
    end_type: int = END_NEVER
    occurrence_count: int = 0
    first_dow: int = 0
    deleted_dates: list[datetime] = field(default_factory=list)
    modified_dates: list[datetime] = field(default_factory=list)
    start_date: datetime = EPOCH_1601
    end_date: datetime = EPOCH_1601
    start_offset: int = 0  # minutes after local midnight
    end_offset: int = 0
    exceptions: list[ExceptionInfo] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        try:
            values = struct.unpack_from("<" + fmt, self.data, self.pos)
        except struct.error:
            raise RecurrenceError(f"recurrence blob truncated at byte {self.pos}") from None
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise RecurrenceError(f"recurrence blob truncated at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def ansi_text(self, codec: str) -> str:
        """An exception's subject or location: two lengths (with and without the terminator, [MS-OXOCAL]
        2.2.1.44.2), then the 8-bit string of the second."""
        _length, length2 = self.take("2H")
        return self.raw(length2).decode(codec, errors="replace")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


def parse(data: bytes, codec: str = "cp1252") -> Recurrence:
    """Parse the AppointmentRecurrencePattern (or a bare RecurrencePattern, as tasks store)."""
    r = _Reader(data)
    _reader_version, _writer_version, frequency, pattern_type, calendar_type = r.take("5H")
    first_datetime, period, _sliding = r.take("3I")
    del first_datetime
    rec = Recurrence(frequency, pattern_type, calendar_type, period)
    if pattern_type == PATTERN_WEEK:
        rec.day_mask = r.take("I")
    elif pattern_type in (PATTERN_MONTH, PATTERN_MONTH_END, 0x0A, 0x0C):
        rec.day_of_month = r.take("I")
    elif pattern_type in (PATTERN_MONTH_NTH, 0x0B):
        rec.day_mask, rec.nth = r.take("2I")
    rec.end_type, rec.occurrence_count, rec.first_dow = r.take("3I")
    deleted = r.take("I")
    rec.deleted_dates = [minutes_to_local(r.take("I")) for _ in range(deleted)]
    modified = r.take("I")
    rec.modified_dates = [minutes_to_local(r.take("I")) for _ in range(modified)]
    start_date, end_date = r.take("2I")
    rec.start_date, rec.end_date = minutes_to_local(start_date), minutes_to_local(end_date)
    if r.remaining < 16:
        return rec  # a task recurrence: no appointment part
    _reader2, writer2, rec.start_offset, rec.end_offset = r.take("4I")
    count = r.take("H")
    for _ in range(count):
        start, end, original, flags = r.take("3IH")
        info = ExceptionInfo(minutes_to_local(start), minutes_to_local(end), minutes_to_local(original), flags)
        if flags & ARO_SUBJECT:
            info.subject = r.ansi_text(codec)
        if flags & ARO_MEETINGTYPE:
            info.meeting_type = r.take("I")
        if flags & ARO_REMINDERDELTA:
            info.reminder_delta = r.take("i")
        if flags & ARO_REMINDER:
            info.reminder_set = bool(r.take("I"))
        if flags & ARO_LOCATION:
            info.location = r.ansi_text(codec)
        if flags & ARO_BUSYSTATUS:
            info.busy_status = r.take("I")
        if flags & ARO_ATTACHMENT:
            info.has_attachment = bool(r.take("I"))
        if flags & ARO_SUBTYPE:
            info.is_all_day = bool(r.take("I"))
        if flags & ARO_APPTCOLOR:
            info.color = r.take("I")
        rec.exceptions.append(info)
    r.raw(r.take("I"))  # ReservedBlock1
    for info in rec.exceptions:  # ExtendedException: the Unicode subject and location
        if r.remaining < 4:
            break
        if writer2 >= 0x3009:
            r.raw(r.take("I"))  # ChangeHighlight (size includes the value)
        r.raw(r.take("I"))  # ReservedBlockEE1
        if info.flags & (ARO_SUBJECT | ARO_LOCATION):
            r.take("3I")
            if info.flags & ARO_SUBJECT:
                info.subject = r.raw(2 * r.take("H")).decode("utf-16-le", errors="replace")
            if info.flags & ARO_LOCATION:
                info.location = r.raw(2 * r.take("H")).decode("utf-16-le", errors="replace")
            r.raw(r.take("I"))  # ReservedBlockEE2
    return rec


def _weekdays(mask: int) -> tuple[v.Weekday, ...]:
    return tuple(day for bit, day in enumerate(WEEKDAYS) if mask & (1 << bit))


def _relative_day(mask: int) -> v.RelativeDay:
    """A MonthNth day mask: one weekday, or any day / weekday / weekend day."""
    if mask == 0x7F:
        return v.RelativeDay.DAY
    if mask == 0x3E:
        return v.RelativeDay.WEEKDAY
    if mask == 0x41:
        return v.RelativeDay.WEEKEND_DAY
    days = _weekdays(mask)
    return v.RelativeDay(days[0].value) if days else v.RelativeDay.DAY


def pattern(rec: Recurrence) -> v.Pattern:
    """How the series repeats; RecurrenceError for what no destination can say (Hijri calendars)."""
    if rec.pattern_type in HJ_PATTERNS:
        raise RecurrenceError("Hijri calendar recurrences have no EWS equivalent")
    if rec.pattern_type == PATTERN_DAY:
        return v.Pattern(v.PatternKind.DAILY, max(1, rec.period // 1440))
    if rec.pattern_type == PATTERN_WEEK:
        return v.Pattern(
            v.PatternKind.WEEKLY,
            max(1, rec.period),
            weekdays=_weekdays(rec.day_mask),
            first_day_of_week=WEEKDAYS[rec.first_dow % 7],
        )
    yearly = rec.frequency == FREQ_YEARLY
    month = rec.start_date.month
    if rec.pattern_type in (PATTERN_MONTH, PATTERN_MONTH_END):
        day = 31 if rec.pattern_type == PATTERN_MONTH_END else rec.day_of_month
        if yearly:
            return v.Pattern(v.PatternKind.ABSOLUTE_YEARLY, day_of_month=day, month=month)
        return v.Pattern(v.PatternKind.ABSOLUTE_MONTHLY, max(1, rec.period), day_of_month=day)
    if rec.pattern_type == PATTERN_MONTH_NTH:
        relative, week = _relative_day(rec.day_mask), WEEK_NUMBERS.get(rec.nth, v.WeekIndex.LAST)
        if yearly:
            return v.Pattern(v.PatternKind.RELATIVE_YEARLY, day=relative, week=week, month=month)
        return v.Pattern(v.PatternKind.RELATIVE_MONTHLY, max(1, rec.period), day=relative, week=week)
    raise RecurrenceError(f"unknown recurrence pattern type {rec.pattern_type}")


def recurrence(rec: Recurrence) -> v.Recurrence:
    """The pattern and its range (an appointment's or a task's): until a date, a count, or no end."""
    return v.Recurrence(
        pattern(rec),
        rec.start_date.date(),
        rec.end_date.date() if rec.end_type == END_BY_DATE else None,
        rec.occurrence_count if rec.end_type == END_AFTER_N else None,
    )


def series(rec: Recurrence, zone: TimeZone | None) -> v.Series:
    """An appointment's recurrence with its deleted occurrences (original starts, UTC, the days an
    exception moved left out) and its modified occurrences."""
    zone = zone or UTC_ZONE
    modified_days = {info.original_start.date() for info in rec.exceptions}
    deleted = tuple(
        zone.to_utc(datetime.combine(day.date(), datetime.min.time()) + timedelta(minutes=rec.start_offset))
        for day in rec.deleted_dates
        if day.date() not in modified_days
    )
    return v.Series(recurrence(rec), deleted, tuple(_exception(info, zone) for info in rec.exceptions))


def _exception(info: ExceptionInfo, zone: TimeZone) -> v.ModifiedOccurrence:
    return v.ModifiedOccurrence(
        zone.to_utc(info.original_start),
        zone.to_utc(info.start),
        zone.to_utc(info.end),
        subject=info.subject,
        location=info.location,
        show_as=BUSY_STATUS.get(info.busy_status, v.ShowAs.BUSY) if info.busy_status is not None else None,
        reminder_is_set=info.reminder_set,
        reminder_minutes_before=info.reminder_delta,
        is_all_day=info.is_all_day,
        meeting_type=info.meeting_type,
        has_exceptional_body=bool(info.flags & ARO_EXCEPTIONAL_BODY),
    )
