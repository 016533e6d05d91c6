"""Instance indexes of recurring series: the position EWS gives an occurrence, from the series pattern."""

from __future__ import annotations

import datetime as dt

from pipeline import item_values as v
from pipeline.destination.ews.occurrences import instance_index
from pipeline.model import UploadItem


def series(
    pattern: v.Pattern,
    start: dt.datetime,
    zone: str | None = None,
    *,
    first: dt.date,
    end: dt.date | None = None,
    count: int | None = None,
    deleted: tuple[dt.datetime, ...] = (),
) -> UploadItem:
    repeats = v.Series(v.Recurrence(pattern, first, end, count), deleted)
    return UploadItem(
        kind="calendar",
        item_class="IPM.Appointment",
        folder_path=("Calendar",),
        identity="f",
        subject="s",
        source_node_id=1,
        value=v.Appointment(start=start, end=start + dt.timedelta(hours=1), start_zone=zone, series=repeats),
    )


def test_weekly_mon_wed_fri():
    upload = series(
        v.Pattern(
            v.PatternKind.WEEKLY,
            1,
            (v.Weekday.MONDAY, v.Weekday.WEDNESDAY, v.Weekday.FRIDAY),
            first_day_of_week=v.Weekday.SUNDAY,
        ),
        dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC),
        first=dt.date(2024, 1, 1),
        count=10,
        deleted=(dt.datetime(2024, 1, 5, 9, tzinfo=dt.UTC),),
    )
    assert upload.has_series_exceptions
    assert instance_index(upload, dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)) == 1
    assert instance_index(upload, dt.datetime(2024, 1, 5, 9, tzinfo=dt.UTC)) == 3
    assert instance_index(upload, dt.datetime(2024, 1, 8, 9, tzinfo=dt.UTC)) == 4
    assert instance_index(upload, dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)) is None  # a Tuesday
    assert instance_index(upload, dt.datetime(2024, 2, 2, 9, tzinfo=dt.UTC)) is None  # past the 10th


def test_daily_every_other_day_in_a_time_zone():
    # 23:30 in New York is the next day in UTC: the index must follow the local date.
    start = dt.datetime(2024, 3, 1, 4, 30, tzinfo=dt.UTC)  # 2024-02-29 23:30 EST
    upload = series(
        v.Pattern(v.PatternKind.DAILY, 2),
        start,
        "Eastern Standard Time",
        first=dt.date(2024, 2, 29),
        end=dt.date(2024, 3, 31),
    )
    assert instance_index(upload, start) == 1
    assert instance_index(upload, dt.datetime(2024, 3, 3, 4, 30, tzinfo=dt.UTC)) == 2


def test_relative_monthly_last_friday_and_absolute_yearly():
    upload = series(
        v.Pattern(v.PatternKind.RELATIVE_MONTHLY, 1, day=v.RelativeDay.FRIDAY, week=v.WeekIndex.LAST),
        dt.datetime(2024, 1, 26, 15, tzinfo=dt.UTC),
        first=dt.date(2024, 1, 26),
        count=12,
    )
    assert instance_index(upload, dt.datetime(2024, 3, 29, 15, tzinfo=dt.UTC)) == 3
    upload = series(
        v.Pattern(v.PatternKind.ABSOLUTE_YEARLY, day_of_month=14, month=2),
        dt.datetime(2020, 2, 14, 12, tzinfo=dt.UTC),
        first=dt.date(2020, 2, 14),
    )
    assert instance_index(upload, dt.datetime(2023, 2, 14, 12, tzinfo=dt.UTC)) == 4
