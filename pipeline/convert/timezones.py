"""Outlook time zone blobs (TZDEFINITION, TZREG) and local <-> UTC conversion by their rules.

Recurrence exceptions are stored in the series' local time, so converting them needs the zone the
item was created in, not the machine's; EWS wants the Windows key name, which TZDEFINITION carries.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipeline import mapi, props
from pipeline.model import SourceItem

_SYSTEMTIME = struct.Struct("<8H")


@dataclass(frozen=True, slots=True)
class Transition:
    """A SYSTEMTIME transition rule: month, day-of-week, week occurrence (5 = last), time of day."""

    year: int
    month: int
    day_of_week: int
    day: int
    hour: int
    minute: int

    def on(self, year: int) -> datetime:
        """The local wall-clock moment of this transition in the given year."""
        if self.year:  # absolute date
            return datetime(year, self.month, max(1, self.day), self.hour, self.minute)
        first = date(year, self.month, 1)
        offset = (self.day_of_week - (first.isoweekday() % 7)) % 7
        day = first + timedelta(days=offset + 7 * (min(self.day, 5) - 1))
        while day.month != self.month:
            day -= timedelta(days=7)
        return datetime(day.year, day.month, day.day, self.hour, self.minute)


@dataclass(frozen=True, slots=True)
class Rule:
    """Biases in minutes (UTC = local + bias + std/dst bias) and the two transitions, from `year` on."""

    year: int
    bias: int
    standard_bias: int
    daylight_bias: int
    standard: Transition | None
    daylight: Transition | None

    def is_daylight(self, local: datetime) -> bool:
        if self.standard is None or self.daylight is None:
            return False
        to_dst = self.daylight.on(local.year)
        to_std = self.standard.on(local.year)
        if to_dst < to_std:
            return to_dst <= local < to_std
        return not (to_std <= local < to_dst)

    def offset_minutes(self, local: datetime) -> int:
        """Minutes to add to local time to get UTC."""
        return self.bias + (self.daylight_bias if self.is_daylight(local) else self.standard_bias)


@dataclass(frozen=True, slots=True)
class TimeZone:
    """A zone as Outlook stored it: the Windows key name (may be empty) and its dated rules."""

    key_name: str | None
    rules: tuple[Rule, ...]

    def rule_for(self, year: int) -> Rule | None:
        chosen = None
        for rule in self.rules:
            if rule.year <= year or chosen is None:
                chosen = rule
        return chosen

    def to_utc(self, local: datetime) -> datetime:
        rule = self.rule_for(local.year)
        minutes = rule.offset_minutes(local) if rule else 0
        return (local + timedelta(minutes=minutes)).replace(tzinfo=UTC)

    def to_local(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
        rule = self.rule_for(moment.year)
        if rule is None:
            return moment
        guess = moment - timedelta(minutes=rule.bias + rule.standard_bias)
        return moment - timedelta(minutes=rule.offset_minutes(guess))


UTC_ZONE = TimeZone("UTC", (Rule(0, 0, 0, 0, None, None),))


def _transition(raw: bytes) -> Transition | None:
    year, month, dow, day, hour, minute, _second, _ms = _SYSTEMTIME.unpack(raw)
    if not month:
        return None
    return Transition(year, month, dow, day, hour, minute)


def parse_tzreg(data: bytes, year: int = 0) -> Rule | None:
    """PidLidTimeZoneStruct: lBias, lStandardBias, lDaylightBias, wStandardYear, stStandardDate,
    wDaylightYear, stDaylightDate (48 bytes)."""
    if len(data) < 48:
        return None
    bias, std_bias, dst_bias = struct.unpack_from("<3i", data, 0)
    standard = _transition(data[14:30])
    daylight = _transition(data[32:48])
    return Rule(year, bias, std_bias, dst_bias, standard, daylight)


def parse_tzdefinition(data: bytes) -> TimeZone | None:
    """TZDEFINITION: version, header size, key name (UTF-16), then TZRULE entries of 66 bytes."""
    try:
        major, _minor, cb_header = struct.unpack_from("<BBH", data, 0)
        if major != 2:
            return None
        _reserved, cch_key = struct.unpack_from("<HH", data, 4)
        key = data[8 : 8 + 2 * cch_key].decode("utf-16-le", errors="replace")
        (count,) = struct.unpack_from("<H", data, 4 + cb_header - 2)
        pos = 4 + cb_header
        rules = []
        for _ in range(count):
            _major, _minor, _res, _flags, year = struct.unpack_from("<BBHHH", data, pos)
            bias, std_bias, dst_bias = struct.unpack_from("<3i", data, pos + 22)
            standard = _transition(data[pos + 34 : pos + 50])
            daylight = _transition(data[pos + 50 : pos + 66])
            rules.append(Rule(year, bias, std_bias, dst_bias, standard, daylight))
            pos += 66
    except (struct.error, IndexError):
        return None
    if not rules:
        return None
    rules.sort(key=lambda r: r.year)
    return TimeZone(key or None, tuple(rules))


def item_timezone(item: SourceItem, end: bool = False) -> TimeZone | None:
    """The zone of an appointment: TZDEFINITION (start or end), else the legacy TZREG struct."""
    lid = mapi.LID_APPOINTMENT_TIMEZONE_DEFINITION_END if end else mapi.LID_APPOINTMENT_TIMEZONE_DEFINITION_START
    for candidate in (lid, mapi.LID_APPOINTMENT_TIMEZONE_DEFINITION_START):
        blob = props.binary(item.named_prop(mapi.PSETID_APPOINTMENT, candidate))
        if blob:
            zone = parse_tzdefinition(blob)
            if zone is not None:
                return zone
    blob = props.binary(item.named_prop(mapi.PSETID_APPOINTMENT, mapi.LID_TIMEZONE_STRUCT))
    if blob:
        rule = parse_tzreg(blob)
        if rule is not None:
            return TimeZone(None, (rule,))
    return None
