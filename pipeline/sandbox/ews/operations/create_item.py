"""CreateItem: store MIME and typed items with their extended properties, one response message per item.

Exchange's rules kept here: an item is a draft unless PR_MESSAGE_FLAGS clears MSGFLAG_UNSENT, read state comes
from IsRead or MSGFLAG_READ, an oversized item fails alone, and the whole batch is stored in one transaction.
Refused as Exchange refuses them: an ItemClass the element's type cannot carry, a distribution-list member of
MailboxType Mailbox that is no mailbox here (outside addresses must be OneOff), a Contact's Photo written
directly (a picture is an attachment flagged IsContactPhoto, which sets HasPicture).
"""

from __future__ import annotations

import binascii
import dataclasses
import hashlib
import re
import sqlite3
from dataclasses import dataclass

from lxml import etree

from pipeline.sandbox import ids, mime, props
from pipeline.sandbox.ews import classes, extended, ical_import, series, shapes, soap
from pipeline.sandbox.ews.context import Context, M, T, folder_refs, local, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.recurrence import RecurrenceError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.rows import ExtValue, FolderRow, NewItem

DEFAULT_FOLDER = {
    "Message": "drafts",
    "CalendarItem": "calendar",
    "Contact": "contacts",
    "DistributionList": "contacts",
    "Task": "tasks",
    "PostItem": "inbox",
    "Item": "drafts",
    "MeetingMessage": "inbox",
    "MeetingRequest": "inbox",
    "MeetingResponse": "inbox",
    "MeetingCancellation": "inbox",
}
DEFAULT_CLASS = {
    "Message": "IPM.Note",
    "CalendarItem": "IPM.Appointment",
    "Contact": "IPM.Contact",
    "DistributionList": "IPM.DistList",
    "Task": "IPM.Task",
    "PostItem": "IPM.Post",
    "Item": "IPM.Note",
    "MeetingRequest": "IPM.Schedule.Meeting.Request",
    "MeetingResponse": "IPM.Schedule.Meeting.Resp.Pos",
    "MeetingCancellation": "IPM.Schedule.Meeting.Canceled",
    "MeetingMessage": "IPM.Schedule.Meeting.Request",
}
#: Kinds that are drafts until PR_MESSAGE_FLAGS says they were sent (messages; not appointments or contacts).
DRAFT_KINDS = {"Message", "Item"}
_SKIP_FIELDS = {
    "MimeContent",
    "ExtendedProperty",
    "ItemClass",
    "Subject",
    "IsRead",
    "ItemId",
    "ParentFolderId",
    "DateTimeReceived",
    "DateTimeSent",
    "DateTimeCreated",
    "Size",
    "IsDraft",
    "HasAttachments",
    "LastModifiedTime",
}
_ATTACHMENT_META = {
    "AttachmentId",
    "Name",
    "ContentType",
    "ContentId",
    "ContentLocation",
    "Size",
    "LastModifiedTime",
    "IsInline",
}
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|tr)\s*:\s*)+", re.IGNORECASE)


@dataclass(slots=True)
class _Prepared:
    index: int
    item: NewItem | None = None
    error: tuple[str, str] | None = None


def _recipients_xml(name: str, addresses: list[mime.Address]) -> str:
    return f"<t:{name}>" + "".join(shapes.mailbox_xml(a) for a in addresses) + f"</t:{name}>"


def _mime_fields(parsed: mime.ParsedMime) -> dict[str, str]:
    fields: dict[str, str] = {}
    if parsed.importance:
        fields["Importance"] = f"<t:Importance>{parsed.importance}</t:Importance>"
    if parsed.in_reply_to:
        fields["InReplyTo"] = f"<t:InReplyTo>{soap.esc(parsed.in_reply_to)}</t:InReplyTo>"
    if parsed.cc:
        fields["DisplayCc"] = f"<t:DisplayCc>{soap.esc('; '.join(a.name or a.email for a in parsed.cc))}</t:DisplayCc>"
    if parsed.to:
        fields["DisplayTo"] = f"<t:DisplayTo>{soap.esc('; '.join(a.name or a.email for a in parsed.to))}</t:DisplayTo>"
    if parsed.sender:
        fields["Sender"] = f"<t:Sender>{shapes.mailbox_xml(parsed.sender[0])}</t:Sender>"
    for name, addresses in (
        ("ToRecipients", parsed.to),
        ("CcRecipients", parsed.cc),
        ("BccRecipients", parsed.bcc),
    ):
        if addresses:
            fields[name] = _recipients_xml(name, addresses)
    if parsed.subject is not None:
        topic = _PREFIX.sub("", parsed.subject)
        fields["ConversationTopic"] = f"<t:ConversationTopic>{soap.esc(topic)}</t:ConversationTopic>"
    if parsed.from_:
        fields["From"] = f"<t:From>{shapes.mailbox_xml(parsed.from_[0])}</t:From>"
    if parsed.message_id:
        fields["InternetMessageId"] = f"<t:InternetMessageId>{soap.esc(parsed.message_id)}</t:InternetMessageId>"
    if parsed.references:
        fields["References"] = f"<t:References>{soap.esc(parsed.references)}</t:References>"
    if parsed.reply_to:
        fields["ReplyTo"] = _recipients_xml("ReplyTo", parsed.reply_to)
    return fields


def _attachments(container: etree._Element) -> list[mime.Attachment]:
    """FileAttachment and ItemAttachment elements sent inside a CreateItem (Exchange 2013+ does this in one go)."""
    found = []
    for elem in container:
        kind = local(elem)
        name = elem.findtext(f"{T}Name") or ""
        if kind == "FileAttachment":
            try:
                data = binascii.a2b_base64(elem.findtext(f"{T}Content") or "")
            except (binascii.Error, ValueError) as exc:
                raise ResponseError("ErrorInvalidAttachment", "Attachment content is not valid base64.") from exc
            content_type = elem.findtext(f"{T}ContentType") or "application/octet-stream"
            inline = (elem.findtext(f"{T}IsInline") or "").strip().lower() in ("true", "1")
            cid = elem.findtext(f"{T}ContentId") or ""
        elif kind == "ItemAttachment":
            inner = next((c for c in elem if local(c) not in _ATTACHMENT_META), None)
            mime_text = inner.findtext(f"{T}MimeContent") if inner is not None else None
            if mime_text is not None:
                data = binascii.a2b_base64(mime_text)
            else:
                data = etree.tostring(inner) if inner is not None else b""
            content_type, inline, cid = "message/rfc822", False, ""
        else:
            raise ResponseError("ErrorInvalidAttachment", f"Unsupported attachment kind {kind}.")
        found.append(
            mime.Attachment(name, content_type, len(data), hashlib.sha256(data).hexdigest(), inline, cid, data)
        )
    return found


def prepare(ctx: Context, elem: etree._Element, folder: FolderRow, sent_copy: bool) -> NewItem:
    """One <t:Message>/<t:CalendarItem>/... element -> the row to insert, or ResponseError for this item."""
    kind = local(elem)
    mime_bytes: bytes | None = None
    parsed: mime.ParsedMime | None = None
    mime_elem = elem.find(f"{T}MimeContent")
    if mime_elem is not None:
        try:
            mime_bytes = binascii.a2b_base64(mime_elem.text or "")
        except (binascii.Error, ValueError) as exc:
            raise ResponseError(
                "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."
            ) from exc
    if mime_bytes is not None and len(mime_bytes) > ctx.limits.max_item_bytes:
        raise ResponseError("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
    fields: dict[str, str] = {}
    if mime_bytes is not None:
        try:
            parsed = mime.parse(mime_bytes)
        except mime.MimeHeaderError as exc:
            raise ResponseError("ErrorMimeContentConversionFailed", f"MIME content conversion failed: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - any parser failure is Exchange's conversion failure
            raise ResponseError("ErrorMimeContentConversionFailed", "MIME content conversion failed.") from exc
        fields.update(_mime_fields(parsed))
        if kind == "CalendarItem" and ical_import.is_icalendar(mime_bytes):
            try:
                ics_subject, ics_fields = ical_import.fields_from_ics(mime_bytes)
            except ical_import.IcsError as exc:
                raise ResponseError(
                    "ErrorMimeContentConversionFailed", f"MIME content conversion failed: {exc}"
                ) from exc
            fields.update(ics_fields)  # the typed fields of the request, read next, win over these
            if ics_subject is not None:
                parsed = dataclasses.replace(parsed, subject=ics_subject)
    ext: list[ExtValue] = []
    explicit: dict[str, str] = {}
    typed_size = 0
    attachments: list[mime.Attachment] = []
    read_state: bool | None = None  # IsRead and MSGFLAG_READ both set it; applied in document order
    for child in elem:
        name = local(child)
        if name == "ExtendedProperty":
            try:
                uri, value = extended.read_values(child)
            except props.PropertyError as exc:
                raise ResponseError("ErrorInvalidExtendedPropertyValue", str(exc)) from exc
            ext.append(ExtValue(uri.key, uri.ptype, value))
            if uri.key == props.TAG_MESSAGE_FLAGS and isinstance(value, str):
                read_state = bool(int(value) & props.MSGFLAG_READ)
            continue
        if name in ("ItemClass", "Subject", "IsRead"):
            explicit[name] = child.text or ""
            if name == "IsRead":
                read_state = (child.text or "").strip().lower() in ("true", "1")
            continue
        if name == "Attachments":
            attachments.extend(_attachments(child))
            if kind == "Contact" and any(
                (a.findtext(f"{T}IsContactPhoto") or "").strip().lower() in ("true", "1") for a in child
            ):
                fields["HasPicture"] = "<t:HasPicture>true</t:HasPicture>"
            continue
        if name == "Photo" and kind == "Contact":
            raise ResponseError(
                "ErrorInvalidPropertyRequest", "Property Photo can't be set; attach the picture with IsContactPhoto."
            )
        if name == "Members" and kind == "DistributionList":
            _check_members(ctx, child)
        if name in _SKIP_FIELDS:
            continue
        xml = etree.tostring(child, encoding="unicode")
        typed_size += len(xml)
        fields[name] = xml
    if kind == "Contact":
        fields.setdefault("HasPicture", "<t:HasPicture>false</t:HasPicture>")
    if mime_bytes is None and typed_size > ctx.limits.max_item_bytes:
        raise ResponseError("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
    if kind == "CalendarItem":
        try:
            series.prepare_master(fields)
        except RecurrenceError as exc:
            raise ResponseError(exc.code, str(exc)) from exc
    by_key = {e.key: e for e in ext}

    def ext_text(key: str) -> str | None:
        found = by_key.get(key)
        return found.value if found is not None and isinstance(found.value, str) else None

    flags_text = ext_text(props.TAG_MESSAGE_FLAGS)
    flags = int(flags_text) if flags_text is not None else None
    if flags is not None:
        is_draft = bool(flags & props.MSGFLAG_UNSENT)
    else:
        is_draft = kind in DRAFT_KINDS and not sent_copy
    is_read = True if read_state is None else read_state
    given_class = explicit.get("ItemClass") or ext_text(props.TAG_MESSAGE_CLASS)
    if given_class and not classes.consistent(kind, given_class):
        raise ResponseError("ErrorObjectTypeChanged", f"Item class {given_class} is not consistent with a {kind} item.")
    item_class = (
        given_class
        or (parsed.item_class if parsed and kind in DRAFT_KINDS else None)
        or DEFAULT_CLASS.get(kind, "IPM.Note")
    )
    subject = explicit.get("Subject")
    if subject is None:
        subject = ext_text(props.TAG_SUBJECT)
    if subject is None and parsed is not None:
        subject = parsed.subject
    sent = ext_text(props.TAG_SUBMIT_TIME) or (parsed.date_sent if parsed else None)
    received = ext_text(props.TAG_DELIVERY_TIME)
    message_id = parsed.message_id if parsed else None
    if message_id is None and "InternetMessageId" in fields:
        message_id = etree.fromstring(fields["InternetMessageId"]).text
    size = (len(mime_bytes) if mime_bytes is not None else typed_size + 200) + sum(a.size for a in attachments)
    if size > ctx.limits.max_item_bytes:
        raise ResponseError("ErrorMessageSizeExceeded", "The message exceeds the maximum supported size.")
    if parsed is not None:
        # MIME-derived attachments are not stored twice: GetAttachment re-reads them from the MIME.
        attachments = [dataclasses.replace(a, content=None) for a in parsed.attachments] + attachments
    return NewItem(
        folder_id=folder.id,
        kind=kind,
        item_class=item_class,
        subject=subject,
        is_draft=is_draft,
        is_read=is_read,
        sent=sent,
        received=received,
        size=size,
        mime=mime_bytes,
        fields=fields,
        ext=ext,
        attachments=attachments,
        message_id=message_id,
    )


def _check_members(ctx: Context, members: etree._Element) -> None:
    """Members of type Mailbox must be mailboxes of this organisation; outside addresses are OneOff."""
    for mailbox in members.iter(f"{T}Mailbox"):
        if (mailbox.findtext(f"{T}MailboxType") or "").strip() != "Mailbox":
            continue
        address = (mailbox.findtext(f"{T}EmailAddress") or "").strip()
        if not ctx.store.has_mailbox(address):
            raise ResponseError(
                "ErrorNameResolutionNoResults",
                "No results were found for a distribution list member of MailboxType Mailbox.",
            )


@operation("CreateItem")
def create_item(ctx: Context, request: etree._Element) -> str:
    disposition = request.get("MessageDisposition", "SaveOnly")
    items_elem = request.find(f"{M}Items")
    elements = list(items_elem) if items_elem is not None else []
    refs = folder_refs(request.find(f"{M}SavedItemFolderId"))
    prepared = [_Prepared(i) for i in range(len(elements))]
    with ctx.store.connection() as conn:
        folder_cache: dict[str, FolderRow] = {}
        mailbox = None
        for slot, elem in zip(prepared, elements, strict=True):
            kind = local(elem)
            try:
                if refs:
                    folder = folder_cache.get("saved") or resolve_folder(ctx, conn, refs[0])
                    folder_cache["saved"] = folder
                else:
                    target = "sentitems" if disposition == "SendAndSaveCopy" else DEFAULT_FOLDER.get(kind, "drafts")
                    folder = folder_cache.get(target) or _distinguished(ctx, conn, target)
                    folder_cache[target] = folder
                mailbox = folder.mailbox_id
                injected = ctx.faults.item_error()
                if injected:
                    raise ResponseError(injected, f"Injected fault {injected}.")
                slot.item = prepare(ctx, elem, folder, sent_copy=disposition != "SaveOnly")
            except ResponseError as exc:
                slot.error = (exc.code, exc.text)
    to_store = [s for s in prepared if s.item is not None]
    if disposition == "SendOnly":
        to_store = []
    row_ids: list[int] = []
    if to_store:
        # Parsing happened above, outside the write lock; the batch is one transaction.
        with ctx.store.write() as conn:
            row_ids = ctx.store.insert_items(conn, mailbox or 0, [s.item for s in to_store if s.item])
            for slot, stored in zip(to_store, row_ids, strict=True):  # folder-associated: the folder's FAI table
                if (elements[slot.index].findtext(f"{T}IsAssociated") or "").strip().lower() in ("true", "1"):
                    conn.execute("INSERT OR IGNORE INTO associated_items(item_id) VALUES (?)", (stored,))
    by_index = {s.index: row_id for s, row_id in zip(to_store, row_ids, strict=True)}
    messages = []
    for slot in prepared:
        if slot.error is not None:
            messages.append(soap.error("CreateItem", slot.error[0], slot.error[1], "<m:Items/>"))
            continue
        row_id = by_index.get(slot.index)
        if row_id is None or slot.item is None:
            messages.append(soap.success("CreateItem", "<m:Items/>"))
            continue
        kind = slot.item.kind
        item_id = ids.item_id(mailbox or 0, row_id)
        attachments_xml = ""
        if slot.item.attachments:
            attachments_xml = (
                "<t:Attachments>"
                + "".join(shapes.attachment_id_xml(item_id, n, a) for n, a in enumerate(slot.item.attachments))
                + "</t:Attachments>"
            )
        messages.append(
            soap.success(
                "CreateItem",
                f'<m:Items><t:{kind}><t:ItemId Id="{item_id}" ChangeKey="{ids.change_key(1, row_id)}"/>'
                f"{attachments_xml}</t:{kind}></m:Items>",
            )
        )
    ctx.count("items_created", len(row_ids))
    ctx.count("items_failed", sum(1 for s in prepared if s.error))
    return soap.operation_response("CreateItem", messages)


def _distinguished(ctx: Context, conn: sqlite3.Connection, name: str) -> FolderRow:
    mailbox = ctx.acting_mailbox()
    ctx.check_mailbox_faults(mailbox.address)
    folder = ctx.store.distinguished(conn, mailbox.id, name)
    if folder is None:
        raise ResponseError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
    return folder
