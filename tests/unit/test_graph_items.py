"""UploadItem -> Graph bodies (pure), judged against Graph's documented shapes and the item's own values;
and the [graph] settings."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline import item_values as v
from pipeline import mapi
from pipeline.destination.graph import items
from pipeline.model import ExtendedProperty, UploadItem
from pipeline.settings import load_settings
from tests.conftest import run_cli

MIME = b"From: a@b.c\r\nTo: Bob <bob@example.com>\r\nSubject: s\r\n\r\nhi\r\n"


def upload(kind: str = "message", flags: int = mapi.MSGFLAG_READ, value: v.ItemValue | None = None) -> UploadItem:
    return UploadItem(
        kind=kind,
        item_class="IPM.Note",
        folder_path=("Inbox",),
        identity="abc#2",
        subject="s",
        source_node_id=1,
        mime=MIME,
        value=value or v.MailMessage(MIME),
        extended=[
            ExtendedProperty("Integer", flags, tag=mapi.PR_MESSAGE_FLAGS),
            ExtendedProperty("Integer", 2, tag=mapi.PR_FLAG_STATUS),
            ExtendedProperty(
                "SystemTime", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), tag=mapi.PR_MESSAGE_DELIVERY_TIME
            ),
            ExtendedProperty("StringArray", ["Red", "Blue"], propset_guid=mapi.PS_PUBLIC_STRINGS, name="Keywords"),
            ExtendedProperty("Integer", 7, propset_guid=mapi.PSETID_COMMON, name=0x8501),
        ],
    )


def test_property_ids_are_graphs_spelling():
    assert items.property_id(ExtendedProperty("Integer", 1, tag=0x0E07)) == "Integer 0x0E07"
    assert (
        items.property_id(ExtendedProperty("Integer", 1, propset_guid=mapi.PSETID_COMMON, name=0x8501))
        == "Integer {00062008-0000-0000-c000-000000000046} Id 0x8501"
    )
    assert items.FINGERPRINT_PROPERTY == "String {74594eaa-9d20-45ad-b806-df062a3740a3} Name RebuildFingerprint"


def test_after_import_carries_what_mime_cannot():
    body = items.after_import(upload(flags=0))
    ids = [p["id"] for p in body["singleValueExtendedProperties"]]
    assert body["singleValueExtendedProperties"][0] == {"id": items.FINGERPRINT_PROPERTY, "value": "abc#2"}
    assert "Integer 0x0E07" not in ids and "Integer 0x1090" not in ids  # read state and flag by their own names
    assert {"id": "SystemTime 0x0E06", "value": "2024-01-02T03:04:05Z"} in body["singleValueExtendedProperties"]
    assert body["isRead"] is False and body["flag"] == {"flagStatus": "flagged"}
    assert body["categories"] == ["Red", "Blue"]


def test_json_message_is_a_draft_only_when_the_source_was_unsent():
    sent = items.json_message(upload())
    assert {"id": "Integer 0x0E07", "value": "1"} in sent["singleValueExtendedProperties"]
    assert sent["toRecipients"] == [{"emailAddress": {"name": "Bob", "address": "bob@example.com"}}]
    draft = items.json_message(upload(flags=mapi.MSGFLAG_UNSENT))
    assert not any(p["id"] == "Integer 0x0E07" for p in draft["singleValueExtendedProperties"])
    assert items.is_draft(upload(flags=mapi.MSGFLAG_UNSENT | mapi.MSGFLAG_READ))


def test_import_mime_adds_only_the_identity_header():
    item = upload()
    assert items.mime_for_import(item) == b"X-Rebuild-Fingerprint: abc#2\r\n" + item.mime


def test_event_never_carries_attendees_but_keeps_who_was_invited():
    weekly = v.Pattern(v.PatternKind.WEEKLY, 1, (v.Weekday.MONDAY,), first_day_of_week=v.Weekday.SUNDAY)
    item = upload(
        "calendar",
        value=v.Appointment(
            start=dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.UTC),
            end=dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC),
            start_zone="W. Europe Standard Time",
            attendees=v.Attendees(
                (v.Attendee(v.Person("Bob", "bob@example.com")),), (v.Attendee(v.Person("Carol", "carol@example.com")),)
            ),
            series=v.Series(v.Recurrence(weekly, dt.date(2024, 3, 4), count=10)),
        ),
    )
    body = items.event(item)
    assert "attendees" not in body
    assert body["start"] == {"dateTime": "2024-03-04T09:00:00", "timeZone": "W. Europe Standard Time"}
    props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
    assert props[items.TO_ATTENDEES] == "Bob" and props[items.CC_ATTENDEES] == "Carol"
    assert body["recurrence"]["pattern"] == {
        "type": "weekly",
        "interval": 1,
        "daysOfWeek": ["monday"],
        "firstDayOfWeek": "sunday",
    }
    assert body["recurrence"]["range"]["numberOfOccurrences"] == 10
    assert "Integer 0x0E07" not in props
    assert any("attendees" in str(note) for note in items.cannot_carry(item))


def test_todo_task_carries_its_identity_in_an_open_extension():
    task = v.Task(status=v.TaskStatus.IN_PROGRESS, due_date=dt.datetime(2024, 3, 8, tzinfo=dt.UTC))
    body = items.todo_task(upload("task", value=task))
    assert body["status"] == "inProgress" and body["dueDateTime"] == {
        "dateTime": "2024-03-08T00:00:00",
        "timeZone": "UTC",
    }
    assert body["extensions"][0]["extensionName"] == items.EXTENSION_NAME
    assert body["extensions"][0]["identity"] == "abc#2"


def test_graph_settings_section_and_no_secret_setting():
    settings = load_settings(
        {"destination": "graph", "graph.tenant": "contoso", "graph.client_id": "cid"},
        environ={"REBUILD_GRAPH_SECRET": "not-a-setting"},
    )
    assert settings.destination == "graph" and settings.graph.tenant == "contoso" and settings.uses_sandbox
    assert not hasattr(settings.graph, "secret")


def test_graph_without_tenant_is_bad_usage_in_one_line(tmp_path, small_ost):
    pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")
    result = run_cli(
        "run",
        "--destination",
        "graph",
        "--graph-url",
        "https://graph.microsoft.com",
        "--ost",
        str(small_ost),
        "--mailbox",
        "a@b.example",
        "--state",
        str(tmp_path / "s"),
        env={"REBUILD_GRAPH_SECRET": ""},
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--tenant" in result.stderr
