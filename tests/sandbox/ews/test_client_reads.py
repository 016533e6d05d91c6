"""What a real EWS client (DavMail) reads back: a calendar item's MimeContent as iCalendar, a contact's fields
as MAPI properties. Items are written with plain exchangelib, read with plain HTTP; the iCalendar is parsed
by the icalendar package and compared with what the test wrote.

Ledger: calendar-mime, contact-mapi.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import requests
from dateutil.rrule import rrulestr
from exchangelib import CalendarItem, Contact, EWSDateTime, EWSTimeZone
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.recurrence import NumberedPattern, Recurrence, WeeklyPattern

from tests.sandbox.helpers import ALICE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header>'
    '<t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header><soap:Body>{}</soap:Body></soap:Envelope>'
)


def _post(url: str, body: str) -> str:
    answer = requests.post(
        url,
        data=ENVELOPE.format(body).encode(),
        auth=ALICE,
        timeout=30,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    assert answer.status_code == 200, answer.text[:500]
    return answer.text


def test_calendar_item_mime_content_is_icalendar_with_its_series(sandbox, alice, unique):
    """Ledger: calendar-mime. A weekly series in Berlin time, one occurrence deleted: the iCalendar expands
    (dateutil, not the sandbox) to the occurrences Exchange would show, at 09:00 Berlin across the DST change."""
    berlin = EWSTimeZone("Europe/Berlin")
    start = EWSDateTime(2024, 3, 18, 9, 0, tzinfo=berlin)
    item = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject=f"sync-{unique}",
        location="Room 42",
        start=start,
        end=start + dt.timedelta(minutes=30),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=["Monday"]),
            boundary=NumberedPattern(start=start.date(), number=4),
        ),
    )
    item.save()
    _post(
        sandbox.url,
        f'<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds>'
        f'<t:OccurrenceItemId RecurringMasterId="{item.id}" InstanceIndex="2"/></m:ItemIds></m:DeleteItem>',
    )
    got = _post(
        sandbox.url,
        f"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
        f"<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds>"
        f'<t:ItemId Id="{item.id}"/></m:ItemIds></m:GetItem>',
    )
    found = re.search(r"<t:MimeContent[^>]*>([^<]+)</t:MimeContent>", got)
    assert found, got[-1500:]
    ics = base64.b64decode(found.group(1))
    assert ics.startswith(b"BEGIN:VCALENDAR"), ics[:80]
    parsed = icalendar.Calendar.from_ical(ics)
    events = [c for c in parsed.walk("VEVENT")]
    assert len(events) == 1
    event = events[0]
    assert str(event["SUMMARY"]) == f"sync-{unique}" and str(event["LOCATION"]) == "Room 42"
    first = event.decoded("DTSTART")
    assert first.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None) == dt.datetime(2024, 3, 18, 9)
    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=first)
    excluded = {d.dt.astimezone(dt.UTC) for d in event["EXDATE"].dts}
    shown = [d.astimezone(ZoneInfo("Europe/Berlin")) for d in rule if d.astimezone(dt.UTC) not in excluded]
    assert [(d.date(), d.hour) for d in shown] == [
        (dt.date(2024, 3, 18), 9),
        (dt.date(2024, 4, 1), 9),
        (dt.date(2024, 4, 8), 9),
    ]


def test_contact_fields_read_as_mapi_properties(sandbox, alice, unique):
    """Ledger: contact-mapi. Names, phones, a work address and an e-mail written as typed fields come back
    under their MS-OXOCNTC tags (what DavMail turns into a vCard)."""
    contact = Contact(
        account=alice,
        folder=alice.contacts,
        display_name=f"Zoë{unique} Müller",
        given_name=f"Zoë{unique}",
        surname="Müller",
        company_name="Beispiel GmbH",
        job_title="Engineer",
        email_addresses=[EmailAddress(label="EmailAddress1", email=f"zoe-{unique}@example.de")],
        phone_numbers=[
            PhoneNumber(label="BusinessPhone", phone_number="+49 30 1234567"),
            PhoneNumber(label="MobilePhone", phone_number="+49 170 1234567"),
        ],
        physical_addresses=[PhysicalAddress(label="Business", street="Hauptstraße 5", city="Berlin")],
    )
    contact.save()
    asked = {
        'PropertyTag="0x3A06" PropertyType="String"': f"Zoë{unique}",  # PidTagGivenName
        'PropertyTag="0x3A11" PropertyType="String"': "Müller",  # PidTagSurname
        'PropertyTag="0x3A16" PropertyType="String"': "Beispiel GmbH",  # PidTagCompanyName
        'PropertyTag="0x3A17" PropertyType="String"': "Engineer",  # PidTagTitle
        'PropertyTag="0x3A08" PropertyType="String"': "+49 30 1234567",  # PidTagBusinessTelephoneNumber
        'PropertyTag="0x3A1C" PropertyType="String"': "+49 170 1234567",  # PidTagMobileTelephoneNumber
        'DistinguishedPropertySetId="Address" PropertyId="32838" PropertyType="String"': "Berlin",  # 0x8046
        'DistinguishedPropertySetId="Address" PropertyId="32837" PropertyType="String"': "Hauptstraße 5",
        'DistinguishedPropertySetId="Address" PropertyId="32899" PropertyType="String"': f"zoe-{unique}@example.de",
    }
    uris = "".join(f"<t:ExtendedFieldURI {attrs}/>" for attrs in asked)
    got = _post(
        sandbox.url,
        f"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        f'{uris}</t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{contact.id}"/>'
        f"</m:ItemIds></m:GetItem>",
    )
    for attrs, value in asked.items():
        pattern = re.escape(f"<t:ExtendedFieldURI {attrs}/><t:Value>{value}</t:Value>")
        assert re.search(pattern, got), f"{attrs} should read {value!r}: {got[:1500]}"
    # A tag the contact does not have is absent, not empty (Exchange leaves unset properties out).
    home = _post(
        sandbox.url,
        f"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        f'<t:ExtendedFieldURI PropertyTag="0x3A09" PropertyType="String"/></t:AdditionalProperties>'
        f'</m:ItemShape><m:ItemIds><t:ItemId Id="{contact.id}"/></m:ItemIds></m:GetItem>',
    )
    assert "0x3A09" not in home.split("</t:ItemId>", 1)[-1]


def test_calendar_item_created_from_icalendar_gets_its_fields(sandbox, alice, unique):
    """Ledger: calendar-ics-import. iCalendar MimeContent (a CalDAV client's event) sent with plain HTTP; the
    item read back with exchangelib has the VEVENT's subject, times in its zone, location and recurrence."""
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\n"
        f"UID:ics-{unique}\r\nSUMMARY:ics-{unique}\r\nLOCATION:Room 5\r\n"
        "DTSTART;TZID=W. Europe Standard Time:20240610T100000\r\n"
        "DTEND;TZID=W. Europe Standard Time:20240610T110000\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    answer = _post(
        sandbox.url,
        '<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>'
        '<t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem>'
        f"<t:MimeContent>{base64.b64encode(ics.encode()).decode()}</t:MimeContent>"
        "</t:CalendarItem></m:Items></m:CreateItem>",
    )
    assert 'ResponseClass="Success"' in answer, answer[-800:]
    item = alice.calendar.get(subject=f"ics-{unique}")
    assert item.location == "Room 5"
    utc = EWSTimeZone("UTC")
    assert item.start.astimezone(utc) == EWSDateTime(2024, 6, 10, 8, 0, tzinfo=utc)  # 10:00 in Berlin (CEST)
    assert item.end.astimezone(utc) == EWSDateTime(2024, 6, 10, 9, 0, tzinfo=utc)
    assert isinstance(item.recurrence.pattern, WeeklyPattern)
    assert sorted(item.recurrence.pattern.weekdays) == [1, 3]  # exchangelib numbers Monday 1
    assert item.recurrence.boundary.number == 4
