"""The uploader's series path against the sandbox: master from build_item, then occurrences.apply_exceptions
and finish, checked on the sandbox's own store.

Stands in for the end-to-end test until the uploader wires the path in; UploadItem is shaped as convert/
produces it (recurrence description with UTC original starts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from exchangelib import CalendarItem

from pipeline import fingerprint
from pipeline import item_values as v
from pipeline.destination.ews import occurrences
from pipeline.destination.ews.items import build_item
from pipeline.destination.ews.properties import FINGERPRINT_FIELD, PENDING_FIELD, register_fingerprint
from pipeline.destination.ews.upload import ids_stamped
from pipeline.model import UploadItem
from pipeline.sandbox import views
from tests.sandbox.helpers import ALICE

UTC = dt.UTC


def _upload(unique: str, moved_end: dt.datetime | None = None) -> UploadItem:
    start = dt.datetime(2024, 1, 1, 8, tzinfo=UTC)  # 09:00 in Berlin
    pattern = v.Pattern(
        v.PatternKind.WEEKLY,
        1,
        (v.Weekday.MONDAY, v.Weekday.WEDNESDAY, v.Weekday.FRIDAY),
        first_day_of_week=v.Weekday.MONDAY,
    )
    moved = v.ModifiedOccurrence(
        dt.datetime(2024, 1, 10, 8, tzinfo=UTC),
        dt.datetime(2024, 1, 10, 14, tzinfo=UTC),
        moved_end or dt.datetime(2024, 1, 10, 15, 30, tzinfo=UTC),
        subject=f"moved-{unique}",
        location="Room 9",
    )
    value = v.Appointment(
        subject=f"series-{unique}",
        start=start,
        end=start + dt.timedelta(hours=1),
        location="Room 1",
        start_zone="W. Europe Standard Time",
        end_zone="W. Europe Standard Time",
        series=v.Series(
            v.Recurrence(pattern, dt.date(2024, 1, 1), count=10), (dt.datetime(2024, 1, 5, 8, tzinfo=UTC),), (moved,)
        ),
    )
    return UploadItem(
        kind="calendar",
        item_class="IPM.Appointment",
        folder_path=("Calendar",),
        identity=f"fp-{unique}",
        subject=f"series-{unique}",
        source_node_id=1,
        value=value,
    )


def _create_master(account, upload: UploadItem) -> str:
    pending = dataclasses.replace(upload, series_pending=True)
    result = account.bulk_create(account.calendar, [build_item(pending, account, account.calendar)])[0]
    assert not isinstance(result, Exception), result
    return result.id


def test_apply_exceptions_and_finish(alice, store, unique):
    register_fingerprint()
    upload = _upload(unique)
    assert upload.has_series_exceptions
    server_id = _create_master(alice, upload)
    assert occurrences.apply_exceptions(alice, alice.calendar, server_id, upload) == []
    occurrences.finish(alice, alice.calendar, server_id, upload.identity)

    [stored] = [i for i in views.items(store, ALICE[0], ("Calendar",)) if i["subject"] == f"series-{unique}"]
    assert stored["recurrence"]["pattern"] == "weekly" and stored["recurrence"]["count"] == 10
    assert stored["deleted_occurrences"] == ["2024-01-05T08:00:00Z"]
    assert stored["modified_occurrences"] == [
        {
            "original_start": "2024-01-10T08:00:00Z",
            "start": "2024-01-10T14:00:00Z",
            "end": "2024-01-10T15:30:00Z",
            "subject": f"moved-{unique}",
            "location": "Room 9",
        },
    ]
    key = f"name:{fingerprint.PROPERTY_SET}:{fingerprint.PROPERTY_NAME}"
    assert stored["extended_properties"][key] == f"fp-{unique}"
    assert not stored["extended_properties"][f"name:{fingerprint.PROPERTY_SET}:{fingerprint.PENDING_PROPERTY_NAME}"]

    # The rerun's lookup (an unrestricted read-back, immune to search lag), and a plain restriction.
    assert ids_stamped(alice.calendar, f"fp-{unique}") == [server_id]
    ids = list(alice.calendar.filter(**{FINGERPRINT_FIELD: f"fp-{unique}"}).values_list("id", flat=True))
    assert ids == [server_id]
    pending = alice.calendar.filter(**{FINGERPRINT_FIELD: f"fp-{unique}", PENDING_FIELD: True})
    assert not list(pending.values_list("id"))

    master = CalendarItem(account=alice, folder=alice.calendar, id=server_id).refresh()
    assert master.type == "RecurringMaster"
    assert [o.original_start for o in master.modified_occurrences] == [dt.datetime(2024, 1, 10, 8, tzinfo=UTC)]
    exception = master.occurrence(5).refresh()
    assert (exception.type, exception.subject, exception.location) == ("Exception", f"moved-{unique}", "Room 9")


def test_rerun_is_idempotent(alice, store, unique):
    register_fingerprint()
    upload = _upload(unique)
    server_id = _create_master(alice, upload)
    assert occurrences.apply_exceptions(alice, alice.calendar, server_id, upload) == []
    assert occurrences.apply_exceptions(alice, alice.calendar, server_id, upload) == []
    occurrences.finish(alice, alice.calendar, server_id, upload.identity)
    [stored] = [i for i in views.items(store, ALICE[0], ("Calendar",)) if i["subject"] == f"series-{unique}"]
    assert stored["deleted_occurrences"] == ["2024-01-05T08:00:00Z"]
    assert len(stored["modified_occurrences"]) == 1


def test_series_keeps_its_windows_time_zone(alice, store, unique):
    register_fingerprint()
    _create_master(alice, _upload(unique))
    [stored] = [i for i in views.items(store, ALICE[0], ("Calendar",)) if i["subject"] == f"series-{unique}"]
    assert stored["recurrence"]["time_zone"] == "Europe/Berlin"


def test_refused_occurrence_time_is_reported_and_the_series_completes(alice, store, unique):
    """Ledger: occurrence-span. An exception Exchange refuses (it reaches into the next occurrence) keeps its
    pattern time with a warning, its other changes land, and finish() completes the series."""
    register_fingerprint()
    upload = _upload(unique, moved_end=dt.datetime(2024, 1, 12, 9, tzinfo=UTC))  # past occurrence 6 (Fri 12 Jan)
    server_id = _create_master(alice, upload)
    warnings = occurrences.apply_exceptions(alice, alice.calendar, server_id, upload)
    occurrences.finish(alice, alice.calendar, server_id, upload.identity)
    # one heading for every refused occurrence (what the report counts), the date among the particulars
    assert [(w.heading, w.detail) for w in warnings] == [
        (
            "modified occurrence kept at its pattern time",
            "2024-01-10, the server refused its new time (ErrorOccurrenceTimeSpanTooBig)",
        )
    ]
    [stored] = [i for i in views.items(store, ALICE[0], ("Calendar",)) if i["subject"] == f"series-{unique}"]
    assert stored["modified_occurrences"] == [
        {
            "original_start": "2024-01-10T08:00:00Z",
            "start": "2024-01-10T08:00:00Z",
            "end": "2024-01-10T09:00:00Z",
            "subject": f"moved-{unique}",
            "location": "Room 9",
        }
    ]
    assert stored["deleted_occurrences"] == ["2024-01-05T08:00:00Z"]
    assert ids_stamped(alice.calendar, f"fp-{unique}") == [server_id]
