"""The realism ledger (pipeline/sandbox/README.md), one test per line: the sandbox refuses, lags and limits
the way the ledger says Exchange does. Each test names its ledger line; the oracle is plain exchangelib or
plain HTTP written here, never pipeline/destination/ews.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import requests
from exchangelib import (
    IMPERSONATION,
    CalendarItem,
    Contact,
    DistributionList,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FileAttachment,
    Folder,
    Message,
    PostItem,
)
from exchangelib.errors import (
    ErrorFolderExists,
    ErrorIrresolvableConflict,
    ErrorNameResolutionNoResults,
    ErrorObjectTypeChanged,
    ErrorOccurrenceTimeSpanTooBig,
)
from exchangelib.items import ALWAYS_OVERWRITE, AUTO_RESOLVE, NEVER_OVERWRITE, SEND_TO_NONE
from exchangelib.properties import Fields, Mailbox, Member
from exchangelib.recurrence import DailyPattern, NumberedPattern, Recurrence

from pipeline.sandbox import embedded, views
from pipeline.sandbox.limits import Limits
from tests.sandbox.helpers import ADMIN, ALICE, BOB, connect, mime_message, populate

UTC = EWSTimeZone("UTC")
GET_INBOX = (
    b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
    b'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Header>'
    b'<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetFolder><m:FolderShape>'
    b'<t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/>'
    b"</m:FolderIds></m:GetFolder></s:Body></s:Envelope>"
)


class Lease(ExtendedProperty):
    """A named property like the one a mailbox lease would carry."""

    property_set_id = "0b7e2c1a-7d0e-4a55-9f3e-6c2d9a4b1e01"
    property_name = "RealismLease"
    property_type = "String"


if "realism_lease" not in {f.name for f in Message.FIELDS}:
    Message.register("realism_lease", Lease)


def _classed(cls: type) -> type:
    """An exchangelib type with a writable ItemClass (exchangelib keeps it read-only), written here."""
    fields = []
    for field in cls.FIELDS:
        if field.name == "item_class":
            field = copy.copy(field)
            field.is_read_only = False
        fields.append(field)
    return type(f"Test{cls.__name__}", (cls,), {"FIELDS": Fields(*fields)})


@pytest.fixture
def own(tmp_path: Path):
    """A sandbox of the test's own (thread), for limits and faults."""
    populate(tmp_path)

    def start(**options):
        options.setdefault("limits", Limits(search_lag_s=0.0))  # lag only where a test asks for it
        return embedded.start(tmp_path, in_process=True, **options)

    return start


# -- http-oversize, http-507, http-401 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "marker"), [("404.13", 404, b"404.13"), ("413", 413, b"413"), ("507", 507, b"")]
)
def test_oversized_request_answers(own, answer, status, marker):
    """Ledger: http-oversize (404.13 by default, 413 and 507 on demand)."""
    limits = Limits(max_request_bytes=10_000, oversize_answer=answer)
    with own(limits=limits) as handle:
        response = requests.post(handle.url, data=b"x" * 20_000, auth=ALICE, timeout=10)
    assert response.status_code == status
    assert marker in response.content
    if answer == "507":
        assert response.headers.get("Connection") == "close" and response.content == b""


def test_fault_http_507_close_and_401_throttle(own):
    """Ledger: http-507, http-401. Authenticated requests answered 507 + Connection: close, then 401."""
    faults = {"rules": [{"kind": "http_507_close", "count": 1}, {"kind": "http_401_throttle", "count": 1, "after": 1}]}
    with own(faults=faults) as handle:
        first = requests.post(handle.url, data=GET_INBOX, auth=ALICE, timeout=10, headers={"Content-Type": "text/xml"})
        second = requests.post(handle.url, data=GET_INBOX, auth=ALICE, timeout=10, headers={"Content-Type": "text/xml"})
        third = requests.post(handle.url, data=GET_INBOX, auth=ALICE, timeout=10, headers={"Content-Type": "text/xml"})
    assert (first.status_code, first.headers.get("Connection"), first.content) == (507, "close", b"")
    assert second.status_code == 401 and "NTLM" in second.headers.get("WWW-Authenticate", "")
    assert third.status_code == 200 and b"NoError" in third.content


# -- concurrency ---------------------------------------------------------------------------------------


def test_max_concurrency_per_account(own):
    """Ledger: concurrency. With EWSMaxConcurrency 2, a third request of the same account in progress is
    refused with ErrorExceededConnectionCount; another account is not affected."""
    faults = {"max_concurrency": 2, "rules": [{"kind": "delay", "seconds": 1.0, "operations": ["GetFolder"]}]}
    answers: list[requests.Response] = []

    def post(auth: tuple[str, str]) -> None:
        answers.append(
            requests.post(handle.url, data=GET_INBOX, auth=auth, timeout=20, headers={"Content-Type": "text/xml"})
        )

    with own(faults=faults) as handle:
        threads = [threading.Thread(target=post, args=(ALICE,)) for _ in range(4)]
        threads.append(threading.Thread(target=post, args=(BOB,)))
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        stats = handle.stats()
    refused = [a for a in answers if b"ErrorExceededConnectionCount" in a.content]
    assert len(refused) == 2 and all(a.status_code == 500 for a in refused)
    assert sum(1 for a in answers if a.status_code == 200) == 3  # two of Alice's, Bob's
    assert stats["counters"]["error:ErrorExceededConnectionCount"] == 2


# -- search-lag ----------------------------------------------------------------------------------------


def test_restricted_find_lags_unrestricted_does_not(own):
    """Ledger: search-lag. A restriction misses items written less than search_lag_s ago."""
    with own(limits=Limits(search_lag_s=1.5)) as handle:
        alice = connect(handle.url, ALICE)
        item = Message(folder=alice.inbox, subject="lagging", realism_lease="lag-1")
        alice.bulk_create(folder=alice.inbox, items=[item])
        assert alice.inbox.filter(realism_lease="lag-1").count() == 0
        assert [m.realism_lease for m in alice.inbox.all().only("realism_lease")] == ["lag-1"]
        time.sleep(1.6)
        assert alice.inbox.filter(realism_lease="lag-1").count() == 1


# -- changekey, lease-root -----------------------------------------------------------------------------


def _saved(account, folder, **fields) -> Message:
    [result] = account.bulk_create(folder=folder, items=[Message(folder=folder, **fields)])
    assert not isinstance(result, Exception), result
    return folder.get(id=result.id)


def test_stale_change_key_conflicts_unless_always_overwrite(alice, unique):
    """Ledger: changekey. Every update moves the ChangeKey on; a stale one fails with
    ErrorIrresolvableConflict under AutoResolve and NeverOverwrite, and wins with AlwaysOverwrite."""
    item = _saved(alice, alice.inbox, subject=f"ck-{unique}", realism_lease="v1")
    stale = copy.copy(item)
    item.realism_lease = "v2"
    item.save(update_fields=["realism_lease"], conflict_resolution=AUTO_RESOLVE)
    assert item.changekey != stale.changekey
    stale.realism_lease = "v3"
    for mode in (AUTO_RESOLVE, NEVER_OVERWRITE):
        with pytest.raises(ErrorIrresolvableConflict):
            stale.save(update_fields=["realism_lease"], conflict_resolution=mode)
    stale.save(update_fields=["realism_lease"], conflict_resolution=ALWAYS_OVERWRITE)
    assert alice.inbox.get(id=item.id).realism_lease == "v3"
    other = _saved(alice, alice.inbox, subject=f"ck2-{unique}")
    foreign = copy.copy(item)
    foreign._id = type(item._id)(id=other.id, changekey=item.changekey)  # another item's current key
    with pytest.raises(ErrorIrresolvableConflict):
        foreign.save(update_fields=["realism_lease"], conflict_resolution=NEVER_OVERWRITE)


def test_lease_item_in_the_non_ipm_root(tmp_path):
    """Ledger: lease-root. A hidden item in the distinguished folder `root` with an extended property is
    created, found and updated with its ChangeKey; of two takers holding the same key only one wins."""
    populate(tmp_path)
    with embedded.start(tmp_path, in_process=True, limits=Limits(search_lag_s=0.0)) as handle:
        svc = connect(handle.url, ADMIN, address=ALICE[0], access=IMPERSONATION)
        root = svc.root
        _saved(svc, root, subject="rebuild lease", realism_lease="free")
        [found] = list(root.all().only("realism_lease", "changekey"))
        first, second = copy.copy(found), copy.copy(found)
        first.realism_lease = "taken by A"
        first.save(update_fields=["realism_lease"], conflict_resolution=NEVER_OVERWRITE)
        second.realism_lease = "taken by B"
        with pytest.raises(ErrorIrresolvableConflict):
            second.save(update_fields=["realism_lease"], conflict_resolution=NEVER_OVERWRITE)
        assert [i.realism_lease for i in root.all().only("realism_lease")] == ["taken by A"]
        assert root.filter(realism_lease="taken by A").count() == 1  # found by its property too


# -- item-class ----------------------------------------------------------------------------------------


def test_item_class_must_fit_the_element(alice, unique):
    """Ledger: item-class. A Message cannot carry a calendar, post or meeting class; PostItem and the
    meeting elements carry theirs and come back as those types."""
    classed_message = _classed(Message)
    for cls in ("IPM.Appointment", "IPM.Post", "IPM.Schedule.Meeting.Request", "IPM.Task"):
        wrong = classed_message(folder=alice.inbox, item_class=cls, mime_content=mime_message(f"{cls}-{unique}"))
        with pytest.raises(ErrorObjectTypeChanged):  # exchangelib raises it for the whole call
            alice.bulk_create(folder=alice.inbox, items=[wrong])
    fine = classed_message(folder=alice.inbox, item_class="IPM.TaskRequest", mime_content=mime_message(f"tr-{unique}"))
    post = _classed(PostItem)(folder=alice.inbox, item_class="IPM.Post", mime_content=mime_message(f"post-{unique}"))
    results = alice.bulk_create(folder=alice.inbox, items=[fine, post])
    assert not any(isinstance(r, Exception) for r in results), results
    kinds = {
        i.subject: (type(i).__name__, i.item_class)
        for i in alice.inbox.filter(subject__contains=unique).only("subject", "item_class")
    }
    assert kinds == {f"tr-{unique}": ("Message", "IPM.TaskRequest"), f"post-{unique}": ("PostItem", "IPM.Post")}
    with pytest.raises(ErrorObjectTypeChanged):
        alice.bulk_create(
            folder=alice.inbox,
            items=[
                _classed(PostItem)(folder=alice.inbox, item_class="IPM.Note", mime_content=mime_message(f"p2-{unique}"))
            ],
        )


# -- dl-members ----------------------------------------------------------------------------------------


def test_distribution_list_members_of_type_mailbox_must_exist(alice, unique):
    """Ledger: dl-members. MailboxType Mailbox must name a mailbox here; outside addresses are OneOff."""

    def dl(name: str, *members: Mailbox) -> DistributionList:
        return DistributionList(
            folder=alice.contacts, display_name=f"{name}-{unique}", members=[Member(mailbox=m) for m in members]
        )

    outside = Mailbox(email_address="ann@example.com", mailbox_type="Mailbox")
    with pytest.raises(ErrorNameResolutionNoResults):
        alice.bulk_create(folder=alice.contacts, items=[dl("bad", outside)])
    results = alice.bulk_create(
        folder=alice.contacts,
        items=[
            dl("oneoff", Mailbox(email_address="ann@example.com", mailbox_type="OneOff")),
            dl("inside", Mailbox(email_address=BOB[0], mailbox_type="Mailbox")),
        ],
    )
    assert not any(isinstance(r, Exception) for r in results), results
    names = {d.display_name for d in alice.contacts.all().only("display_name") if unique in (d.display_name or "")}
    assert names == {f"oneoff-{unique}", f"inside-{unique}"}


# -- contact-photo -------------------------------------------------------------------------------------


def test_contact_photo_attachment_sets_has_picture(alice, unique):
    """Ledger: contact-photo. An attachment flagged IsContactPhoto sets HasPicture; a plain one does not."""
    with_photo = Contact(folder=alice.contacts, display_name=f"pic-{unique}", given_name=f"pic-{unique}")
    with_photo.attach(
        FileAttachment(name="ContactPicture.jpg", content=b"\xff\xd8\xff" + b"0" * 64, is_contact_photo=True)
    )
    without = Contact(folder=alice.contacts, display_name=f"nopic-{unique}", given_name=f"nopic-{unique}")
    without.attach(FileAttachment(name="cv.txt", content=b"text"))
    results = alice.bulk_create(folder=alice.contacts, items=[with_photo, without])
    pictures = {
        c.display_name: c.has_picture
        for c in alice.contacts.all().only("display_name", "has_picture")
        if isinstance(c, Contact) and unique in (c.display_name or "")
    }
    assert not any(isinstance(r, Exception) for r in results)
    assert pictures == {f"pic-{unique}": True, f"nopic-{unique}": False}


def test_contact_photo_written_directly_is_refused(sandbox, store, unique):
    """Ledger: contact-photo. <t:Photo> on CreateItem is ErrorInvalidPropertyRequest (plain SOAP: exchangelib
    itself refuses to send the read-only field)."""
    photo = base64.b64encode(b"\xff\xd8\xff").decode()
    body = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Header>'
        '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:CreateItem>'
        '<m:SavedItemFolderId><t:DistinguishedFolderId Id="contacts"/></m:SavedItemFolderId><m:Items><t:Contact>'
        f"<t:GivenName>photo-{unique}</t:GivenName><t:Photo>{photo}</t:Photo></t:Contact></m:Items>"
        "</m:CreateItem></s:Body></s:Envelope>"
    ).encode()
    response = requests.post(sandbox.url, data=body, auth=ALICE, timeout=10, headers={"Content-Type": "text/xml"})
    assert b"<m:ResponseCode>ErrorInvalidPropertyRequest</m:ResponseCode>" in response.content
    assert not [i for i in views.items(store, ALICE[0], ("Contacts",)) if f"photo-{unique}" in str(i)]


# -- folder-names --------------------------------------------------------------------------------------


def test_folder_names_kept_as_given_and_compared_per_character(alice, unique):
    """Ledger: folder-names. No trimming; case-insensitive per character, so 'ß' is not 'ss'."""
    parent = Folder(parent=alice.msg_folder_root, name=f"names-{unique}")
    parent.save()
    for name in (" padded ", "Straße", "Strasse"):
        Folder(parent=parent, name=name).save()
    with pytest.raises(ErrorFolderExists):
        Folder(parent=parent, name="STRAßE").save()
    with pytest.raises(ErrorFolderExists):
        Folder(parent=parent, name=" PADDED ").save()
    assert sorted(f.name for f in parent.children) == sorted([" padded ", "Straße", "Strasse"])


# -- occurrence-span -----------------------------------------------------------------------------------


def test_occurrence_longer_than_the_gap_or_overlapping_is_refused(alice, unique):
    """Ledger: occurrence-span. A daily series' occurrence may not last 24 hours or reach into the next."""
    start = EWSDateTime(2024, 2, 5, 9, tzinfo=UTC)
    item = CalendarItem(
        folder=alice.calendar,
        subject=f"daily-{unique}",
        start=start,
        end=start + dt.timedelta(hours=1),
        recurrence=Recurrence(
            pattern=DailyPattern(interval=1), boundary=NumberedPattern(start=dt.date(2024, 2, 5), number=5)
        ),
    )
    [result] = alice.bulk_create(alice.calendar, [item])
    master = CalendarItem(account=alice, folder=alice.calendar, id=result.id).refresh()
    second = master.occurrence(2).refresh()
    second.start = EWSDateTime(2024, 2, 6, 8, tzinfo=UTC)
    second.end = EWSDateTime(2024, 2, 7, 9, 30, tzinfo=UTC)  # into occurrence 3 (Feb 7, 09:00)
    with pytest.raises(ErrorOccurrenceTimeSpanTooBig):
        second.save(
            update_fields=["start", "end"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE
        )
    second.end = EWSDateTime(2024, 2, 6, 12, tzinfo=UTC)
    second.save(
        update_fields=["start", "end"], conflict_resolution=ALWAYS_OVERWRITE, send_meeting_invitations=SEND_TO_NONE
    )
    assert master.refresh().modified_occurrences[0].start == EWSDateTime(2024, 2, 6, 8, tzinfo=UTC)


def test_fault_settings_from_the_cli(tmp_path, capsys):
    """search_lag_s and max_concurrency through `rebuild sandbox faults --set`, into a fresh data folder; a
    negative value is bad input (exit 2, one line)."""
    import json

    from pipeline.cli.main import main

    state = str(tmp_path / "state")
    assert (
        main(
            [
                "sandbox",
                "faults",
                "--state",
                state,
                "--set",
                '{"search_lag_s": 2, "max_concurrency": 5, "rules": [{"kind": "http_401_throttle"}]}',
            ]
        )
        == 0
    )
    written = json.loads((tmp_path / "state" / "sandbox" / "faults.json").read_text())
    assert (written["search_lag_s"], written["max_concurrency"]) == (2, 5)
    capsys.readouterr()
    assert main(["sandbox", "faults", "--state", state, "--set", '{"search_lag_s": -1}']) == 2
    assert "must not be negative" in capsys.readouterr().err
