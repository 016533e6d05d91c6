"""Recurring series through plain exchangelib: masters, occurrences by index, deleted and modified occurrences.

Expected dates are written out by hand from a calendar, not computed, so the sandbox's expansion is checked
against the documented rules rather than against another implementation.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone, ExtendedProperty
from exchangelib.errors import (
    ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange,
    ErrorCalendarOccurrenceIsDeletedFromRecurrence,
    ErrorOccurrenceCrossingBoundary,
)
from exchangelib.items import ALWAYS_OVERWRITE, SEND_TO_NONE
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from pipeline.fingerprint import PROPERTY_NAME, PROPERTY_SET
from pipeline.sandbox import views
from pipeline.sandbox.ews import schema
from tests.sandbox.helpers import ALICE, needs_schema

BERLIN = EWSTimeZone("Europe/Berlin")
UTC = dt.UTC
EWS_UTC = EWSTimeZone("UTC")
FINGERPRINT_KEY = f"name:{PROPERTY_SET}:{PROPERTY_NAME}"


class Fingerprint(ExtendedProperty):
    """The pipeline's fingerprint property, declared here with plain exchangelib."""

    property_set_id = PROPERTY_SET
    property_name = PROPERTY_NAME
    property_type = "String"


if "sbx_fingerprint" not in {f.name for f in CalendarItem.FIELDS}:
    CalendarItem.register("sbx_fingerprint", Fingerprint)


def _create(account, subject, start, end, pattern, boundary, **extra):
    item = CalendarItem(
        folder=account.calendar,
        subject=subject,
        start=start,
        end=end,
        recurrence=Recurrence(pattern=pattern, boundary=boundary),
        **extra,
    )
    result = account.bulk_create(account.calendar, [item])[0]
    assert not isinstance(result, Exception), result
    master = CalendarItem(account=account, folder=account.calendar, id=result.id)
    return master.refresh()


def _stored(store, subject):
    found = [i for i in views.items(store, ALICE[0], ("Calendar",)) if i["subject"] == subject]
    assert len(found) == 1
    return found[0]


def _berlin(*args):
    return EWSDateTime(*args, tzinfo=BERLIN)


def _utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def _weekly(alice, unique, count=10):
    return _create(
        alice,
        f"weekly-{unique}",
        _berlin(2024, 1, 1, 9),
        _berlin(2024, 1, 1, 10),
        WeeklyPattern(interval=1, weekdays=["Monday", "Wednesday", "Friday"], first_day_of_week="Monday"),
        NumberedPattern(start=dt.date(2024, 1, 1), number=count),
        sbx_fingerprint=f"fp-{unique}~series-pending",
    )


def test_weekly_master_and_occurrences(alice, store, unique):
    master = _weekly(alice, unique)
    assert master.type == "RecurringMaster"
    assert isinstance(master.recurrence.pattern, WeeklyPattern)
    assert master.recurrence.boundary.number == 10
    assert master.first_occurrence.start == _utc(2024, 1, 1, 8)
    # Mon/Wed/Fri from Mon 1 Jan: 1 3 5 8 10 12 15 17 19 22.
    assert master.last_occurrence.start == _utc(2024, 1, 22, 8)
    assert master.deleted_occurrences is None and master.modified_occurrences is None
    assert master._start_timezone.key == "Europe/Berlin"
    third = master.occurrence(3).refresh()
    assert (third.type, third.subject) == ("Occurrence", f"weekly-{unique}")
    assert (third.start, third.end, third.original_start) == (
        _utc(2024, 1, 5, 8),
        _utc(2024, 1, 5, 9),
        _utc(2024, 1, 5, 8),
    )
    assert third.id != master.id and third.is_recurring
    again = CalendarItem(account=alice, folder=alice.calendar, id=third.id, changekey=third.changekey).refresh()
    assert again.original_start == _utc(2024, 1, 5, 8)
    stored = _stored(store, f"weekly-{unique}")
    assert stored["recurrence"]["pattern"] == "weekly"
    assert stored["recurrence"]["days"] == ["Monday", "Wednesday", "Friday"]
    assert stored["recurrence"]["count"] == 10
    assert stored["recurrence"]["time_zone"] == "Europe/Berlin"
    assert stored["deleted_occurrences"] == [] and stored["modified_occurrences"] == []


def test_out_of_range_index(alice, unique):
    master = _weekly(alice, unique, count=4)
    master.occurrence(4).refresh()
    with pytest.raises(ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange):
        master.occurrence(5).refresh()


def test_delete_occurrence(alice, store, unique):
    master = _weekly(alice, unique)
    third = master.occurrence(3)
    third.refresh()
    third_id, third_key = third.id, third.changekey
    third.delete(send_meeting_cancellations=SEND_TO_NONE)
    master.refresh()
    assert [d.start for d in master.deleted_occurrences] == [_utc(2024, 1, 5, 8)]
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        master.occurrence(3).refresh()
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        master.occurrence(3).delete(send_meeting_cancellations=SEND_TO_NONE)  # by OccurrenceItemId
    by_id = CalendarItem(account=alice, folder=alice.calendar, id=third_id, changekey=third_key)
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        by_id.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert master.occurrence(4).refresh().start == _utc(2024, 1, 8, 8)  # indexes keep their positions
    assert _stored(store, f"weekly-{unique}")["deleted_occurrences"] == ["2024-01-05T08:00:00Z"]


def test_delete_first_occurrence_moves_first_occurrence(alice, unique):
    master = _weekly(alice, unique)
    first = master.occurrence(1).refresh()
    first.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert master.refresh().first_occurrence.start == _utc(2024, 1, 3, 8)


def test_modify_occurrence(alice, store, unique):
    master = _weekly(alice, unique)
    second = master.occurrence(2).refresh()
    second.start = EWSDateTime(2024, 1, 3, 13, tzinfo=EWS_UTC)
    second.end = EWSDateTime(2024, 1, 3, 14, 30, tzinfo=EWS_UTC)
    second.subject = f"moved-{unique}"
    second.location = "Room 7"
    second.save(
        update_fields=["start", "end", "subject", "location"],
        conflict_resolution=ALWAYS_OVERWRITE,
        send_meeting_invitations=SEND_TO_NONE,
    )
    master.refresh()
    [changed] = master.modified_occurrences
    assert (changed.start, changed.end, changed.original_start) == (
        _utc(2024, 1, 3, 13),
        _utc(2024, 1, 3, 14, 30),
        _utc(2024, 1, 3, 8),
    )
    assert changed.id == second.id
    again = master.occurrence(2).refresh()
    assert (again.type, again.subject, again.location) == ("Exception", f"moved-{unique}", "Room 7")
    assert (again.start, again.end, again.original_start) == (
        _utc(2024, 1, 3, 13),
        _utc(2024, 1, 3, 14, 30),
        _utc(2024, 1, 3, 8),
    )
    assert master.subject == f"weekly-{unique}"
    assert master.occurrence(3).refresh().subject == f"weekly-{unique}"
    [stored] = _stored(store, f"weekly-{unique}")["modified_occurrences"]
    assert stored == {
        "original_start": "2024-01-03T08:00:00Z",
        "start": "2024-01-03T13:00:00Z",
        "end": "2024-01-03T14:30:00Z",
        "subject": f"moved-{unique}",
        "location": "Room 7",
    }


def test_occurrence_cannot_cross_its_neighbours(alice, unique):
    """Ledger: occurrence-crossing."""
    master = _weekly(alice, unique)
    second = master.occurrence(2).refresh()
    second.start = EWSDateTime(2024, 1, 5, 13, tzinfo=EWS_UTC)  # the day of occurrence 3
    second.end = EWSDateTime(2024, 1, 5, 14, tzinfo=EWS_UTC)
    with pytest.raises(ErrorOccurrenceCrossingBoundary):
        second.save(
            update_fields=["start", "end"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE
        )


def test_master_fingerprint_update_and_find(alice, unique):
    master = _weekly(alice, unique)
    master.occurrence(2).refresh().delete(send_meeting_cancellations=SEND_TO_NONE)
    master.sbx_fingerprint = f"fp-{unique}"
    master.save(
        update_fields=["sbx_fingerprint"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE
    )
    found = alice.calendar.get(sbx_fingerprint=f"fp-{unique}")
    assert found.id == master.id and found.type == "RecurringMaster"
    assert [d.start for d in found.deleted_occurrences] == [_utc(2024, 1, 3, 8)]
    assert list(alice.calendar.filter(sbx_fingerprint=f"fp-{unique}").values_list("id", flat=True)) == [master.id]
    assert not list(alice.calendar.filter(sbx_fingerprint=f"fp-{unique}~series-pending").values_list("id"))


def test_series_follows_wall_clock_across_dst(alice, unique):
    master = _create(
        alice,
        f"dst-{unique}",
        _berlin(2024, 3, 25, 9),
        _berlin(2024, 3, 25, 10),
        DailyPattern(interval=7),
        EndDatePattern(start=dt.date(2024, 3, 18), end=dt.date(2024, 4, 8)),
    )
    # Mondays 18 and 25 Mar (CET), 1 and 8 Apr (CEST from 31 Mar); the master moves to the range's first day.
    assert master.start == _utc(2024, 3, 18, 8)
    assert master.first_occurrence.start == _utc(2024, 3, 18, 8)
    assert master.last_occurrence.start == _utc(2024, 4, 8, 7)
    assert master.occurrence(2).refresh().start == _utc(2024, 3, 25, 8)
    assert master.occurrence(3).refresh().start == _utc(2024, 4, 1, 7)
    with pytest.raises(ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange):
        master.occurrence(5).refresh()


@pytest.mark.parametrize(
    ("pattern", "boundary", "start", "expected"),
    [
        # Day 31 falls on the last day of shorter months.
        (
            AbsoluteMonthlyPattern(interval=1, day_of_month=31),
            NumberedPattern(start=dt.date(2024, 1, 31), number=4),
            (2024, 1, 31),
            [(2024, 1, 31), (2024, 2, 29), (2024, 3, 31), (2024, 4, 30)],
        ),
        # Last Friday of every other month.
        (
            RelativeMonthlyPattern(interval=2, weekday=5, week_number=5),
            NumberedPattern(start=dt.date(2024, 1, 1), number=3),
            (2024, 1, 26),
            [(2024, 1, 26), (2024, 3, 29), (2024, 5, 31)],
        ),
        # Second weekday of the month.
        (
            RelativeMonthlyPattern(interval=1, weekday=9, week_number=2),
            NumberedPattern(start=dt.date(2024, 6, 1), number=2),
            (2024, 6, 4),
            [(2024, 6, 4), (2024, 7, 2)],
        ),
        (
            AbsoluteYearlyPattern(day_of_month=29, month=2),
            NumberedPattern(start=dt.date(2024, 2, 29), number=3),
            (2024, 2, 29),
            [(2024, 2, 29), (2025, 2, 28), (2026, 2, 28)],
        ),
        # First Sunday of November, without end.
        (
            RelativeYearlyPattern(weekday=7, week_number=1, month=11),
            NoEndPattern(start=dt.date(2024, 1, 1)),
            (2024, 11, 3),
            [(2024, 11, 3), (2025, 11, 2), (2026, 11, 1)],
        ),
    ],
    ids=["monthly-31", "relative-monthly-last-friday", "second-weekday", "yearly-feb-29", "yearly-no-end"],
)
def test_monthly_and_yearly_patterns(alice, unique, pattern, boundary, start, expected):
    master = _create(
        alice,
        f"pattern-{unique}",
        EWSDateTime(*start, 12, tzinfo=EWS_UTC),
        EWSDateTime(*start, 13, tzinfo=EWS_UTC),
        pattern,
        boundary,
    )
    for index, day in enumerate(expected, start=1):
        assert master.occurrence(index).refresh().start == _utc(*day, 12), index
    if isinstance(boundary, NoEndPattern):
        assert master.last_occurrence is None
    else:
        assert master.last_occurrence.start == _utc(*expected[-1], 12)


def test_sandbox_ls_shows_series(alice, sandbox_dir, unique, capsys):
    from pipeline.cli.main import main

    master = _weekly(alice, unique)
    master.occurrence(3).refresh().delete(send_meeting_cancellations=SEND_TO_NONE)
    second = master.occurrence(2).refresh()
    second.subject = f"moved-{unique}"
    second.save(update_fields=["subject"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE)
    capsys.readouterr()
    assert main(["sandbox", "ls", "--mailbox", ALICE[0], "--data", str(sandbox_dir)]) == 0
    out = capsys.readouterr().out
    assert "recurrence: pattern=weekly, interval=1, days=['Monday', 'Wednesday', 'Friday']" in out
    assert "deleted occurrence 2024-01-05T08:00:00Z" in out
    assert (
        f"modified occurrence 2024-01-03T08:00:00Z -> 2024-01-03T08:00:00Z..2024-01-03T09:00:00Z  "
        f"subject='moved-{unique}'"
    ) in out
    assert main(["sandbox", "ls", "--mailbox", ALICE[0], "--data", str(sandbox_dir), "--json"]) == 0
    [shown] = [i for i in json.loads(capsys.readouterr().out)["items"] if i["subject"] == f"weekly-{unique}"]
    assert shown["deleted_occurrences"] == ["2024-01-05T08:00:00Z"]
    assert shown["modified_occurrences"][0]["subject"] == f"moved-{unique}"


def _soap_body(url: str, body: str):
    import requests
    from lxml import etree

    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    answer = requests.post(
        url, data=envelope.encode(), auth=ALICE, timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    return etree.fromstring(answer.content).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]


@needs_schema
def test_series_responses_follow_the_schema(sandbox, alice, unique):
    master = _weekly(alice, unique)
    master.occurrence(3).refresh().delete(send_meeting_cancellations=SEND_TO_NONE)
    second = master.occurrence(2).refresh()
    second.location = "Room 2"
    second.save(update_fields=["location"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE)
    names = (
        "CalendarItemType IsRecurring FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences "
        "Recurrence OriginalStart RecurrenceId Start End Location StartTimeZone"
    ).split()
    extra = "".join(f'<t:FieldURI FieldURI="calendar:{n}"/>' for n in names)
    for ids_xml in (
        f'<t:ItemId Id="{master.id}"/>',
        f'<t:OccurrenceItemId RecurringMasterId="{master.id}" InstanceIndex="1"/>',
        f'<t:OccurrenceItemId RecurringMasterId="{master.id}" InstanceIndex="2"/>',
        f'<t:OccurrenceItemId RecurringMasterId="{master.id}" InstanceIndex="3"/>',
        f'<t:RecurringMasterItemId OccurrenceId="{second.id}"/>',
    ):
        for base in ("AllProperties", "IdOnly"):
            response = _soap_body(
                sandbox.url,
                f"<m:GetItem><m:ItemShape><t:BaseShape>{base}</t:BaseShape><t:AdditionalProperties>{extra}"
                f"</t:AdditionalProperties></m:ItemShape><m:ItemIds>{ids_xml}</m:ItemIds></m:GetItem>",
            )
            assert schema.validate(response) is None, (ids_xml, base, schema.validate(response))
    master_again = CalendarItem(account=alice, folder=alice.calendar, id=second.id).recurring_master().refresh()
    assert master_again.id == master.id and master_again.type == "RecurringMaster"


def test_full_saves_keep_exceptions_and_a_new_pattern_drops_them(alice, unique):
    master = _weekly(alice, unique)
    assert master.uid  # every calendar item has one; exchangelib needs it to save an occurrence in full
    master.occurrence(3).refresh().delete(send_meeting_cancellations=SEND_TO_NONE)
    second = master.occurrence(2).refresh()
    second.subject = f"changed-{unique}"
    second.save()  # every updatable field, as exchangelib sends them
    assert (second.refresh().type, second.uid) == ("Exception", master.uid)
    master.refresh()
    assert master.recurrence.boundary.start == dt.date(2024, 1, 1)  # a date (sent with its offset), not a time
    master.subject = f"renamed-{unique}"
    master.save()
    master.refresh()
    assert len(master.deleted_occurrences) == 1 and len(master.modified_occurrences) == 1
    master.recurrence.boundary.number = 5
    master.save(update_fields=["recurrence"])
    master.refresh()
    assert master.last_occurrence.start == _utc(2024, 1, 10, 8)
    assert master.deleted_occurrences is None and master.modified_occurrences is None
