"""UploadItem -> exchangelib item: the mappings that exchangelib would otherwise drop or reject."""

from __future__ import annotations

import datetime as dt

from exchangelib.recurrence import Recurrence, TaskRecurrence
from exchangelib.util import xml_to_str
from exchangelib.version import Build, Version

from pipeline import item_values as v
from pipeline.destination.ews.items import build_item, unsupported_fields
from pipeline.destination.ews.properties import register_fingerprint
from pipeline.model import UploadItem

VERSION = Version(build=Build(15, 1))
WEEKLY = v.Recurrence(
    v.Pattern(v.PatternKind.WEEKLY, 1, (v.Weekday.FRIDAY,), first_day_of_week=v.Weekday.SUNDAY),
    dt.date(2024, 1, 5),
    count=5,
)


def upload(kind: str, cls: str, value: v.ItemValue) -> UploadItem:
    register_fingerprint()
    return UploadItem(
        kind=kind,
        item_class=cls,
        folder_path=("F",),
        identity="fp",
        subject="s",
        source_node_id=1,
        value=value,
    )


def test_task_recurrence_is_a_task_recurrence_and_calendar_one_is_not():
    task = build_item(
        upload("task", "IPM.Task", v.Task(subject="s", status=v.TaskStatus.NOT_STARTED, recurrence=WEEKLY)), None, None
    )
    assert isinstance(task.recurrence, TaskRecurrence)
    start = dt.datetime(2024, 1, 5, 8, tzinfo=dt.UTC)
    event = build_item(
        upload(
            "calendar",
            "IPM.Appointment",
            v.Appointment(
                subject="s",
                start=start,
                end=start + dt.timedelta(hours=1),
                series=v.Series(WEEKLY),
                start_zone="W. Europe Standard Time",
            ),
        ),
        None,
        None,
    )
    assert type(event.recurrence) is Recurrence
    assert str(event.start.tzinfo) == "Europe/Berlin" and event.start.hour == 9  # the series' own zone


def test_note_keeps_its_item_class_on_the_wire():
    note = build_item(
        upload("note", "IPM.StickyNote", v.StickyNote(subject="s", item_class="IPM.StickyNote")), None, None
    )
    assert "<t:ItemClass>IPM.StickyNote</t:ItemClass>" in xml_to_str(note.to_xml(version=VERSION))


def test_contact_photo_becomes_a_contact_photo_attachment():
    contact = build_item(
        upload("contact", "IPM.Contact", v.Contact(given_name="Zoë", photo=b"\xff\xd8jpeg")), None, None
    )
    (photo,) = contact.attachments
    assert photo.is_contact_photo and photo.content == b"\xff\xd8jpeg"


def test_fields_ews_cannot_take_are_reported():
    start = dt.datetime(2024, 1, 5, 8, tzinfo=dt.UTC)
    meeting = upload(
        "calendar",
        "IPM.Appointment",
        v.Appointment(
            subject="s", is_meeting=True, organizer=v.Person(None, "x@y"), is_cancelled=False, start=start, end=start
        ),
    )
    assert unsupported_fields(meeting) == ["organizer"]
