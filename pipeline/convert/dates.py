"""Date-only values (birthday, anniversary, task dates): the calendar date the user saw, not a UTC instant.

Outlook stores a birthday as the local midnight converted to UTC, so a contact made in UTC+9 holds
15:00 UTC of the day before. The local copy (PidLidBirthdayLocal, PidLidWeddingAnniversaryLocal) is
exact when present; otherwise the nearest midnight recovers the date for any zone within ±12 hours.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pipeline import props

LID_BIRTHDAY_LOCAL = 0x80DE
LID_WEDDING_ANNIVERSARY_LOCAL = 0x80DF


def nearest_midnight(moment: datetime) -> date:
    """The date of the midnight nearest to `moment` (noon rounds up)."""
    return (moment + timedelta(hours=12)).date()


def calendar_date(utc: Any, local: Any = None) -> date | None:
    """The date a date-only property means: from its local copy when there is one, else the nearest
    midnight of the UTC value; None when neither is a usable time."""
    exact = props.as_time(local)
    if exact is not None:
        return exact.date()
    moment = props.as_time(utc)
    return nearest_midnight(moment) if moment is not None else None
