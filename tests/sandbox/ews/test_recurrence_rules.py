"""The sandbox's recurrence expansion on its own (no server): patterns, ranges, errors, occurrence ids.

Expected dates are read off a calendar by hand, so the expansion is checked against the rules, not itself.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.sandbox import ids
from pipeline.sandbox.ews import recurrence, series

T = 'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'


def _pattern(body: str, rng: str) -> recurrence.Pattern:
    return recurrence.parse(f"<t:Recurrence {T}>{body}{rng}</t:Recurrence>")


def _dates(p: recurrence.Pattern, n: int = 50) -> list[str]:
    return [d.isoformat() for d in list(recurrence.dates(p))[:n]]


def test_weekly_every_other_week_counts_weeks_from_first_day_of_week():
    # Tue+Thu every 2nd week, weeks starting Monday, range from Thu 4 Jan 2024.
    p = _pattern(
        "<t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Tuesday Thursday</t:DaysOfWeek>"
        "<t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>",
        "<t:NumberedRecurrence><t:StartDate>2024-01-04</t:StartDate>"
        "<t:NumberOfOccurrences>5</t:NumberOfOccurrences></t:NumberedRecurrence>",
    )
    assert _dates(p) == ["2024-01-04", "2024-01-16", "2024-01-18", "2024-01-30", "2024-02-01"]


def test_daily_end_date_is_inclusive_and_weekday_group():
    p = _pattern(
        "<t:DailyRecurrence><t:Interval>3</t:Interval></t:DailyRecurrence>",
        "<t:EndDateRecurrence><t:StartDate>2024-02-27</t:StartDate><t:EndDate>2024-03-04</t:EndDate>"
        "</t:EndDateRecurrence>",
    )
    assert _dates(p) == ["2024-02-27", "2024-03-01", "2024-03-04"]
    weekdays = _pattern(
        "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek></t:WeeklyRecurrence>",
        "<t:NoEndRecurrence><t:StartDate>2024-03-08</t:StartDate></t:NoEndRecurrence>",
    )
    assert _dates(weekdays, 3) == ["2024-03-08", "2024-03-11", "2024-03-12"]


def test_relative_monthly_last_weekend_day():
    p = _pattern(
        "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>WeekendDay</t:DaysOfWeek>"
        "<t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
        "<t:NumberedRecurrence><t:StartDate>2024-01-01</t:StartDate>"
        "<t:NumberOfOccurrences>3</t:NumberOfOccurrences></t:NumberedRecurrence>",
    )
    assert _dates(p) == ["2024-01-28", "2024-02-25", "2024-03-31"]


@pytest.mark.parametrize(
    ("body", "rng", "code"),
    [
        (
            "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek></t:DaysOfWeek></t:WeeklyRecurrence>",
            "<t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence>",
            "ErrorCalendarInvalidDayForWeeklyRecurrence",
        ),
        (
            "<t:DailyRecurrence><t:Interval>0</t:Interval></t:DailyRecurrence>",
            "<t:NoEndRecurrence><t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence>",
            "ErrorCalendarInvalidRecurrence",
        ),
        (
            "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>",
            "<t:EndDateRecurrence><t:StartDate>2024-01-02</t:StartDate><t:EndDate>2024-01-01</t:EndDate>"
            "</t:EndDateRecurrence>",
            "ErrorRecurrenceHasNoOccurrence",
        ),
    ],
)
def test_invalid_recurrences(body, rng, code):
    with pytest.raises(recurrence.RecurrenceError) as caught:
        _pattern(body, rng)
    assert caught.value.code == code


def test_prepare_master_moves_start_onto_the_pattern():
    fields = {
        "Recurrence": f"<t:Recurrence {T}><t:WeeklyRecurrence><t:Interval>1</t:Interval>"
        "<t:DaysOfWeek>Friday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence>"
        "<t:StartDate>2024-01-01</t:StartDate></t:NoEndRecurrence></t:Recurrence>",
        "Start": f"<t:Start {T}>2024-01-01T09:00:00-05:00</t:Start>",
        "End": f"<t:End {T}>2024-01-01T09:30:00-05:00</t:End>",
        "StartTimeZone": f'<t:StartTimeZone {T} Id="Eastern Standard Time"/>',
    }
    series.prepare_master(fields)
    assert series.field_text(fields, "Start") == "2024-01-05T14:00:00Z"
    assert series.field_text(fields, "End") == "2024-01-05T14:30:00Z"
    found = series.series_of(fields)
    assert found is not None and found.nth(2) == dt.datetime(2024, 1, 12, 14, tzinfo=dt.UTC)


def test_occurrence_ids_round_trip_and_differ_from_item_ids():
    start = dt.datetime(2024, 1, 5, 8, tzinfo=dt.UTC)
    text = ids.occurrence_id(3, 42, start)
    ref = ids.parse_occurrence_id(text)
    assert (ref.mailbox_id, ref.row_id, ref.original_start) == (3, 42, start)
    assert not ids.is_occurrence_id(ids.item_id(3, 42))
    with pytest.raises(ids.MalformedId):
        ids.parse_item_id(text)
