"""Instance indexes of recurring series: the position EWS gives an occurrence, from the series pattern."""

from __future__ import annotations

import datetime as dt

from pipeline.convert.typed_values import typed
from pipeline.destination.ews.occurrences import instance_index
from pipeline.model import UploadItem


def series(recurrence: dict, start: dt.datetime, zone: str | None = None) -> UploadItem:
    fields = {"start": start, "end": start + dt.timedelta(hours=1), "recurrence": recurrence}
    if zone:
        fields["start_timezone"] = zone
    return UploadItem(
        kind="calendar",
        item_class="IPM.Appointment",
        folder_path=("Calendar",),
        fingerprint="f",
        subject="s",
        source_node_id=1,
        value=typed("calendar", fields),
    )


def test_weekly_mon_wed_fri():
    upload = series(
        {
            "pattern": "weekly",
            "interval": 1,
            "weekdays": ["Monday", "Wednesday", "Friday"],
            "first_day_of_week": "Sunday",
            "start": dt.date(2024, 1, 1),
            "end": None,
            "count": 10,
            "deleted_occurrences": [dt.datetime(2024, 1, 5, 9, tzinfo=dt.UTC)],
        },
        dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC),
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
        {"pattern": "daily", "interval": 2, "start": dt.date(2024, 2, 29), "end": dt.date(2024, 3, 31), "count": None},
        start,
        "Eastern Standard Time",
    )
    assert instance_index(upload, start) == 1
    assert instance_index(upload, dt.datetime(2024, 3, 3, 4, 30, tzinfo=dt.UTC)) == 2


def test_relative_monthly_last_friday_and_absolute_yearly():
    upload = series(
        {
            "pattern": "relative_monthly",
            "interval": 1,
            "weekday": "Friday",
            "week_number": "Last",
            "start": dt.date(2024, 1, 26),
            "end": None,
            "count": 12,
        },
        dt.datetime(2024, 1, 26, 15, tzinfo=dt.UTC),
    )
    assert instance_index(upload, dt.datetime(2024, 3, 29, 15, tzinfo=dt.UTC)) == 3
    upload = series(
        {
            "pattern": "absolute_yearly",
            "day_of_month": 14,
            "month": 2,
            "start": dt.date(2020, 2, 14),
            "end": None,
            "count": None,
        },
        dt.datetime(2020, 2, 14, 12, tzinfo=dt.UTC),
    )
    assert instance_index(upload, dt.datetime(2023, 2, 14, 12, tzinfo=dt.UTC)) == 4
