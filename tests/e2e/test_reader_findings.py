"""What independent readers (readpst, pffexport) and a real client found on real files (issue 26), rebuilt
into a sandbox over HTTP and read back with plain exchangelib calls written here; the expected values come
from the fixture spec.

One rebuild of one fixture serves every check: a store with two top-level folders of the same name (one of
them the Inbox by its entry id), a junk folder named as Outlook names it in English but whose role the store
does not give, an RTF body with an embedded picture (\\binN), a contact whose RTF body ends with a NUL,
Message-IDs outside RFC 5322 with a reply naming one, a recipient without a domain, a meeting request.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest
from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib.folders import Contacts, JunkEmail

import fixtures
from tests.conftest import own_sandbox, run_cli

OWNER, PASSWORD = "rita@corp.example", "findings-pw"
#: The picture's raw bytes: braces, backslashes and words that must never reach the text.
PAYLOAD = "{\\par PICTURE-BYTES}\\'41\\u66 " + "".join(chr(b) for b in range(256))
PICTURE_RTF = (
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Calibri;}}\\f0 Before the picture.\\par "
    "{\\*\\shppict{\\pict\\pngblip\\picw10\\pich10\\bin" + str(len(PAYLOAD)) + " " + PAYLOAD + "}}"
    "\\par After the picture.\\par }\x00"
)
NOTE_RTF = "{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\f0 Met at the fair.\\par }\x00"
ODD_ID = "<4711.abc@host@example.com>"
SPACED_ID = "<two words@example.com>"
START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
END = datetime(2025, 3, 10, 10, 30, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "store": {"name": "findings", "seed": 26, "without_roles": ["junkemail"]},
    "folders": [
        # First in the walk: a plain folder that happens to be called Inbox, beside the real one.
        {"name": "Inbox", "role": "none", "items": [{"subject": "In the other Inbox", "body": "other"}]},
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {
                    "subject": "Picture in RTF",
                    "rtf": PICTURE_RTF,
                    "rtf_encoding": "latin-1",
                    "sender": "Ann <ann@example.com>",
                    "to": [OWNER],
                },
                {
                    "subject": "Odd id",
                    "body": "first",
                    "message_id": ODD_ID,
                    "sender": "ann@example.com",
                    "to": [OWNER],
                },
                {
                    "subject": "Re: Odd id",
                    "body": "reply",
                    "message_id": SPACED_ID,
                    "in_reply_to": ODD_ID,
                    "references": ODD_ID,
                    "sender": "bob@example.com",
                    "to": [OWNER],
                },
                {
                    "subject": "To a local name",
                    "body": "x",
                    "sender": "ann@example.com",
                    "to": [{"name": "Postmaster", "email": "postmaster"}],
                },
                {
                    "kind": "meeting",
                    "message_class": "IPM.Schedule.Meeting.Request",
                    "subject": "Planning",
                    "body": "Agenda",
                    "sender": "Ann <ann@example.com>",
                    "attendees": [f"Rita <{OWNER}>"],
                    "start": START,
                    "end": END,
                    "location": "Room 4",
                },
            ],
        },
        {"name": "Junk E-mail", "role": "none", "items": [{"subject": "Maybe spam", "body": "spam?"}]},
        {
            "name": "Contacts",
            "role": "contacts",
            "items": [
                {
                    "kind": "contact",
                    "subject": "Cleo",
                    "given_name": "Cleo",
                    "surname": "Contact",
                    "rtf": NOTE_RTF,
                    "emails": ["cleo@example.com"],
                }
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("findings")
    ost = fixtures.cached(SPEC, format="ost")
    with own_sandbox(tmp / "data", {OWNER: (PASSWORD, False)}, [OWNER]) as (handle, data):
        done = run_cli(
            "run",
            "--ost",
            str(ost),
            "--mailbox",
            OWNER,
            "--server",
            handle.url,
            "--username",
            OWNER,
            "--state",
            str(tmp / "state"),
            "--log-level",
            "warning",
            "--json",
            env={"REBUILD_PASSWORD": PASSWORD},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        config = Configuration(
            service_endpoint=handle.url,
            credentials=Credentials(OWNER, PASSWORD),
            auth_type=NTLM,
            retry_policy=FailFast(),
        )
        yield Account(OWNER, config=config, autodiscover=False, access_type=DELEGATE), json.loads(done.stdout)


def by_subject(folder: Any) -> dict[str, Any]:
    return {item.subject: item for item in folder.all()}


def raw_mime(item: Any) -> email.message.Message:
    """The MIME as a client sees it: headers as written (compat32 keeps them as strings)."""
    return email.message_from_bytes(item.mime_content, policy=email.policy.compat32)


def text_part(message: email.message.Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "ascii")


def test_same_named_top_folders_and_a_junk_folder_without_role_keep_their_items_apart(rebuilt):
    account, _ = rebuilt
    top = {f.name: f for f in account.msg_folder_root.children}
    inbox = account.inbox
    assert set(by_subject(inbox)) == {"Picture in RTF", "Odd id", "Re: Odd id", "To a local name", "Planning"}
    others = [f for name, f in top.items() if name.startswith("Inbox") and f.id != inbox.id]
    assert len(others) == 1 and set(by_subject(others[0])) == {"In the other Inbox"}
    # The junk folder is one by name only: its item stays in a folder of its own, never lost.
    junk = [f for name, f in top.items() if name.startswith("Junk E-mail")]
    assert len(junk) == 1 and set(by_subject(junk[0])) == {"Maybe spam"}
    assert not list(account.root.get_default_folder(JunkEmail).all())


def test_rtf_picture_bytes_never_reach_the_text(rebuilt):
    account, _ = rebuilt
    item = account.inbox.get(subject="Picture in RTF")
    text = text_part(raw_mime(item))
    assert "PICTURE-BYTES" not in text and "\x00" not in text
    assert [line for line in text.splitlines() if line.strip()] == ["Before the picture.", "After the picture."]


def test_contact_body_from_rtf_has_no_nul(rebuilt):
    account, _ = rebuilt
    contact = by_subject(account.root.get_default_folder(Contacts))["Cleo"]
    assert str(contact.body).strip() == "Met at the fair."


def test_message_ids_outside_rfc_5322_thread(rebuilt):
    account, _ = rebuilt
    items = by_subject(account.inbox)
    first, reply = raw_mime(items["Odd id"]), raw_mime(items["Re: Odd id"])
    assert first["Message-ID"] == ODD_ID and reply["Message-ID"] == SPACED_ID
    # As a client threads: the ids in angle brackets of In-Reply-To and References name the parent's.
    assert re.findall(r"<[^>]*>", reply["In-Reply-To"]) == [first["Message-ID"]]
    assert re.findall(r"<[^>]*>", reply["References"]) == [first["Message-ID"]]
    assert items["Odd id"].message_id == ODD_ID


def test_recipient_without_domain_is_reported(rebuilt):
    account, summary = rebuilt
    to = account.inbox.get(subject="To a local name").to_recipients
    assert [r.email_address.split("@")[0] for r in to] == ["IMCEASMTP-postmaster"]
    assert summary["warnings"]["addresses without a domain kept as IMCEA<type>-…@<mailbox domain>"] == 1


def test_meeting_request_keeps_its_calendar_part(rebuilt):
    account, _ = rebuilt
    message = raw_mime(account.inbox.get(subject="Planning"))
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_param("method") == "REQUEST"
    cal = icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
    assert str(cal["METHOD"]) == "REQUEST"
    (event,) = [c for c in cal.walk() if c.name == "VEVENT"]
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (START, END)
    assert str(event["location"]) == "Room 4" and str(event["summary"]) == "Planning"
    assert str(event["organizer"]).lower() == "mailto:ann@example.com"
    assert [str(a).lower() for a in [event["attendee"]]] == [f"mailto:{OWNER}"]
    assert str(event["uid"])
    assert text_part(message).strip() == "Agenda"
