"""Extended properties stamped on every item (read state, draft state, times, flags, categories,
original class) and the fingerprint's stability and discrimination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline import mapi
from pipeline.convert import convert_item, extended_by_name
from pipeline.fingerprint import HASH_SCHEME, fingerprint
from tests.convert.helpers import WHEN, file_attachment, item, recipient

KEYWORDS = f"{mapi.PS_PUBLIC_STRINGS}/Keywords"


def received(extra=None):
    props = {
        mapi.PR_MESSAGE_FLAGS: mapi.MSGFLAG_READ | mapi.MSGFLAG_UNSENT | mapi.MSGFLAG_HASATTACH,
        mapi.PR_CLIENT_SUBMIT_TIME: WHEN,
        mapi.PR_MESSAGE_DELIVERY_TIME: WHEN + timedelta(seconds=3),
        mapi.PR_INTERNET_MESSAGE_ID: "<m1@example.com>",
        mapi.PR_SENDER_EMAIL_ADDRESS: "a@example.com",
        mapi.PR_BODY: "body",
        mapi.PR_IMPORTANCE: 0,
        mapi.PR_RECEIVED_BY_NAME: "Me",
        mapi.PR_SENSITIVITY: 1,
        mapi.PR_FLAG_STATUS: 2,
    }
    props.update(extra or {})
    return props


def test_standard_properties():
    source = item(
        props=received(),
        named={(mapi.PS_PUBLIC_STRINGS, "Keywords"): ["Work"], (mapi.PSETID_TASK, mapi.LID_TASK_DUE_DATE): WHEN},
    )
    names = extended_by_name(convert_item(source))
    assert names["0x0E07"].value == mapi.MSGFLAG_READ  # read kept; it was received, so UNSENT is cleared
    assert names["0x0E06"].value == WHEN + timedelta(seconds=3)
    assert names["0x0039"].mapi_type == "SystemTime"
    assert (names["0x0017"].value, names["0x0036"].value, names["0x1090"].value) == (0, 1, 2)
    assert names[KEYWORDS].value == ["Work"] and names[KEYWORDS].mapi_type == "StringArray"
    assert names[f"{mapi.PS_REBUILD}/{mapi.ORIGINAL_CLASS_PROPERTY}"].value == "IPM.Note"
    assert names[f"{mapi.PSETID_TASK}/{mapi.LID_TASK_DUE_DATE}"].value == WHEN


def test_real_draft_stays_unsent_and_unread_stays_unread():
    draft = item(props={mapi.PR_MESSAGE_FLAGS: mapi.MSGFLAG_UNSENT, mapi.PR_BODY: "wip"})
    assert extended_by_name(convert_item(draft))["0x0E07"].value == mapi.MSGFLAG_UNSENT
    unread = item(props=received({mapi.PR_MESSAGE_FLAGS: 0}))
    assert extended_by_name(convert_item(unread))["0x0E07"].value == 0


def test_fingerprint_is_stable_and_versioned():
    a = item(
        props=received(),
        recipients=[recipient("to", "B", "b@example.com"), recipient("cc", "C", "c@x.test")],
        attachments=[file_attachment(0, "f.txt", b"123")],
    )
    b = item(
        props=received(
            {mapi.PR_SUBJECT: "Hello", mapi.PR_MESSAGE_DELIVERY_TIME: WHEN + timedelta(seconds=3, microseconds=400)}
        ),
        recipients=[recipient("cc", "C", "C@X.test"), recipient("to", "B", "b@example.com")],
        attachments=[file_attachment(0, "f.txt", b"123")],
        node_id=999,
    )
    assert fingerprint(a) == fingerprint(b)  # other node id, recipient order, case, sub-second time
    assert len(fingerprint(a)) == 64 and HASH_SCHEME == "v1"


def test_fingerprint_separates_similar_items():
    base = item(props=received())
    other_time = item(props=received({mapi.PR_MESSAGE_DELIVERY_TIME: WHEN + timedelta(hours=1)}))
    other_id = item(props=received({mapi.PR_INTERNET_MESSAGE_ID: "<m2@example.com>"}))
    other_class = item("IPM.Note.Custom", props=received())
    assert len({fingerprint(x) for x in (base, other_time, other_id, other_class)}) == 4
    appt = mapi.PSETID_APPOINTMENT
    first = datetime(2021, 7, 5, 13, tzinfo=UTC)
    occurrences = [
        item(
            "IPM.Schedule.Meeting.Request",
            props=received(),
            named={
                (appt, mapi.LID_APPOINTMENT_START_WHOLE): first + timedelta(days=7 * n),
                (mapi.PSETID_MEETING, mapi.LID_GLOBAL_OBJECT_ID): bytes(40) + bytes([n]),
            },
        )
        for n in range(2)
    ]
    assert fingerprint(occurrences[0]) != fingerprint(occurrences[1])
    notes = [item("IPM.StickyNote", props={mapi.PR_BODY: text, mapi.PR_CREATION_TIME: WHEN}) for text in "ab"]
    assert fingerprint(notes[0]) != fingerprint(notes[1])
