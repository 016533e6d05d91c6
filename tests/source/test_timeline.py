"""The cheap walk behind the usable-first order: each row's moment (class, time, an appointment's end and
recurrence) and the items read back by row index. The oracle is the full read of the same rows: a moment must
say what the item itself says (the fingerprint's choice of time, PSETID_Appointment's end and recurrence), and
items_at(indexes) must give the very items items() gives at those rows; both readers must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures
from pipeline import mapi
from pipeline.model import SourceError, SourceItem
from pipeline.props import as_time
from pipeline.source import open_source
from pipeline.source.fake import FakeSource, message


def expected_moment(item: SourceItem) -> tuple:
    when = (
        as_time(item.prop(mapi.PR_MESSAGE_DELIVERY_TIME))
        or as_time(item.prop(mapi.PR_CLIENT_SUBMIT_TIME))
        or as_time(item.prop(mapi.PR_CREATION_TIME))
    )
    end = as_time(item.named_prop(mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE))
    return (
        item.node_id,
        item.message_class,
        when,
        end,
        bool(item.named_prop(mapi.PSETID_APPOINTMENT, mapi.LID_RECURRING)),
    )


def check(path: Path, reader: str) -> int:
    rows = 0
    with open_source(path, reader=reader) as source:
        for folder in source.folders():
            full = list(source.items(folder))
            moments = list(source.timeline(folder))
            assert len(moments) == len(full), folder.path
            for moment, item in zip(moments, full, strict=True):
                if isinstance(item, SourceError):
                    assert isinstance(moment, SourceError)
                    continue
                assert tuple(moment) == expected_moment(item), (folder.path, item.subject)
                rows += 1
            backwards = list(range(len(full)))[::-1]
            again = list(source.items_at(folder, backwards))
            assert [getattr(e, "node_id", None) for e in again] == [
                getattr(full[i], "node_id", None) for i in backwards
            ]
    return rows


@pytest.mark.parametrize("reader", ["native", "libpff"])
def test_fixture_moments_are_what_the_items_say(reader: str):
    path = fixtures.cached("small", format="ost")
    assert check(path, reader) > 10


@pytest.mark.parametrize("name", ["SampleOstFile.ost", "Outlook.pst"])
def test_sample_moments_agree_between_readers(samples: Path, name: str):
    path = samples / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    assert check(path, "native") > 0
    with open_source(path, reader="native") as native, open_source(path, reader="libpff") as pff:
        for a, b in zip(native.folders(), pff.folders(), strict=True):
            assert [tuple(m) if not isinstance(m, SourceError) else None for m in native.timeline(a)] == [
                tuple(m) if not isinstance(m, SourceError) else None for m in pff.timeline(b)
            ], a.path


def test_a_recurring_appointment_has_its_end_and_flag():
    source = FakeSource({"Inbox": [message("hello")]})
    inbox = next(f for f in source.folders() if f.path == ("Inbox",))
    (moment,) = source.timeline(inbox)
    assert moment.when is not None and moment.end is None and not moment.recurring
