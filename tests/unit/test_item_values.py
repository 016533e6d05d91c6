"""The typed contract between conversion and the destinations: every kind reaches every mapping, and Graph's
mapping speaks none of EWS's words (those are read from exchangelib itself, not from our tables)."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import typing
from pathlib import Path

import exchangelib
import pytest

from pipeline import item_values as v
from pipeline.destination.ews.fields import ews_fields
from pipeline.destination.graph import items as graph
from pipeline.model import UploadItem

ROOT = Path(__file__).resolve().parents[2] / "pipeline"
START = dt.datetime(2024, 3, 4, 8, tzinfo=dt.UTC)
WEEKLY = v.Recurrence(v.Pattern(v.PatternKind.WEEKLY, weekdays=(v.Weekday.MONDAY,)), START.date(), count=3)
SAMPLES: list[v.ItemValue] = [
    v.MailMessage(b"Subject: s\r\n\r\nhi\r\n", "IPM.Note.Custom"),
    v.Appointment(
        subject="s",
        start=START,
        end=START + dt.timedelta(hours=1),
        show_as=v.ShowAs.WORKING_ELSEWHERE,
        attendees=v.Attendees(required=(v.Attendee(v.Person("Bob", "bob@x.test"), v.Response.ACCEPTED),)),
        series=v.Series(WEEKLY, deleted=(START + dt.timedelta(days=7),)),
    ),
    v.Contact(
        subject="c",
        given_name="Zoë",
        phones=(v.Phone(v.PhoneKind.MOBILE, "+1 555"),),
        emails=(v.ContactEmail(1, "z@x.test"),),
        im_address="z@im.test",
    ),
    v.DistributionList(subject="l", display_name="Team", members=(v.ListMember("Ann", "ann@x.test"),)),
    v.Task(subject="t", status=v.TaskStatus.WAITING_ON_OTHERS, due_date=START.date(), recurrence=WEEKLY),
    v.StickyNote(subject="n", body=v.Body("note")),
    v.JournalEntry(subject="j", start=START, end=START),
]


def upload(value: v.ItemValue) -> UploadItem:
    return UploadItem(
        kind=str(value.kind),
        item_class="IPM.X",
        folder_path=("F",),
        identity="fp#1",
        subject="s",
        source_node_id=1,
        mime=value.mime if isinstance(value, v.MailMessage) else None,
        value=value,
    )


def test_every_kind_is_a_sample():
    """A kind added to the union without a sample here fails: the mappings below must meet it."""
    assert {type(s) for s in SAMPLES} == set(typing.get_args(v.ItemValue))


@pytest.mark.parametrize("value", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_kind_maps_to_ews_and_graph(value: v.ItemValue):
    assert isinstance(ews_fields(value), dict)
    item = upload(value)
    body = (
        graph.event(item)
        if isinstance(value, v.Appointment)
        else graph.contact(item)
        if isinstance(value, v.Contact | v.DistributionList)
        else graph.todo_task(item)
        if isinstance(value, v.Task)
        else graph.json_message(item)
    )
    assert body and "fields" not in body


def test_values_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLES[1].subject = "x"  # type: ignore[misc]


def _ews_words() -> set[str]:
    """exchangelib's own names for item fields and their choices, where they differ from Graph's words."""
    words: set[str] = set()
    for cls in (exchangelib.CalendarItem, exchangelib.Contact, exchangelib.Task, exchangelib.DistributionList):
        for f in cls.FIELDS:
            if "_" in f.name and not f.name.startswith("_"):
                words.add(f.name)
            for choice in getattr(f, "choices", None) or ():
                value = getattr(choice, "value", None)
                if isinstance(value, str) and value[:1].isupper() and value.lower() != value:
                    words.add(value)
    return words


def _literals(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_graph_speaks_no_ews_words():
    typed_names = {f.name for cls in typing.get_args(v.ItemValue) for f in dataclasses.fields(cls)}
    ews = _ews_words() - typed_names  # an attribute of the typed values that EWS happens to share is ours
    for path in sorted((ROOT / "destination" / "graph").glob("*.py")):
        found = sorted(_literals(path) & ews)
        assert not found, (path.name, found)
    assert "legacy_free_busy_status" in ews and "NotStarted" in ews  # the oracle sees EWS's words
