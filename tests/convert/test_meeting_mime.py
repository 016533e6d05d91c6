"""Meeting messages keep the text/calendar part a client acts on (issue 26): the iTIP method by message
class (RFC 5546), and the meeting as the item's properties state it, read back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar
import pytest

from pipeline import mapi
from pipeline.convert import convert_item
from tests.convert.helpers import item, parse, recipient

APPT, MEETING = mapi.PSETID_APPOINTMENT, mapi.PSETID_MEETING
START, END = datetime(2024, 5, 6, 8, 0, tzinfo=UTC), datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
#: PidLidGlobalObjectId: Outlook's 16-byte class id, instance date 0, creation time, 8 zero bytes, size, data.
GOID = (
    bytes.fromhex("040000008200E00074C5B7101A82E008")
    + bytes(4)
    + bytes(8)
    + bytes(8)
    + b"\x10\x00\x00\x00"
    + bytes(range(16))
)


def meeting(message_class: str):
    source = item(
        message_class,
        props={
            mapi.PR_SUBJECT: "Review",
            mapi.PR_BODY: "See you there",
            mapi.PR_CLIENT_SUBMIT_TIME: START,
            mapi.PR_SENDER_NAME: "Ann",
            mapi.PR_SENDER_EMAIL_ADDRESS: "ann@example.com",
            mapi.PR_SENDER_ADDRTYPE: "SMTP",
        },
        named={
            (APPT, mapi.LID_APPOINTMENT_START_WHOLE): START,
            (APPT, mapi.LID_APPOINTMENT_END_WHOLE): END,
            (APPT, mapi.LID_LOCATION): "Room 2",
            (APPT, mapi.LID_APPOINTMENT_STATE_FLAGS): 1,
            (APPT, mapi.LID_APPOINTMENT_SEQUENCE): 3,
            (MEETING, mapi.LID_GLOBAL_OBJECT_ID): GOID,
        },
    )
    source.recipients = [recipient("to", "Bob", "bob@example.com")]
    return source


def calendar_part(upload):
    message = parse(upload.mime)
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    text = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    assert text and text[0].get_content().strip() == "See you there"
    cal = icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
    (event,) = [c for c in cal.walk() if c.name == "VEVENT"]
    return parts[0].get_param("method"), cal, event


@pytest.mark.parametrize(
    ("message_class", "method"),
    [("IPM.Schedule.Meeting.Request", "REQUEST"), ("IPM.Schedule.Meeting.Canceled", "CANCEL")],
)
def test_request_and_cancellation(message_class: str, method: str):
    param, cal, event = calendar_part(convert_item(meeting(message_class)))
    assert param == str(cal["method"]) == method
    assert (event.decoded("dtstart"), event.decoded("dtend"), str(event["location"])) == (START, END, "Room 2")
    assert str(event["uid"]) == GOID.hex().upper() and int(event["sequence"]) == 3
    assert event.decoded("dtstamp") == START
    assert str(event["organizer"]) == "mailto:ann@example.com"
    assert str(event["attendee"]) == "mailto:bob@example.com"
    assert (str(event.get("status", "")) == "CANCELLED") == (method == "CANCEL")


@pytest.mark.parametrize(("suffix", "partstat"), [("Pos", "ACCEPTED"), ("Neg", "DECLINED"), ("Tent", "TENTATIVE")])
def test_responses_are_replies_from_their_sender(suffix: str, partstat: str):
    param, cal, event = calendar_part(convert_item(meeting(f"IPM.Schedule.Meeting.Resp.{suffix}")))
    assert param == str(cal["method"]) == "REPLY"
    # The response goes from the attendee (its sender) to the organizer (its recipient).
    assert str(event["organizer"]) == "mailto:bob@example.com"
    assert str(event["attendee"]) == "mailto:ann@example.com"
    assert event["attendee"].params["PARTSTAT"] == partstat


def test_mail_and_meetings_without_a_global_id_or_a_start_have_no_calendar_part():
    no_start = meeting("IPM.Schedule.Meeting.Request")
    no_start.named.pop((APPT, mapi.LID_APPOINTMENT_START_WHOLE))
    no_id = meeting("IPM.Schedule.Meeting.Request")
    no_id.named.pop((MEETING, mapi.LID_GLOBAL_OBJECT_ID))
    for source in (item("IPM.Note", props={mapi.PR_BODY: "x"}), no_id, no_start):
        message = parse(convert_item(source).mime)
        assert not [p for p in message.walk() if p.get_content_type() == "text/calendar"]
