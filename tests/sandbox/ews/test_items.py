"""Items through exchangelib: MIME and typed creates with extended properties, find, fetch, paging, limits.

Checks both what exchangelib reads back and what the sandbox stored (views.items), so neither side can
agree with itself by accident.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from exchangelib import (
    CalendarItem,
    Contact,
    DistributionList,
    EWSDateTime,
    EWSTimeZone,
    Folder,
    Mailbox,
    Message,
    Task,
)
from exchangelib.errors import ErrorItemNotFound, ErrorMessageSizeExceeded
from exchangelib.indexed_properties import EmailAddress
from exchangelib.properties import Member

from pipeline.sandbox import embedded, views
from pipeline.sandbox.limits import Limits
from tests.sandbox.helpers import ALICE, CUSTOM_GUID, connect, mime_message, populate

ALICE_ADDR = ALICE[0]
TAG_KEY = "tag:0x0e07"
NAME_KEY = f"name:{CUSTOM_GUID}:SourceKey"
ID_KEY = f"id:{CUSTOM_GUID}:0x8001"
COMMON_KEY = "id:00062008-0000-0000-c000-000000000046:0x8503"


def _folder(account, name):
    folder = Folder(parent=account.inbox, name=name, folder_class="IPF.Note")
    folder.save()
    return folder


def test_mime_items_with_extended_properties_round_trip(alice, store, unique):
    folder = _folder(alice, f"mime-{unique}")
    payload = b"\x00\x01binary attachment\xff" * 50
    mimes = [mime_message(f"msg-{unique}-{i}", 2000, attachment=payload if i == 0 else None, index=i) for i in range(5)]
    items = [
        Message(
            folder=folder,
            mime_content=m,
            is_read=True,
            sbx_flags=1,
            sbx_source_key=f"{unique}-{i}",
            sbx_serial=i,
            sbx_reminder_set=False,
            sbx_keywords=["Red", f"k{i}"],
        )
        for i, m in enumerate(mimes)
    ]
    results = alice.bulk_create(folder=folder, items=items)
    assert len(results) == 5 and all(not isinstance(r, Exception) for r in results)

    fetched = list(
        alice.fetch(
            ids=results,
            only_fields=[
                "mime_content",
                "subject",
                "sbx_source_key",
                "sbx_serial",
                "sbx_flags",
                "sbx_reminder_set",
                "sbx_keywords",
                "is_draft",
                "is_read",
                "datetime_sent",
                "sender",
                "to_recipients",
                "cc_recipients",
                "has_attachments",
                "attachments",
            ],
        )
    )
    for i, item in enumerate(fetched):
        assert item.mime_content == mimes[i]
        assert item.subject == f"msg-{unique}-{i}"
        assert (item.sbx_source_key, item.sbx_serial, item.sbx_reminder_set) == (f"{unique}-{i}", i, False)
        assert item.is_draft is False and item.is_read is True
        assert item.sbx_flags & 0x1 and not item.sbx_flags & 0x8
        assert item.sender.email_address == "bob@example.com"
        assert [m.email_address for m in item.to_recipients] == [ALICE_ADDR]
        assert [m.email_address for m in item.cc_recipients] == ["carol@example.com"]
        assert item.datetime_sent == EWSDateTime(2022, 1, 3, 9, i % 60, tzinfo=EWSTimeZone("UTC"))
    assert fetched[0].has_attachments and fetched[0].attachments[0].name == "data.bin"

    stored = {s["subject"]: s for s in views.items(store, ALICE_ADDR, ("Inbox", f"mime-{unique}"))}
    first = stored[f"msg-{unique}-0"]
    assert first["mime"] == mimes[0]
    assert first["item_class"] == "IPM.Note"
    assert first["extended_properties"][TAG_KEY] == 1
    assert first["extended_properties"][NAME_KEY] == f"{unique}-0"
    assert first["extended_properties"][ID_KEY] == 0
    assert first["extended_properties"][COMMON_KEY] is False
    assert first["extended_properties"]["name:00020329-0000-0000-c000-000000000046:Keywords"] == ["Red", "k0"]
    assert [m.sbx_keywords for m in fetched] == [["Red", f"k{i}"] for i in range(5)]
    assert first["attachments"] == [("data.bin", hashlib.sha256(payload).hexdigest())]
    assert first["datetime_sent"] == "2022-01-03T09:00:00Z"


@pytest.mark.parametrize(
    "flags, is_read, draft, read",
    [
        (None, None, True, False),  # no PR_MESSAGE_FLAGS: a draft; exchangelib always sends IsRead (false)
        (None, True, True, True),
        (1, True, False, True),  # MSGFLAG_READ only: sent and read
        (0, False, False, False),  # no flags: sent and unread
        (8, True, True, True),  # MSGFLAG_UNSENT: still a draft
    ],
)
def test_draft_and_read_state_from_message_flags(alice, store, unique, flags, is_read, draft, read):
    """Ledger: draft-flags."""
    folder = _folder(alice, f"flags-{unique}")
    kwargs = {"sbx_flags": flags} if flags is not None else {}
    if is_read is not None:
        kwargs["is_read"] = is_read
    item = Message(folder=folder, mime_content=mime_message(f"flags-{unique}"), **kwargs)
    alice.bulk_create(folder=folder, items=[item])
    got = list(folder.all().only("is_draft", "is_read", "sbx_flags"))[0]
    assert (got.is_draft, got.is_read) == (draft, read)
    stored = views.items(store, ALICE_ADDR, ("Inbox", f"flags-{unique}"))[0]
    assert (stored["is_draft"], stored["is_read"]) == (draft, read)
    assert bool(got.sbx_flags & 0x8) == draft


def test_typed_items_with_extended_properties(alice, store, unique):
    tz = EWSTimeZone("Europe/Paris")
    calendar = CalendarItem(
        folder=alice.calendar,
        subject=f"meet-{unique}",
        location="Room 1",
        start=EWSDateTime(2022, 3, 1, 10, tzinfo=tz),
        end=EWSDateTime(2022, 3, 1, 11, tzinfo=tz),
        sbx_source_key=f"cal-{unique}",
    )
    contact = Contact(
        folder=alice.contacts,
        display_name=f"Ann {unique}",
        given_name="Ann",
        surname="Lee",
        email_addresses=[EmailAddress(email="ann@example.com", label="EmailAddress1")],
        sbx_source_key=f"con-{unique}",
    )
    group = DistributionList(
        folder=alice.contacts,
        display_name=f"Team {unique}",
        sbx_source_key=f"dl-{unique}",
        members=[Member(mailbox=Mailbox(email_address="ann@example.com", mailbox_type="OneOff"))],
    )
    task = Task(
        folder=alice.tasks,
        subject=f"task-{unique}",
        status="InProgress",
        percent_complete=Decimal(50),
        sbx_source_key=f"task-{unique}",
    )
    assert not any(isinstance(r, Exception) for r in alice.bulk_create(folder=alice.calendar, items=[calendar]))
    assert not any(isinstance(r, Exception) for r in alice.bulk_create(folder=alice.contacts, items=[contact, group]))
    assert not any(isinstance(r, Exception) for r in alice.bulk_create(folder=alice.tasks, items=[task]))

    got_cal = alice.calendar.get(sbx_source_key=f"cal-{unique}")
    assert (got_cal.subject, got_cal.location, got_cal.start) == (f"meet-{unique}", "Room 1", calendar.start)
    assert got_cal.is_draft is False and got_cal.item_class == "IPM.Appointment"
    got_contact = alice.contacts.get(sbx_source_key=f"con-{unique}")
    assert (got_contact.given_name, got_contact.surname) == ("Ann", "Lee")
    assert got_contact.email_addresses[0].email == "ann@example.com"
    got_group = alice.contacts.get(sbx_source_key=f"dl-{unique}")
    assert isinstance(got_group, DistributionList) and got_group.display_name == f"Team {unique}"
    got_task = alice.tasks.get(sbx_source_key=f"task-{unique}")
    assert (got_task.subject, got_task.status, got_task.percent_complete) == (
        f"task-{unique}",
        "InProgress",
        50,
    )
    classes = {s["extended_properties"].get(NAME_KEY): s["item_class"] for s in views.items(store, ALICE_ADDR)}
    assert classes[f"cal-{unique}"] == "IPM.Appointment"
    assert classes[f"con-{unique}"] == "IPM.Contact"
    assert classes[f"dl-{unique}"] == "IPM.DistList"
    assert classes[f"task-{unique}"] == "IPM.Task"


def test_find_by_extended_property_with_paging_over_1000(alice, unique):
    folder = _folder(alice, f"many-{unique}")
    small = b"From: a@example.com\r\nSubject: s\r\n\r\nx\r\n"
    batch = [
        Message(
            folder=folder,
            mime_content=small,
            sbx_batch="big",
            sbx_serial=i,
            sbx_source_key=f"{unique}-{i:05d}",
        )
        for i in range(1100)
    ]
    batch += [Message(folder=folder, mime_content=small, sbx_batch="other", sbx_serial=-1) for _ in range(5)]
    results = alice.bulk_create(folder=folder, items=batch, chunk_size=250)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1105

    query = folder.filter(sbx_batch="big").only("sbx_source_key")
    query.page_size = 1000
    keys = [m.sbx_source_key for m in query]
    assert len(keys) == 1100 and len(set(keys)) == 1100
    assert folder.filter(sbx_batch="other").count() == 5
    ordered = list(folder.filter(sbx_batch="big").order_by("-sbx_serial").values_list("sbx_serial", flat=True)[:3])
    assert ordered == [1099, 1098, 1097]
    assert folder.filter(sbx_serial__gte=1095).count() == 5
    assert folder.filter(sbx_source_key=f"{unique}-00042").get().sbx_source_key == f"{unique}-00042"
    # exists-restriction and combinations
    assert folder.filter(sbx_source_key__exists=False).count() == 5
    from exchangelib import Q

    assert folder.filter(Q(sbx_serial=1) | Q(sbx_serial=2)).count() == 2


def test_find_page_is_capped_at_1000(sandbox, alice, unique):
    """Ledger: sizes."""
    import re

    import requests

    folder = _folder(alice, f"cap-{unique}")
    small = b"Subject: s\r\n\r\nx\r\n"
    alice.bulk_create(
        folder=folder, items=[Message(folder=folder, mime_content=small) for _ in range(1005)], chunk_size=500
    )
    query = folder.all().only("subject")
    query.page_size = 2000
    assert len(list(query)) == 1005  # exchangelib follows IndexedPagingOffset to the second page
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
<s:Body><m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>
<m:IndexedPageItemView MaxEntriesReturned="2000" Offset="0" BasePoint="Beginning"/>
<m:ParentFolderIds><t:FolderId Id="{folder.id}"/></m:ParentFolderIds></m:FindItem></s:Body></s:Envelope>"""
    answer = requests.post(
        sandbox.url,
        data=body.encode(),
        auth=ALICE,
        timeout=30,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    ).text
    assert answer.count("<t:ItemId ") == 1000
    assert re.search(r'IndexedPagingOffset="1000" TotalItemsInView="1005" IncludesLastItemInRange="false"', answer)


def test_delete_and_update(alice, store, unique):
    folder = _folder(alice, f"del-{unique}")
    results = alice.bulk_create(
        folder=folder,
        items=[Message(folder=folder, mime_content=mime_message(f"d{i}-{unique}"), is_read=False) for i in range(4)],
    )
    items = list(folder.all().only("is_read", "subject"))
    for item in items:
        item.is_read = True
    alice.bulk_update(items=[(i, ["is_read"]) for i in items])
    assert all(m.is_read for m in folder.all().only("is_read"))
    alice.bulk_delete(ids=results[:2])
    assert folder.all().count() == 2
    gone = list(alice.fetch(ids=results[:1]))
    assert isinstance(gone[0], ErrorItemNotFound)
    alice.bulk_delete(ids=results[2:3], delete_type="MoveToDeletedItems")
    assert folder.all().count() == 1
    assert any(s["subject"] == f"d2-{unique}" for s in views.items(store, ALICE_ADDR, ("Deleted Items",)))


def test_item_size_limit_fails_only_that_item(tmp_path):
    """Ledger: sizes."""
    populate(tmp_path)
    with embedded.start(tmp_path, in_process=True, limits=Limits(max_item_bytes=50_000)) as handle:
        account = connect(handle.url, ALICE)
        items = [
            Message(folder=account.inbox, mime_content=mime_message("small-1")),
            Message(folder=account.inbox, mime_content=mime_message("big", 60_000)),
            Message(folder=account.inbox, mime_content=mime_message("small-2")),
        ]
        results = account.bulk_create(folder=account.inbox, items=items)
        assert isinstance(results[1], ErrorMessageSizeExceeded)
        assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception)
        assert account.inbox.all().count() == 2


def test_attachments_on_typed_items_and_mime(alice, store, unique):
    from exchangelib import FileAttachment, ItemAttachment

    payload = bytes(range(256)) * 40
    inner = mime_message(f"inner-{unique}")
    event = CalendarItem(
        folder=alice.calendar,
        subject=f"att-{unique}",
        sbx_source_key=f"att-{unique}",
        start=EWSDateTime(2022, 5, 1, 8, tzinfo=EWSTimeZone("UTC")),
        end=EWSDateTime(2022, 5, 1, 9, tzinfo=EWSTimeZone("UTC")),
    )
    event.attach(FileAttachment(name="agenda.pdf", content=payload, content_type="application/pdf"))
    event.attach(ItemAttachment(name="forwarded", item=Message(mime_content=inner)))
    result = alice.bulk_create(folder=alice.calendar, items=[event])[0]
    assert len(result.attachments) == 2
    got = alice.calendar.get(sbx_source_key=f"att-{unique}")
    assert got.has_attachments
    files = {a.name: a for a in got.attachments}
    assert files["agenda.pdf"].content == payload
    assert files["forwarded"].item.mime_content == inner
    stored = next(s for s in views.items(store, ALICE_ADDR) if s["subject"] == f"att-{unique}")
    assert stored["attachments"] == [
        ("agenda.pdf", hashlib.sha256(payload).hexdigest()),
        ("forwarded", hashlib.sha256(inner).hexdigest()),
    ]
    # an attachment that lives in MIME is cut from it on demand
    folder = _folder(alice, f"matt-{unique}")
    alice.bulk_create(
        folder=folder,
        items=[Message(folder=folder, mime_content=mime_message(f"m-{unique}", attachment=payload))],
    )
    message = list(folder.all())[0]
    assert message.attachments[0].name == "data.bin" and message.attachments[0].content == payload
