"""Windows time zone ids (what EWS clients send in StartTimeZone/MeetingTimeZone) mapped to IANA zones.

Exchange expands a series in the series' own zone: the pattern is wall-clock time, so DST moves the UTC start.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Fallback for the zones seen most, used when tzlocal's CLDR table (an exchangelib dependency) is absent.
_COMMON = {
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "Tokyo Standard Time": "Asia/Tokyo",
    "China Standard Time": "Asia/Shanghai",
    "India Standard Time": "Asia/Calcutta",
    "AUS Eastern Standard Time": "Australia/Sydney",
}


class UnknownZone(ValueError):
    """A time zone id the sandbox cannot map (Exchange: ErrorTimeZone)."""


def _table() -> dict[str, str]:
    try:
        from tzlocal.windows_tz import win_tz  # type: ignore[import-untyped]
    except ImportError:
        return _COMMON
    return {**_COMMON, **win_tz}


@lru_cache(maxsize=256)
def zone(windows_id: str | None) -> dt.tzinfo:
    """The tzinfo of a Windows zone id (an IANA name is accepted too); None means UTC."""
    if not windows_id:
        return dt.UTC
    name = _table().get(windows_id, windows_id)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownZone(windows_id) from exc
