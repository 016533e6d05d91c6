"""The EWS face as Exchange for clients nobody here wrote (issue 26): what DavMail and other EWS clients rely
on, asked with plain HTTP (SOAP written in the test) or plain exchangelib, judged by what Microsoft documents.

Each test names its ledger line (`Ledger: <id>`, pipeline/sandbox/README.md) and Microsoft's page.
"""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
import requests
from exchangelib import (
    CalendarItem,
    DistributionList,
    EWSDateTime,
    EWSTimeZone,
    FileAttachment,
    Folder,
    Message,
)
from exchangelib.errors import ErrorItemNotFound, ErrorMoveDistinguishedFolder
from exchangelib.properties import Mailbox, Member
from exchangelib.recurrence import DailyPattern, NumberedPattern, Recurrence
from lxml import etree

from tests.sandbox.helpers import ALICE, BOB

M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
APPOINTMENT = "00062002-0000-0000-C000-000000000046"


def soap(url: str, body: str, auth: tuple[str, str] = ALICE, version: str = "Exchange2016") -> etree._Element:
    """One request as a client writes it by hand; the parsed SOAP body of the answer."""
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Header>'
        f'<t:RequestServerVersion Version="{version}"/></s:Header><s:Body>{body}</s:Body></s:Envelope>'
    )
    answer = requests.post(url, data=envelope.encode(), auth=auth, timeout=20, headers={"Content-Type": "text/xml"})
    assert answer.status_code == 200, answer.text[:500]
    return etree.fromstring(answer.content).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")


def codes(body: etree._Element) -> list[str]:
    return [e.text or "" for e in body.iter(f"{M}ResponseCode")]


def tag(hex_tag: str, ptype: str) -> str:
    return f'<t:ExtendedFieldURI PropertyTag="{hex_tag}" PropertyType="{ptype}"/>'


def ext_values(elem: etree._Element) -> dict[str, str]:
    """PropertyTag (or PropertyId) -> value of the ExtendedProperty children of one folder or item."""
    out = {}
    for prop in elem.findall(f"{T}ExtendedProperty"):
        uri = prop.find(f"{T}ExtendedFieldURI")
        out[(uri.get("PropertyTag") or uri.get("PropertyId") or "").lower()] = prop.findtext(f"{T}Value") or ""
    return out


def folder_id_of(account, name: str, unique: str):
    folder = Folder(parent=account.inbox, name=f"{name} {unique}")
    folder.save()
    return folder


# -- ConvertId -------------------------------------------------------------------------------------


def test_convert_id_checks_only_the_mailbox_address_format(sandbox, alice):
    """Ledger: convertid-format. "The ConvertId operation validates that a given SMTP address has a valid
    format. The operation does not determine whether the SMTP address represents a valid mailbox."
    (learn.microsoft.com/exchange/client-developer/web-service-reference/convertid-operation). DavMail sends
    its root folder's id with a placeholder address and reads its own address from the answer."""
    root = alice.root.id
    body = soap(
        sandbox.url,
        '<m:ConvertId DestinationFormat="EwsId"><m:SourceIds>'
        f'<t:AlternateId Format="EwsId" Id="{root}" Mailbox="nobody@placeholder.invalid"/>'
        f'<t:AlternateId Format="EwsId" Id="{root}" Mailbox="not an address"/>'
        "</m:SourceIds></m:ConvertId>",
    )
    assert codes(body) == ["NoError", "ErrorInvalidSmtpAddress"]
    converted = body.find(f".//{M}AlternateId")
    assert converted.get("Mailbox") == ALICE[0] and converted.get("Id") == root

    hexed = soap(
        sandbox.url,
        '<m:ConvertId DestinationFormat="HexEntryId"><m:SourceIds>'
        f'<t:AlternateId Format="EwsId" Id="{root}" Mailbox="{ALICE[0]}"/></m:SourceIds></m:ConvertId>',
    )
    entry = hexed.find(f".//{M}AlternateId").get("Id")
    assert len(bytes.fromhex(entry)) == 46  # a folder entry id (MS-OXCDATA 2.2.4.1)
    back = soap(
        sandbox.url,
        '<m:ConvertId DestinationFormat="EwsId"><m:SourceIds>'
        f'<t:AlternateId Format="HexEntryId" Id="{entry}" Mailbox="{ALICE[0]}"/></m:SourceIds></m:ConvertId>',
    )
    assert back.find(f".//{M}AlternateId").get("Id") == root
    short = base64.b64encode(b"SBXF" + (1).to_bytes(4, "big") + (1).to_bytes(8, "big")).decode()  # an old id
    renewed = soap(
        sandbox.url,
        '<m:ConvertId DestinationFormat="EwsId"><m:SourceIds>'
        f'<t:AlternateId Format="EwsId" Id="{short}" Mailbox="{ALICE[0]}"/>'
        '<t:AlternateId Format="EwsId" Id="DUMMY" Mailbox="a@b.example"/></m:SourceIds></m:ConvertId>',
    )
    assert codes(renewed) == ["NoError", "ErrorInvalidIdMalformed"]
    assert len(renewed.find(f".//{M}AlternateId").get("Id")) == 120


# -- ids -------------------------------------------------------------------------------------------


def test_ids_have_exchanges_length_and_layout(alice, unique):
    """Ledger: ews-ids. Exchange's EwsId: base64 of a moniker (the mailbox GUID) and a store entry id; item
    ids about 152 characters, folder ids about 120, both starting "AAMkA", at most 512 bytes decoded
    (MS-OXWSCDATA 2.2.4.35; the layout reverse-engineered in gist.github.com/poizan42/ccbdce8f667a6386783e78d1ae1d09b7)."""
    folder = folder_id_of(alice, "ids", unique)
    item = Message(folder=folder, subject=f"ids {unique}")
    item.save()
    assert len(item.id) == 152 and len(folder.id) == 120
    assert item.id.startswith("AAMkA") and folder.id.startswith("AAMkA")
    assert base64.b64decode(item.id)[4:40].decode("ascii").count("-") == 4  # the mailbox GUID as text
    again = alice.fetch(ids=[(item.id, item.changekey)])
    assert [m.subject for m in again] == [f"ids {unique}"]


# -- computed properties ---------------------------------------------------------------------------


FOLDER_PROPS = (
    tag("0x3602", "Integer")
    + tag("0x3603", "Integer")
    + tag("0x360A", "Boolean")
    + tag("0x3008", "SystemTime")
    + tag("0x670A", "SystemTime")
    + tag("0x6751", "Integer")
    + tag("0x6752", "Integer")
)
ITEM_PROPS = (
    tag("0x0E23", "Integer")
    + tag("0x0FF9", "Binary")
    + tag("0x3007", "SystemTime")
    + tag("0x3008", "SystemTime")
    + tag("0x001A", "String")
)


def _get_folder(url: str, folder_id: str) -> etree._Element:
    body = soap(
        url,
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        f"{FOLDER_PROPS}</t:AdditionalProperties></m:FolderShape><m:FolderIds>"
        f'<t:FolderId Id="{folder_id}"/></m:FolderIds></m:GetFolder>',
    )
    assert codes(body) == ["NoError"]
    return body.find(f".//{M}Folders")[0]


def _find_items(url: str, folder_id: str, restriction: str = "", order: str = "Ascending") -> list[etree._Element]:
    body = soap(
        url,
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
        f"<t:AdditionalProperties>{ITEM_PROPS}</t:AdditionalProperties></m:ItemShape>"
        f'{restriction}<m:SortOrder><t:FieldOrder Order="{order}">{tag("0x0E23", "Integer")}'
        "</t:FieldOrder></m:SortOrder>"
        f'<m:ParentFolderIds><t:FolderId Id="{folder_id}"/></m:ParentFolderIds></m:FindItem>',
    )
    assert codes(body) == ["NoError"]
    return list(body.find(f".//{T}Items"))


def test_folder_properties_exchange_computes(sandbox, alice, unique):
    """Ledger: folder-computed. PR_CONTENT_COUNT 0x3602, PR_CONTENT_UNREAD 0x3603, PR_SUBFOLDERS 0x360A,
    PR_LAST_MODIFICATION_TIME 0x3008, PR_LOCAL_COMMIT_TIME_MAX 0x670A, PR_ARTICLE_NUM_NEXT 0x6751 and
    PR_IMAP_LAST_ARTICLE_ID 0x6752 ([MS-OXCFOLD] 2.2.2.2.1; MS-OXPROPS), read as DavMail reads them."""
    folder = folder_id_of(alice, "computed", unique)
    Folder(parent=folder, name="child").save()
    empty = ext_values(_get_folder(sandbox.url, folder.id))
    assert (empty["0x3602"], empty["0x3603"], empty["0x360a"]) == ("0", "0", "true")
    for n in range(3):
        Message(folder=folder, subject=f"c{n}", is_read=n == 0).save()
    time.sleep(1.1)  # the commit time has a resolution of one second on the wire
    Message(folder=folder, subject="c3", is_read=True).save()
    values = ext_values(_get_folder(sandbox.url, folder.id))
    assert (values["0x3602"], values["0x3603"]) == ("4", "2")
    assert values["0x670a"] > empty["0x670a"] and values["0x3008"] == values["0x670a"]
    uids = [int(ext_values(i)["0x0e23"]) for i in _find_items(sandbox.url, folder.id)]
    assert int(values["0x6752"]) == max(uids) and int(values["0x6751"]) > max(uids)


def test_message_properties_exchange_computes_and_sorting_on_the_imap_uid(sandbox, alice, unique):
    """Ledger: item-computed. PR_INTERNET_ARTICLE_NUMBER 0x0E23 ("In IMAPI message stores, this property
    corresponds to the IMAPI UID", learn.microsoft.com/office/client-developer/outlook/mapi/
    pidtaginternetarticlenumber-canonical-property): unique, increasing in a folder as items arrive, never
    reused; PR_RECORD_KEY 0x0FF9 unique per item; PR_CREATION_TIME/PR_LAST_MODIFICATION_TIME; a SortOrder on
    0x0E23 is honoured."""
    folder = folder_id_of(alice, "uids", unique)
    saved = [Message(folder=folder, subject=f"u{n}") for n in range(3)]
    for message in saved:
        message.save()
    found = _find_items(sandbox.url, folder.id)
    values = [ext_values(i) for i in found]
    uids = [int(v["0x0e23"]) for v in values]
    assert uids == sorted(uids) and len(set(uids)) == 3
    assert [i.find(f"{T}ItemId").get("Id") for i in found] == [m.id for m in saved]
    assert len({v["0x0ff9"] for v in values}) == 3
    assert all(v["0x3007"].endswith("Z") and v["0x3008"] >= v["0x3007"] for v in values)
    descending = [int(ext_values(i)["0x0e23"]) for i in _find_items(sandbox.url, folder.id, order="Descending")]
    assert descending == sorted(uids, reverse=True)
    saved[-1].delete()  # the newest goes: the next item still gets a higher number, never the freed one
    newest = Message(folder=folder, subject="u3")
    newest.save()
    assert int(ext_values(_find_items(sandbox.url, folder.id)[-1])["0x0e23"]) > max(uids)


# -- restrictions on computed properties -------------------------------------------------------------


def _restriction(inner: str) -> str:
    return f"<m:Restriction>{inner}</m:Restriction>"


def test_find_item_filters_on_message_class_and_is_recurring(sandbox, alice, unique):
    """Ledger: restriction-computed. A restriction on PR_MESSAGE_CLASS (0x001A) and on PidLidRecurring
    (0x8223, PSETID_Appointment, [MS-OXOCAL] 2.2.1.12) filters for real, as Exchange's restrictions on any
    property do (learn.microsoft.com/exchange/client-developer/exchange-web-services/
    how-to-use-search-filters-with-ews-in-exchange)."""
    folder = folder_id_of(alice, "classes", unique)
    Message(folder=folder, subject="note").save()
    created = soap(
        sandbox.url,
        '<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
        f'<t:FolderId Id="{folder.id}"/></m:SavedItemFolderId><m:Items><t:Message>'
        "<t:ItemClass>IPM.Note.Custom</t:ItemClass><t:Subject>custom</t:Subject></t:Message>"
        "</m:Items></m:CreateItem>",
    )
    assert codes(created) == ["NoError"]
    by_class = _find_items(
        sandbox.url,
        folder.id,
        _restriction(
            f'<t:IsEqualTo>{tag("0x001A", "String")}<t:FieldURIOrConstant><t:Constant Value="ipm.note"/>'
            "</t:FieldURIOrConstant></t:IsEqualTo>"
        ),
    )
    assert [ext_values(i)["0x001a"] for i in by_class] == ["IPM.Note"]

    tz = EWSTimeZone("UTC")
    start = EWSDateTime(2031, 3, 3, 9, tzinfo=tz)
    calendar = alice.calendar

    recurring = CalendarItem(
        folder=calendar,
        subject=f"series {unique}",
        start=start,
        end=start + dt.timedelta(hours=1),
        recurrence=Recurrence(pattern=DailyPattern(interval=1), boundary=NumberedPattern(start=start.date(), number=3)),
    )
    single = CalendarItem(folder=calendar, subject=f"single {unique}", start=start, end=start + dt.timedelta(hours=1))
    recurring.save()
    single.save()
    is_recurring = (
        '<t:ExtendedFieldURI DistinguishedPropertySetId="Appointment" PropertyId="33315" PropertyType="Boolean"/>'
    )
    body = soap(
        sandbox.url,
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
        "</m:ItemShape>"
        + _restriction(
            f'<t:And><t:IsEqualTo>{is_recurring}<t:FieldURIOrConstant><t:Constant Value="true"/>'
            '</t:FieldURIOrConstant></t:IsEqualTo><t:Contains ContainmentMode="Substring" '
            'ContainmentComparison="IgnoreCase"><t:FieldURI FieldURI="item:Subject"/>'
            f'<t:Constant Value="{unique}"/></t:Contains></t:And>'
        )
        + '<m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>',
    )
    assert [i.find(f"{T}ItemId").get("Id") for i in body.find(f".//{T}Items")] == [recurring.id]


def test_find_folder_restriction_on_extended_properties(sandbox, alice, unique):
    """Ledger: folder-restriction-ext. FindFolder takes a Restriction on any property, extended ones
    included (learn.microsoft.com/exchange/client-developer/web-service-reference/findfolder-operation)."""
    parent = folder_id_of(alice, "ff", unique)
    full = Folder(parent=parent, name="full")
    full.save()
    Folder(parent=parent, name="empty").save()
    Message(folder=full, subject="x").save()
    body = soap(
        sandbox.url,
        '<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape>'
        "</m:FolderShape>"
        + _restriction(
            f'<t:IsGreaterThan>{tag("0x3602", "Integer")}<t:FieldURIOrConstant><t:Constant Value="0"/>'
            "</t:FieldURIOrConstant></t:IsGreaterThan>"
        )
        + f'<m:ParentFolderIds><t:FolderId Id="{parent.id}"/></m:ParentFolderIds></m:FindFolder>',
    )
    assert codes(body) == ["NoError"]
    assert [f.findtext(f"{T}DisplayName") for f in body.find(f".//{T}Folders")] == ["full"]


# -- operations ------------------------------------------------------------------------------------


def test_move_and_copy_item_give_new_ids(sandbox, alice, unique):
    """Ledger: move-copy-item. MoveItem/CopyItem answer the item's new id in the destination
    (learn.microsoft.com/exchange/client-developer/web-service-reference/moveitem-operation, copyitem-operation);
    the moved item is gone from its source; an occurrence cannot be moved (ErrorCalendarCannotMoveOrCopyOccurrence)."""
    source = folder_id_of(alice, "from", unique)
    target = folder_id_of(alice, "to", unique)
    moved = Message(folder=source, subject="moved")
    copied = Message(folder=source, subject="copied")
    moved.save()
    copied.save()
    old_id = moved.id
    moved.move(target)  # exchangelib takes the new id from the answer
    copy_id = copied.copy(target)
    assert moved.id != old_id and len(moved.id) == 152 and copy_id[0] != copied.id
    assert sorted(m.subject for m in target.all()) == ["copied", "moved"]
    assert [m.subject for m in source.all()] == ["copied"]
    gone = list(alice.fetch(ids=[(old_id, None)]))
    assert isinstance(gone[0], ErrorItemNotFound)


def test_update_and_move_folder(sandbox, alice, unique):
    """Ledger: update-move-folder. UpdateFolder renames (ErrorFolderExists on a sibling's name), MoveFolder
    moves under another parent and keeps the id; a distinguished folder cannot move
    (learn.microsoft.com/exchange/client-developer/web-service-reference/updatefolder-operation,
    movefolder-operation; ErrorMoveDistinguishedFolder in MS-OXWSCDATA ResponseCodeType)."""
    parent = folder_id_of(alice, "uf", unique)
    folder = Folder(parent=parent, name="before")
    folder.save()
    Folder(parent=parent, name="taken").save()
    folder.name = "after"
    folder.save(update_fields=["name"])
    assert sorted(f.name for f in parent.children) == ["after", "taken"]
    other = folder_id_of(alice, "uf2", unique)
    old_id = folder.id
    folder.move(other)
    assert [f.id for f in other.children] == [old_id]
    body = soap(
        sandbox.url,
        f'<m:MoveFolder><m:ToFolderId><t:FolderId Id="{other.id}"/></m:ToFolderId>'
        '<m:FolderIds><t:DistinguishedFolderId Id="drafts"/></m:FolderIds></m:MoveFolder>',
    )
    assert codes(body) == ["ErrorMoveDistinguishedFolder"]
    with pytest.raises(ErrorMoveDistinguishedFolder):
        alice.drafts.move(other)
    rename = soap(
        sandbox.url,
        "<m:UpdateFolder><m:FolderChanges><t:FolderChange>"
        f'<t:FolderId Id="{other.id}"/><t:Updates><t:SetFolderField>'
        '<t:FieldURI FieldURI="folder:DisplayName"/>'
        f"<t:Folder><t:DisplayName>uf {unique}</t:DisplayName></t:Folder></t:SetFolderField></t:Updates>"
        "</t:FolderChange></m:FolderChanges></m:UpdateFolder>",
    )
    assert codes(rename) == ["ErrorFolderExists"]


def test_create_and_delete_attachment(sandbox, alice, unique):
    """Ledger: attachment-changes. CreateAttachment adds to an existing item and answers the attachment id
    with the root item's new ChangeKey; DeleteAttachment removes it; HasAttachments follows
    (learn.microsoft.com/exchange/client-developer/web-service-reference/createattachment-operation,
    deleteattachment-operation)."""
    folder = folder_id_of(alice, "att", unique)
    message = Message(folder=folder, subject="with")
    message.save()
    message.attach([FileAttachment(name="a.txt", content=b"alpha"), FileAttachment(name="b.txt", content=b"bravo")])
    fresh = alice.fetch(ids=[(message.id, None)]).__next__()
    assert fresh.has_attachments and sorted(a.name for a in fresh.attachments) == ["a.txt", "b.txt"]
    fresh.detach([a for a in fresh.attachments if a.name == "a.txt"])
    fresh = alice.fetch(ids=[(message.id, None)]).__next__()
    assert [a.name for a in fresh.attachments] == ["b.txt"]
    assert fresh.attachments[0].content == b"bravo"  # its id still names it after the other went
    fresh.detach(fresh.attachments)
    assert not next(alice.fetch(ids=[(message.id, None)])).has_attachments


def test_get_user_availability(sandbox, alice, unique):
    """Ledger: availability. GetUserAvailability answers each mailbox's busy times in the requested zone,
    series expanded; an address without a mailbox is ErrorMailRecipientNotFound
    (learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation)."""
    tz = EWSTimeZone("Europe/Berlin")
    start = EWSDateTime(2032, 5, 10, 9, tzinfo=tz)
    CalendarItem(
        folder=alice.calendar,
        subject=f"busy {unique}",
        start=start,
        end=start + dt.timedelta(hours=1),
        recurrence=Recurrence(pattern=DailyPattern(interval=1), boundary=NumberedPattern(start=start.date(), number=2)),
    ).save()
    CalendarItem(
        folder=alice.calendar,
        subject=f"free {unique}",
        start=start + dt.timedelta(hours=3),
        end=start + dt.timedelta(hours=4),
        legacy_free_busy_status="Free",
    ).save()
    # Central European time as a SerializableTimeZone: UTC = local - 60 min, daylight (-60 more) from the
    # last Sunday of March 02:00 to the last Sunday of October 03:00.
    zone = (
        "<t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time>"
        "<t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>"
        "<t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder>"
        "<t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>"
    )
    mailbox = (
        "<t:MailboxData><t:Email><t:Address>{}</t:Address></t:Email><t:AttendeeType>Required"
        "</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"
    )
    body = soap(
        sandbox.url,
        f"<m:GetUserAvailabilityRequest>{zone}<m:MailboxDataArray>{mailbox.format(ALICE[0])}"
        f"{mailbox.format('nobody@sandbox.local')}</m:MailboxDataArray><t:FreeBusyViewOptions>"
        "<t:TimeWindow><t:StartTime>2032-05-10T00:00:00</t:StartTime><t:EndTime>2032-05-12T00:00:00"
        "</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes>"
        "<t:RequestedView>DetailedMerged</t:RequestedView></t:FreeBusyViewOptions>"
        "</m:GetUserAvailabilityRequest>",
    )
    assert codes(body) == ["NoError", "ErrorMailRecipientNotFound"]
    view = body.find(f".//{M}FreeBusyView")
    events = [
        (e.findtext(f"{T}StartTime"), e.findtext(f"{T}EndTime"), e.findtext(f"{T}BusyType"))
        for e in view.iter(f"{T}CalendarEvent")
        if unique in (e.findtext(f".//{T}Subject") or "")
    ]
    assert events == [
        ("2032-05-10T09:00:00", "2032-05-10T10:00:00", "Busy"),
        ("2032-05-10T12:00:00", "2032-05-10T13:00:00", "Free"),
        ("2032-05-11T09:00:00", "2032-05-11T10:00:00", "Busy"),
    ]
    merged = view.findtext(f"{T}MergedFreeBusy")
    assert len(merged) == 96 and merged[18:20] == "22" and merged[66:68] == "22"
    assert set(merged[:18] + merged[20:66] + merged[68:]) == {"0"}  # the free hour stays 0


def test_expand_dl_and_get_user_photo(sandbox, alice, unique):
    """Ledger: directory. ExpandDL of a private list (its ItemId) gives its members; an address that is no
    group of the directory is ErrorNameResolutionNoResults (learn.microsoft.com/exchange/client-developer/
    web-service-reference/expanddl-operation). GetUserPhoto for a user without a photo: ErrorItemNotFound
    "The photo wasn't found." (learn.microsoft.com/exchange/client-developer/web-service-reference/
    getuserphoto-operation; the code as Exchange answers it behind Graph, microsoftgraph/microsoft-graph-docs#2248)."""
    dl = DistributionList(
        folder=alice.contacts,
        display_name=f"team {unique}",
        members=[
            Member(mailbox=Mailbox(email_address="x@example.com", name="X", mailbox_type="OneOff")),
            Member(mailbox=Mailbox(email_address=BOB[0], mailbox_type="Mailbox")),
        ],
    )
    dl.save()
    body = soap(sandbox.url, f'<m:ExpandDL><m:Mailbox><t:ItemId Id="{dl.id}"/></m:Mailbox></m:ExpandDL>')
    assert codes(body) == ["NoError"]
    assert sorted(e.text for e in body.iter(f"{T}EmailAddress")) == sorted(["x@example.com", BOB[0]])
    unknown = soap(
        sandbox.url,
        "<m:ExpandDL><m:Mailbox><t:EmailAddress>group@sandbox.local</t:EmailAddress></m:Mailbox></m:ExpandDL>",
    )
    assert codes(unknown) == ["ErrorNameResolutionNoResults"]
    photo = soap(
        sandbox.url,
        f"<m:GetUserPhoto><m:Email>{ALICE[0]}</m:Email><m:SizeRequested>HR48x48</m:SizeRequested></m:GetUserPhoto>",
        version="Exchange2013",
    )
    assert codes(photo) == ["ErrorItemNotFound"]


def test_get_user_availability_bounds(sandbox):
    """Ledger: availability. "The maximum value for this time period is 42 days ... requests beyond the maximum
    value will return an error" (learn.microsoft.com/exchange/client-developer/web-service-reference/timewindow);
    the merged interval is 5 to 1440 minutes (.../mergedfreebusyintervalinminutes)."""

    def ask(end: str, minutes: int) -> requests.Response:
        period = (
            "<t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>0</t:Month>"
            "<t:DayOfWeek>Sunday</t:DayOfWeek>"
        )
        body = (
            f"<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime>{period}"
            f"</t:StandardTime><t:DaylightTime>{period}</t:DaylightTime></t:TimeZone><m:MailboxDataArray>"
            f"<t:MailboxData><t:Email><t:Address>{ALICE[0]}</t:Address></t:Email><t:AttendeeType>Required"
            "</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"
            "</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow>"
            f"<t:StartTime>2032-01-01T00:00:00</t:StartTime><t:EndTime>{end}</t:EndTime></t:TimeWindow>"
            f"<t:MergedFreeBusyIntervalInMinutes>{minutes}</t:MergedFreeBusyIntervalInMinutes>"
            "<t:RequestedView>MergedOnly</t:RequestedView></t:FreeBusyViewOptions>"
            "</m:GetUserAvailabilityRequest>"
        )
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?><s:Envelope '
            'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
            f"<s:Body>{body}</s:Body></s:Envelope>"
        )
        return requests.post(
            sandbox.url, data=envelope.encode(), auth=ALICE, timeout=20, headers={"Content-Type": "text/xml"}
        )

    assert ask("2032-02-12T00:00:00", 30).status_code == 200  # exactly 42 days
    too_long = ask("2032-02-12T00:00:01", 30)
    assert too_long.status_code == 500 and b"ErrorTimeIntervalTooBig" in too_long.content
    for minutes, status in ((4, 500), (5, 200), (1440, 200), (1441, 500)):
        assert ask("2032-01-03T00:00:00", minutes).status_code == status, minutes


def test_mime_content_shows_attachments_added_later(sandbox, alice, unique):
    """Ledger: attachment-changes. An item's MimeContent shows its current attachments, those added with
    CreateAttachment after the MIME was stored too (learn.microsoft.com/exchange/client-developer/
    web-service-reference/mimecontent: "the ASCII MIME stream of an object"); the stored MIME is otherwise
    unchanged. Read back with Python's email package."""
    import email
    from email import policy

    folder = folder_id_of(alice, "mime", unique)
    for original in (
        b"Subject: plain\r\nFrom: a@example.com\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
        b"Subject: mixed\r\nFrom: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
        b"hello\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        b'filename="first.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\n',
    ):
        message = Message(folder=folder, mime_content=original)
        message.save()
        fresh = next(alice.fetch(ids=[(message.id, None)]))
        assert fresh.mime_content == original  # nothing added yet: byte for byte what was sent
        fresh.attach(FileAttachment(name="résumé.pdf", content=b"%PDF-1.4 added"))
        parsed = email.message_from_bytes(
            next(alice.fetch(ids=[(message.id, None)])).mime_content, policy=policy.default
        )
        files = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
        assert files["résumé.pdf"] == b"%PDF-1.4 added"
        assert parsed["Subject"] in ("plain", "mixed") and parsed.get_body(("plain",)).get_content().strip() == "hello"
        if b"first.bin" in original:
            assert files["first.bin"] == b"\x00\x01\x02" and len(files) == 2
