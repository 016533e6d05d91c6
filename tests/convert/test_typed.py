"""Contacts, distribution lists, tasks, sticky notes and journal entries: their typed values, their
vCard export, and how notes and journal keep their item class."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime

from pipeline import mapi
from pipeline.convert import convert_item, extended_by_name
from pipeline.convert.item_files import to_vcard
from pipeline.item_values import AddressKind, Importance, Phone, PhoneKind, PostalAddress, TaskStatus
from tests.convert.helpers import file_attachment, item

ADDR = mapi.PSETID_ADDRESS


def one_off(name: str, email: str) -> bytes:
    body = (name + "\0SMTP\0" + email + "\0").encode("utf-16-le")
    return b"\0\0\0\0" + bytes.fromhex("812b1fa4bea310199d6e00dd010f5402") + struct.pack("<HH", 0, 0x9001) + body


def test_contact_fields_and_vcard():
    photo = b"\xff\xd8\xff\xe0JPEG"
    source = item(
        "IPM.Contact",
        props={
            mapi.PR_SUBJECT: "Jane Roe",
            mapi.PR_DISPLAY_NAME: "Jane Roe",
            mapi.PR_GIVEN_NAME: "Jane",
            mapi.PR_SURNAME: "Roe",
            mapi.PR_COMPANY_NAME: "Acme",
            mapi.PR_TITLE: "CTO",
            mapi.PR_BUSINESS_TELEPHONE_NUMBER: "+1 555 0100",
            mapi.PR_MOBILE_TELEPHONE_NUMBER: "+1 555 0101",
            mapi.PR_HOME_ADDRESS_CITY: "Springfield",
            mapi.PR_HOME_ADDRESS_STREET: "1 Main St",
            mapi.PR_BIRTHDAY: datetime(1980, 2, 3, 8, 0, tzinfo=UTC),
            mapi.PR_BODY: "met at conf",
        },
        named={
            (ADDR, mapi.LID_EMAIL1_EMAIL_ADDRESS): "jane@acme.test",
            (ADDR, mapi.LID_EMAIL1_ADDRTYPE): "SMTP",
            (ADDR, mapi.LID_EMAIL2_EMAIL_ADDRESS): "jr@home.test",
            (ADDR, mapi.LID_FILE_UNDER): "Roe, Jane",
            (ADDR, mapi.LID_WORK_ADDRESS_CITY): "Metropolis",
        },
        attachments=[
            file_attachment(0, "ContactPicture.jpg", photo, props={0x7FFF: True}),
            file_attachment(1, "cv.txt", b"cv"),
        ],
    )
    upload = convert_item(source)
    f = upload.value
    assert upload.kind == "contact"
    assert (f.given_name, f.surname, f.company, f.job_title, f.file_as) == ("Jane", "Roe", "Acme", "CTO", "Roe, Jane")
    assert [e.address for e in f.emails] == ["jane@acme.test", "jr@home.test"]
    assert Phone(PhoneKind.MOBILE, "+1 555 0101") in f.phones
    assert PostalAddress(AddressKind.HOME, street="1 Main St", city="Springfield") in f.addresses
    assert PostalAddress(AddressKind.BUSINESS, city="Metropolis") in f.addresses
    assert f.birthday == date(1980, 2, 3)
    assert f.photo == photo
    assert [a.name for a in f.attachments] == ["cv.txt"]
    card = to_vcard(upload.value).decode()
    assert "N:Roe;Jane;;;" in card and "EMAIL;TYPE=INTERNET:jane@acme.test" in card
    assert "TEL;TYPE=CELL:+1 555 0101" in card and "PHOTO;ENCODING=b" in card


def test_distribution_list_members_from_one_off_entry_ids():
    source = item(
        "IPM.DistList",
        props={mapi.PR_SUBJECT: "Team", mapi.PR_DISPLAY_NAME: "Team"},
        named={
            (ADDR, mapi.LID_DISTRIBUTION_LIST_NAME): "Team",
            (ADDR, mapi.LID_DISTRIBUTION_LIST_ONE_OFF_MEMBERS): [
                one_off("Ann", "ann@x.test"),
                one_off("Bé", "be@x.test"),
                b"junk",
            ],
        },
    )
    upload = convert_item(source)
    assert upload.kind == "distlist"
    assert upload.value.display_name == "Team"
    assert [(m.name, m.email) for m in upload.value.members] == [("Ann", "ann@x.test"), ("Bé", "be@x.test")]
    assert any("member 2" in str(w) for w in upload.warnings)


def test_task_fields():
    due = datetime(2021, 5, 1, tzinfo=UTC)
    source = item(
        "IPM.Task",
        props={mapi.PR_SUBJECT: "File taxes", mapi.PR_IMPORTANCE: 2},
        named={
            (mapi.PSETID_TASK, mapi.LID_TASK_STATUS): 1,
            (mapi.PSETID_TASK, mapi.LID_PERCENT_COMPLETE): 0.5,
            (mapi.PSETID_TASK, mapi.LID_TASK_DUE_DATE): due,
            (mapi.PSETID_TASK, mapi.LID_TASK_START_DATE): datetime(2021, 4, 1, tzinfo=UTC),
        },
    )
    upload = convert_item(source)
    f = upload.value
    assert upload.kind == "task"
    assert (f.status, f.percent_complete, f.due_date, f.importance) == (
        TaskStatus.IN_PROGRESS,
        50.0,
        due.date(),
        Importance.HIGH,
    )
    assert extended_by_name(upload)[f"{mapi.PSETID_TASK}/{mapi.LID_TASK_DUE_DATE}"].value == due


def test_sticky_note_keeps_class_and_colour():
    source = item(
        "IPM.StickyNote",
        props={mapi.PR_SUBJECT: "Call Bob", mapi.PR_BODY: "Call Bob\nabout lunch"},
        named={(mapi.PSETID_NOTE, mapi.LID_NOTE_COLOR): 3, (mapi.PSETID_NOTE, mapi.LID_NOTE_WIDTH): 200},
    )
    upload = convert_item(source)
    assert (upload.kind, upload.value.item_class) == ("note", "IPM.StickyNote")
    assert upload.value.body.text.startswith("Call Bob")
    assert extended_by_name(upload)[f"{mapi.PSETID_NOTE}/{mapi.LID_NOTE_COLOR}"].value == 3


def test_journal_entry():
    start = datetime(2021, 6, 1, 9, tzinfo=UTC)
    source = item(
        "IPM.Activity",
        props={mapi.PR_SUBJECT: "Phone call"},
        named={
            (mapi.PSETID_LOG, mapi.LID_LOG_TYPE): "Phone call",
            (mapi.PSETID_LOG, mapi.LID_LOG_START): start,
            (mapi.PSETID_LOG, mapi.LID_LOG_DURATION): 15,
        },
    )
    upload = convert_item(source)
    assert (upload.kind, upload.value.item_class, upload.value.start) == ("journal", "IPM.Activity", start)
    names = extended_by_name(upload)
    assert names[f"{mapi.PSETID_LOG}/{mapi.LID_LOG_TYPE}"].value == "Phone call"
    assert names[f"{mapi.PSETID_LOG}/{mapi.LID_LOG_DURATION}"].mapi_type == "Integer"
