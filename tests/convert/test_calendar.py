"""Appointments: times and zones, all-day, attendees, and recurrence from PidLidAppointmentRecur with
exceptions and deleted occurrences; the same through the iCalendar export."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime

import icalendar

from pipeline import mapi
from pipeline.convert import convert_item
from pipeline.convert.item_files import to_ics
from pipeline.convert.recurrence import END_AFTER_N, END_BY_DATE, FREQ_MONTHLY, FREQ_WEEKLY
from pipeline.convert.timezones import parse_tzdefinition
from pipeline.item_values import (
    Appointment,
    Attendee,
    Body,
    PatternKind,
    Person,
    RelativeDay,
    Response,
    Sensitivity,
    ShowAs,
    Weekday,
    WeekIndex,
)
from tests.convert.helpers import item, recipient, recurrence_blob, tzdefinition

APPT = mapi.PSETID_APPOINTMENT
# (UTC-05:00) Eastern: DST from the 2nd Sunday of March 2:00 to the 1st Sunday of November 2:00.
EASTERN = tzdefinition(
    "Eastern Standard Time", 300, -60, standard=(0, 11, 0, 1, 2, 0, 0, 0), daylight=(0, 3, 0, 2, 2, 0, 0, 0)
)


def appointment(start: datetime, end: datetime, named=None):
    values = {
        (APPT, mapi.LID_APPOINTMENT_START_WHOLE): start,
        (APPT, mapi.LID_APPOINTMENT_END_WHOLE): end,
        (APPT, mapi.LID_APPOINTMENT_TIMEZONE_DEFINITION_START): EASTERN,
        (APPT, mapi.LID_LOCATION): "Room 1",
        (APPT, mapi.LID_BUSY_STATUS): 1,
        (mapi.PSETID_COMMON, mapi.LID_REMINDER_SET): True,
        (mapi.PSETID_COMMON, mapi.LID_REMINDER_DELTA): 10,
    }
    values.update(named or {})
    return item("IPM.Appointment", props={mapi.PR_SUBJECT: "Standup", mapi.PR_BODY: "agenda"}, named=values)


def test_time_zone_rules():
    zone = parse_tzdefinition(EASTERN)
    assert zone.key_name == "Eastern Standard Time"
    assert zone.to_utc(datetime(2021, 7, 1, 9, 0)) == datetime(2021, 7, 1, 13, 0, tzinfo=UTC)
    assert zone.to_utc(datetime(2021, 1, 4, 9, 0)) == datetime(2021, 1, 4, 14, 0, tzinfo=UTC)
    assert zone.to_local(datetime(2021, 11, 8, 14, 0, tzinfo=UTC)) == datetime(2021, 11, 8, 9, 0)


def test_single_appointment_fields():
    start = datetime(2021, 7, 1, 13, 0, tzinfo=UTC)
    source = appointment(start, datetime(2021, 7, 1, 13, 30, tzinfo=UTC), {(APPT, mapi.LID_APPOINTMENT_STATE_FLAGS): 1})
    source.recipients = [
        recipient("to", "Req", "req@example.com"),
        recipient("cc", "Opt", "opt@example.com"),
        recipient("to", "Org", "org@example.com"),
    ]
    source.recipients[0].properties[mapi.PR_RECIPIENT_TRACK_STATUS] = 3
    source.recipients[2].properties[mapi.PR_RECIPIENT_FLAGS] = 3  # sendable + organizer
    source.properties[mapi.PR_SENSITIVITY] = 2
    upload = convert_item(source)
    f = upload.value
    assert upload.kind == "calendar"
    assert (f.start, f.end, f.is_all_day) == (start, datetime(2021, 7, 1, 13, 30, tzinfo=UTC), False)
    assert f.start_zone == "Eastern Standard Time"
    assert (f.location, f.show_as, f.sensitivity) == ("Room 1", ShowAs.TENTATIVE, Sensitivity.PRIVATE)
    assert (f.reminder.is_set, f.reminder.minutes_before) == (True, 10)
    assert f.attendees.required == (Attendee(Person("Req", "req@example.com"), Response.ACCEPTED),)
    assert [a.person.email for a in f.attendees.optional] == ["opt@example.com"]
    assert f.is_meeting is True
    assert f.body == Body("agenda", html=False)
    assert f.series is None


def test_all_day_uses_local_dates():
    source = appointment(
        datetime(2021, 7, 1, 4, 0, tzinfo=UTC),
        datetime(2021, 7, 3, 4, 0, tzinfo=UTC),
        {(APPT, mapi.LID_APPOINTMENT_SUB_TYPE): True},
    )
    f = convert_item(source).value
    assert (f.is_all_day, f.start, f.end) == (True, date(2021, 7, 1), date(2021, 7, 3))


def test_weekly_series_with_exception_and_deleted_occurrence():
    # Mondays and Wednesdays 09:00-09:30 Eastern from 2021-07-05, 10 occurrences.
    blob = recurrence_blob(
        frequency=FREQ_WEEKLY,
        pattern_type=1,
        period=1,
        specific=struct.pack("<I", 0x02 | 0x08),
        end_type=END_AFTER_N,
        count=10,
        start=datetime(2021, 7, 5),
        end=datetime(2021, 8, 4),
        start_offset=540,
        end_offset=570,
        first_dow=1,
        deleted=[datetime(2021, 7, 7), datetime(2021, 7, 12)],
        modified=[datetime(2021, 7, 13)],
        exceptions=[
            {
                "start": datetime(2021, 7, 13, 10, 0),
                "end": datetime(2021, 7, 13, 11, 0),
                "original": datetime(2021, 7, 12, 9, 0),
                "subject": "Moved standup",
                "location": "Café",
            }
        ],
    )
    source = appointment(
        datetime(2021, 7, 5, 13, 0, tzinfo=UTC),
        datetime(2021, 7, 5, 13, 30, tzinfo=UTC),
        {(APPT, mapi.LID_APPOINTMENT_RECUR): blob, (APPT, mapi.LID_RECURRING): True},
    )
    upload = convert_item(source)
    series = upload.value.series
    assert upload.warnings == []
    rec = series.recurrence
    assert (
        rec.pattern.kind,
        rec.pattern.interval,
        rec.pattern.weekdays,
        rec.pattern.first_day_of_week,
        rec.start,
        rec.end,
        rec.count,
    ) == (PatternKind.WEEKLY, 1, (Weekday.MONDAY, Weekday.WEDNESDAY), Weekday.MONDAY, date(2021, 7, 5), None, 10)
    assert series.deleted == (datetime(2021, 7, 7, 13, 0, tzinfo=UTC),)
    (moved,) = series.modified
    assert moved.original_start == datetime(2021, 7, 12, 13, 0, tzinfo=UTC)
    assert (moved.start, moved.end) == (
        datetime(2021, 7, 13, 14, 0, tzinfo=UTC),
        datetime(2021, 7, 13, 15, 0, tzinfo=UTC),
    )
    assert (moved.subject, moved.location) == ("Moved standup", "Café")

    cal = icalendar.Calendar.from_ical(to_ics(upload.value))
    master, occurrence = [c for c in cal.walk("VEVENT")]
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["BYDAY"] == ["MO", "WE"]
    assert master["RRULE"]["COUNT"] == [10]
    assert master["EXDATE"].dts[0].dt == datetime(2021, 7, 7, 13, 0, tzinfo=UTC)
    assert occurrence["RECURRENCE-ID"].dt == datetime(2021, 7, 12, 13, 0, tzinfo=UTC)
    assert str(occurrence["SUMMARY"]) == "Moved standup"


def test_monthly_nth_weekday_until_date():
    blob = recurrence_blob(
        frequency=FREQ_MONTHLY,
        pattern_type=3,
        period=2,
        specific=struct.pack("<2I", 0x3E, 5),
        end_type=END_BY_DATE,
        count=6,
        start=datetime(2021, 1, 1),
        end=datetime(2021, 12, 31),
        start_offset=600,
        end_offset=660,
    )
    source = appointment(
        datetime(2021, 1, 29, 15, 0, tzinfo=UTC),
        datetime(2021, 1, 29, 16, 0, tzinfo=UTC),
        {(APPT, mapi.LID_APPOINTMENT_RECUR): blob},
    )
    rec = convert_item(source).value.series.recurrence
    assert (rec.pattern.kind, rec.pattern.interval, rec.pattern.day, rec.pattern.week, rec.end, rec.count) == (
        PatternKind.RELATIVE_MONTHLY,
        2,
        RelativeDay.WEEKDAY,
        WeekIndex.LAST,
        date(2021, 12, 31),
        None,
    )


def test_truncated_recurrence_is_a_warning():
    source = appointment(
        datetime(2021, 1, 29, 15, 0, tzinfo=UTC),
        datetime(2021, 1, 29, 16, 0, tzinfo=UTC),
        {(APPT, mapi.LID_APPOINTMENT_RECUR): b"\x04\x30\x04\x30\x0b\x20"},
    )
    upload = convert_item(source)
    assert upload.value.series is None
    assert any("recurrence" in str(w) for w in upload.warnings)


def test_an_appointment_without_a_uid_exports_the_same_uid_every_time():
    """Its UID comes from its identity (it came from an object address, which changes from run to run)."""
    from datetime import UTC, datetime

    value = Appointment(
        subject="s", start=datetime(2026, 1, 5, 9, tzinfo=UTC), end=datetime(2026, 1, 5, 10, tzinfo=UTC)
    )
    first, again = to_ics(value, "ab12#2"), to_ics(value, "ab12#2")
    assert first == again and b"UID:rebuild-ab12-2\r\n" in first
    assert b"UID:rebuild-cd34-1" in to_ics(value, "cd34#1")
