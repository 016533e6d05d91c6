"""A mail client nobody here wrote, against the sandbox: DavMail (Debian's davmail-server, an EWS client that
serves IMAP, CalDAV and CardDAV) in front of a rebuilt mailbox, read with imaplib and plain HTTP.

The small fixture is compared with its spec (folders, counts, \\Seen, \\Draft, \\Flagged, attachment names;
events with their recurrence; contacts' names, phones and e-mails); the real samples (`-m samples`) with the
sandbox's own store, which tests/e2e/test_independent_reader.py compares with pffexport. DavMail's log must
hold no error. Skips with a message when DavMail is absent (`apt-get install davmail-server`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email
import email.policy
import imaplib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import icalendar
import pytest
import requests

from fixtures.spec import FolderSpec, ItemSpec, load_spec
from pipeline.sandbox import davmail, views
from pipeline.sandbox.store import SandboxStore
from tests.conftest import REPO, own_sandbox, run_cli

MAILBOX, PASSWORD = "alice@corp.example", "Dav-mail-pw-1"
#: The IMAP names DavMail gives Exchange's default folders (the spec names them in German, by role).
ROLE_NAMES = {
    "inbox": "INBOX",
    "sentitems": "Sent",
    "drafts": "Drafts",
    "deleteditems": "Trash",
    "junkemail": "Junk",
    "outbox": "Unsent Messages",
}
MAIL_KINDS = {"mail", "smime"}
#: Item classes whose EWS element has no IsRead (types.xsd), so no \Seen over DavMail.
NO_IS_READ = {"IPM.Appointment", "IPM.Contact", "IPM.DistList", "IPM.Task"}


def _missing() -> str | None:
    try:
        davmail.command_for()
    except davmail.DavmailNotFound as exc:
        return str(exc)
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=f"independent client absent: {_missing()}")


@dataclass
class Rebuilt:
    dm: davmail.DavmailHandle
    data: Path
    summary: str


@contextlib.contextmanager
def rebuilt_behind_davmail(work: Path, source: Path) -> Iterator[Rebuilt]:
    """`source` rebuilt into a mailbox of a sandbox of this test's own, then DavMail started in front of it."""
    with own_sandbox(work / "sandbox-data", {MAILBOX: (PASSWORD, False)}, [MAILBOX]) as (handle, data):
        result = run_cli(
            "run",
            "--server",
            handle.url,
            "--username",
            MAILBOX,
            "--state",
            str(work / "state"),
            "--ost",
            str(source),
            "--mailbox",
            MAILBOX,
            "--log-level",
            "warning",
            env={"REBUILD_PASSWORD": PASSWORD},
        )
        assert result.returncode in (0, 1), result.stdout + result.stderr
        with davmail.start(handle.url, work / "davmail") as dm:
            yield Rebuilt(dm, data, result.stdout)


# -- IMAP ----------------------------------------------------------------------------------------


def _mutf7(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 5.1.3) decoded."""

    def part(match: re.Match[str]) -> str:
        text = match.group(1)
        if not text:
            return "&"
        raw = text.replace(",", "/")
        return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", part, name)


def _quoted(raw_name: str) -> str:
    return '"' + raw_name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ImapMessage:
    subject: str
    flags: set[str]
    attachments: list[str]


def _attachment_names(message: email.message.Message) -> list[str]:
    """File names of the message's own parts (not of the messages attached to it)."""
    names: list[str] = []
    stack = [message]
    while stack:
        part = stack.pop()
        if part.get_content_type() == "message/rfc822":
            continue  # an attached message: its own attachments are not this message's
        if part.is_multipart():
            stack.extend(part.get_payload())
            continue
        if part is not message and part.get_content_type() != "message/rfc822" and part.get_filename():
            names.append(part.get_filename())
    return names


def imap_listing(dm: davmail.DavmailHandle) -> dict[str, list[ImapMessage] | None]:
    """Every folder DavMail shows (decoded path) with its messages: Subject, flags, attachment names; None
    for a folder DavMail lists but cannot open (a backslash in its name: DavMail's own limit)."""
    host, port = dm.imap_address
    found: dict[str, list[ImapMessage] | None] = {}
    client = imaplib.IMAP4(host, port)
    try:
        client.login(MAILBOX, PASSWORD)
        status, lines = client.list('""', "*")
        assert status == "OK", lines
        for line in lines:
            text = line.decode() if isinstance(line, bytes) else line[0].decode() + line[1].decode()
            match = re.match(r'\((?P<flags>[^)]*)\) (?:"(?P<delim>.)"|NIL) (?P<name>.+)$', text)
            assert match, text
            raw = match.group("name")
            if raw.startswith('"'):
                raw = raw[1:-1].replace('\\"', '"')  # DavMail quotes names but leaves a backslash as it is
            status, data = client.select(_quoted(raw), readonly=True)
            if status != "OK" and "\\" in raw:
                found[_mutf7(raw)] = None  # DavMail's IMAP parser drops a backslash from a name: unselectable
                continue
            assert status == "OK", (raw, data)
            messages = []
            if int(data[0]) > 0:
                status, fetched = client.fetch("1:*", "(FLAGS BODY.PEEK[])")
                assert status == "OK", fetched
                for entry in fetched:
                    if not isinstance(entry, tuple):
                        continue
                    flags = set(re.search(rb"FLAGS \(([^)]*)\)", entry[0]).group(1).decode().split())
                    parsed = email.message_from_bytes(entry[1], policy=email.policy.default)
                    messages.append(ImapMessage(str(parsed.get("Subject", "")), flags, _attachment_names(parsed)))
            found[_mutf7(raw)] = messages
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return found


# -- CalDAV and CardDAV --------------------------------------------------------------------------

DAV_QUERY = {
    "calendar": '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
    '<C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>',
    "contacts": '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>'
    "</C:addressbook-query>",
}


def dav_report(dm: davmail.DavmailHandle, folder: str) -> list[str]:
    """The calendar-data (or address-data) of every resource in the folder, by a plain REPORT."""
    return list(dav_resources(dm, folder).values())


def dav_resources(dm: davmail.DavmailHandle, folder: str) -> dict[str, str]:
    """{href: calendar-data or address-data} of every resource in the folder, by a plain REPORT."""
    answer = requests.request(
        "REPORT",
        dm.caldav_url(MAILBOX, folder),
        data=DAV_QUERY[folder].encode(),
        headers={"Depth": "1", "Content-Type": "text/xml; charset=utf-8"},
        auth=(MAILBOX, PASSWORD),
        timeout=120,
    )
    assert answer.status_code == 207, answer.text[:500]
    tag = (
        "{urn:ietf:params:xml:ns:caldav}calendar-data"
        if folder == "calendar"
        else "{urn:ietf:params:xml:ns:carddav}address-data"
    )
    found = {}
    for response in ET.fromstring(answer.content).iter("{DAV:}response"):
        data = next(response.iter(tag), None)
        if data is not None:
            found[response.findtext("{DAV:}href") or ""] = data.text or ""
    return found


def vcard_props(text: str) -> list[tuple[str, str]]:
    """(NAME, value) of each line of a vCard, folded lines joined (RFC 6350 3.2)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    found = []
    for line in unfolded.splitlines():
        head, _, value = line.partition(":")
        found.append((head.split(";", 1)[0].upper(), value))
    return found


def _utc(value: Any) -> Any:
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


def log_errors(dm: davmail.DavmailHandle) -> list[str]:
    return [line for line in dm.log_text().splitlines() if " ERROR " in line or re.search(r"\bError[A-Z]\w+", line)]


# -- the small fixture against its spec -----------------------------------------------------------


def _mail_folders(folders: list[FolderSpec], parent: tuple[str, ...] = ()) -> Iterator[tuple[str, FolderSpec]]:
    for folder in folders:
        name = ROLE_NAMES.get(folder.role or "", folder.name)
        if folder.role in (None, *ROLE_NAMES):
            # DavMail writes a "/" inside a folder name as _xF8FF_ (the private-use character Exchange uses)
            path = (*parent, name.replace("/", "_xF8FF_"))
            yield "/".join(path), folder
            yield from _mail_folders(folder.folders, path)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, small_ost: Path) -> Iterator[Rebuilt]:
    with rebuilt_behind_davmail(tmp_path_factory.mktemp("davmail-small"), small_ost) as rebuilt:
        yield rebuilt


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_spec(REPO / "fixtures" / "specs" / "small.toml")


def test_imap_folders_counts_flags_attachments(small: Rebuilt, spec: Any):
    listing = imap_listing(small.dm)
    expected_total = 0
    for path, folder in _mail_folders(spec.folders):
        mails = [item for item in folder.items if item.kind in MAIL_KINDS]
        expected_total += len(mails)
        assert path in listing, f"IMAP has no folder {path!r}: {sorted(listing)}"
        if listing[path] is None:
            assert "\\" in path, path  # listed, not openable through DavMail (see imap_listing)
            expected_total -= len(mails)
            continue
        shown = {m.subject: m for m in listing[path] or []}
        assert sorted(shown) == sorted(i.subject for i in mails), path
        for item in mails:
            message = shown[item.subject]
            draft = item.unsent if item.unsent is not None else folder.role in ("drafts", "outbox")
            assert ("\\Seen" in message.flags) == item.read, (item.subject, message.flags)
            assert ("\\Draft" in message.flags) == draft, (item.subject, message.flags)
            assert ("\\Flagged" in message.flags) == (item.flag == "followup"), (item.subject, message.flags)
            wanted = sorted(a.name for a in item.attachments if not a.hidden)
            assert sorted(message.attachments) == wanted, item.subject
            for category in item.categories:  # DavMail shows categories as keywords (split at spaces)
                assert set(category.split()) <= message.flags, (item.subject, category, message.flags)
    counts = {k: len(v) for k, v in listing.items() if v is not None}
    assert sum(counts.values()) == expected_total, counts
    assert not log_errors(small.dm), log_errors(small.dm)


def _calendar_items(spec: Any) -> list[ItemSpec]:
    return [i for f in spec.folders if f.role == "calendar" for i in f.items]


def test_caldav_events_with_their_recurrence(small: Rebuilt, spec: Any):
    events = [e for text in dav_report(small.dm, "calendar") for e in icalendar.Calendar.from_ical(text).walk("VEVENT")]
    masters = {str(e["SUMMARY"]): e for e in events if "RECURRENCE-ID" not in e}
    expected = _calendar_items(spec)
    assert sorted(masters) == sorted(i.subject for i in expected)
    for item in expected:
        event = masters[item.subject]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        if item.all_day:
            assert (start, end) == (item.start.date(), item.end.date()), item.subject  # DTEND is exclusive
        else:
            wanted = (item.start.replace(tzinfo=dt.UTC), item.end.replace(tzinfo=dt.UTC))
            assert (_utc(start), _utc(end)) == wanted, item.subject
        if item.location:
            assert str(event["LOCATION"]) == item.location
        if item.recurrence is None:
            assert "RRULE" not in event, item.subject
            continue
        rule = event["RRULE"]
        assert rule["FREQ"] == [item.recurrence.pattern.upper()]
        assert rule["COUNT"] == [item.recurrence.count]
        assert sorted(d.lower() for d in rule["BYDAY"]) == sorted(item.recurrence.days)
        exdates = event.get("EXDATE")
        exdates = exdates if isinstance(exdates, list) else [exdates] if exdates is not None else []
        excluded = sorted(_utc(d.dt).date() for x in exdates for d in x.dts)
        assert excluded == sorted(d.date() for d in item.recurrence.deleted)
        overrides = {
            _utc(e.decoded("RECURRENCE-ID")).date(): e
            for e in events
            if "RECURRENCE-ID" in e and str(e["UID"]) == str(event["UID"])
        }
        assert sorted(overrides) == sorted(x.date.date() for x in item.recurrence.exceptions)
        for exception in item.recurrence.exceptions:
            changed = overrides[exception.date.date()]
            assert str(changed["SUMMARY"]) == (exception.subject or item.subject)
            assert str(changed.get("LOCATION", "")) == (exception.location or item.location or "")
    assert not log_errors(small.dm), log_errors(small.dm)


def test_carddav_contacts_names_phones_emails(small: Rebuilt, spec: Any):
    resources = dav_resources(small.dm, "contacts")
    cards = {href: vcard_props(text) for href, text in resources.items()}
    lists = {i.subject: i for f in spec.folders if f.role == "contacts" for i in f.items if i.kind == "distlist"}
    people = [c for c in cards.values() if dict(c).get("FN") not in lists]
    expected = [i for f in spec.folders if f.role == "contacts" for i in f.items if i.kind == "contact"]
    assert len(people) == len(expected), cards
    # A list's members come with the list itself (DavMail's GET; its REPORT carries the name only).
    for href, card in cards.items():
        if dict(card).get("FN") in lists:
            got = requests.get(
                f"http://{small.dm.imap_address[0]}:{small.dm.ports.caldav}{href}", auth=(MAILBOX, PASSWORD), timeout=60
            )
            assert got.status_code == 200, got.text[:300]
            full = vcard_props(got.text)
            assert ("KIND", "group") in full, full
            members = sorted(v.removeprefix("mailto:") for k, v in full if k == "MEMBER")
            assert members == sorted(m.email for m in lists[dict(card)["FN"]].members)
    by_name = {dict(card)["FN"]: card for card in people}
    for item in expected:
        name = item.display_name or f"{item.given_name} {item.surname}"
        card = by_name[name]
        values: dict[str, list[str]] = {}
        for key, value in card:
            values.setdefault(key, []).append(value)
        assert values["N"][0].split(";")[:2] == [item.surname or "", item.given_name or ""]
        assert sorted(values.get("TEL", [])) == sorted(item.phones.values())
        assert sorted(values.get("EMAIL", [])) == sorted(a.email for a in item.emails)
        if item.company:
            assert values["ORG"][0].split(";")[0] == item.company
        if item.job_title:
            assert values["TITLE"] == [item.job_title]
    assert not log_errors(small.dm), log_errors(small.dm)


def test_caldav_and_carddav_writes_reach_the_server(small: Rebuilt):
    """What a client writes through DavMail lands on the server (read back from its store): an event (DavMail
    first reads the user's VTIMEZONE from a scratch item's MimeContent) and a contact. Runs last on `small`."""
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\nUID:davmail-put-1\r\n"
        "SUMMARY:Put through CalDAV\r\nDTSTART:20240610T100000Z\r\nDTEND:20240610T110000Z\r\n"
        "RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:davmail-put-2\r\nFN:Paul Put\r\nN:Put;Paul;;;\r\n"
        "TEL;TYPE=CELL:+1 555 0100\r\nEMAIL;TYPE=WORK:paul@example.com\r\nEND:VCARD\r\n"
    )
    for folder, name, body, kind in (
        ("calendar", "davmail-put-1.ics", event, "text/calendar"),
        ("contacts", "davmail-put-2.vcf", card, "text/vcard"),
    ):
        answer = requests.put(
            small.dm.caldav_url(MAILBOX, folder) + name,
            data=body.encode(),
            timeout=60,
            headers={"Content-Type": kind},
            auth=(MAILBOX, PASSWORD),
        )
        assert answer.status_code in (200, 201, 204), (folder, answer.status_code, answer.text[:300])
    store = SandboxStore(small.data)
    try:
        items = views.items(store, MAILBOX)
    finally:
        store.close()
    put = {i["subject"]: i for i in items if i["subject"] in ("Put through CalDAV", "Paul Put")}
    assert len(put) == 2, [(i["folder_path"], i["subject"], i["item_class"]) for i in items]
    assert put["Put through CalDAV"]["item_class"] == "IPM.Appointment"
    assert put["Put through CalDAV"]["recurrence"]["count"] == 3
    assert put["Paul Put"]["item_class"] == "IPM.Contact"
    assert not log_errors(small.dm), log_errors(small.dm)


# -- the real samples against the sandbox's own store ---------------------------------------------


def _store_view(data: Path) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Mail folders of the mailbox as the sandbox's store holds them, {IMAP path: (items, read items)}, and
    the item counts of the default calendar and contacts folders (the ones DavMail serves)."""
    store = SandboxStore(data)
    try:
        tree = views.folder_tree(store, MAILBOX)
        items = views.items(store, MAILBOX)
    finally:
        store.close()
    defaults = {f["distinguished_id"]: f["item_count"] for f in tree if f.get("distinguished_id")}
    imap_names = {
        "inbox": "INBOX",
        "sentitems": "Sent",
        "drafts": "Drafts",
        "deleteditems": "Trash",
        "junkemail": "Junk",
        "outbox": "Unsent Messages",
    }
    names = {
        tuple(f["path"]): imap_names.get(f.get("distinguished_id") or "", f["path"][-1]) for f in tree if f["path"]
    }
    notes: dict[str, tuple[int, int]] = {}
    for folder in tree:
        cls = folder.get("folder_class") or "IPF.Note"
        if cls.startswith("IPF.Note") and folder["item_count"]:
            path = tuple(folder["path"])
            shown = [names.get(path[: i + 1], path[i]).replace("/", "_xF8FF_") for i in range(len(path))]
            # \Seen is EWS's IsRead, which only message types have (types.xsd: not CalendarItemType, ContactItemType,
            # DistributionListType, TaskType): a deleted appointment shows unread, on Exchange as here.
            read = sum(
                1
                for i in items
                if tuple(i["folder_path"]) == path
                and i["is_read"]
                and ".".join(i["item_class"].split(".")[:2]) not in NO_IS_READ
            )
            notes["/".join(shown)] = (folder["item_count"], read)
    return notes, {key: defaults.get(key, 0) for key in ("calendar", "contacts")}


@pytest.mark.samples
@pytest.mark.parametrize("name", ["Outlook.pst", "SampleOstFile.ost"])
def test_samples_through_davmail(tmp_path: Path, samples: Path, name: str):
    """Every mail folder's count and read count over IMAP, every calendar item over CalDAV and every contact
    and list over CardDAV equal the server's store (which test_independent_reader compares with pffexport)."""
    source = samples / name
    if not source.exists():
        pytest.skip(f"{source} not found")
    with rebuilt_behind_davmail(tmp_path, source) as rebuilt:
        notes, defaults = _store_view(rebuilt.data)
        listing = imap_listing(rebuilt.dm)
        shown = {path: (len(msgs), sum("\\Seen" in m.flags for m in msgs)) for path, msgs in listing.items() if msgs}
        assert shown == {path: counts for path, counts in notes.items() if listing.get(path, []) is not None}
        masters = [
            e
            for text in dav_report(rebuilt.dm, "calendar")
            for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
            if "RECURRENCE-ID" not in e
        ]
        assert len(masters) == defaults["calendar"]
        assert len(dav_report(rebuilt.dm, "contacts")) == defaults["contacts"]
        assert not log_errors(rebuilt.dm), log_errors(rebuilt.dm)


# -- `rebuild sandbox preview`, as an admin runs it ----------------------------------------------


def test_preview_command_serves_imap_and_stops_davmail(tmp_path: Path):
    import os
    import socket
    import subprocess
    import sys

    data = tmp_path / "sandbox"
    store = SandboxStore(data)
    store.add_mailbox(MAILBOX, "Alice")
    store.add_mailbox("bob@corp.example", "Bob")
    store.add_account(MAILBOX, PASSWORD)
    store.close()
    refused = run_cli("sandbox", "preview", "--data", str(data), "--mailbox", "bob@corp.example")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "add-account bob@corp.example" in refused.stderr, refused.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "sandbox", "preview", "--data", str(data), "--mailbox", MAILBOX],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        port = int(re.search(r"IMAP:\s+127\.0\.0\.1:(\d+)", "".join(lines)).group(1))
        client = imaplib.IMAP4("127.0.0.1", port)
        assert client.login(MAILBOX, PASSWORD)[0] == "OK"
        status, folders = client.list('""', "*")
        assert status == "OK" and any(b'"INBOX"' in f or f.endswith(b" INBOX") for f in folders), folders
        client.logout()
    finally:
        process.terminate()  # SIGTERM: the preview stops DavMail and the sandbox, then exits
        assert process.wait(60) == 0, process.stderr.read() if process.stderr else ""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
