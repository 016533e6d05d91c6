"""FolderShape and ItemShape: which properties a request asks for, and rendering folders and items as EWS XML.

Core properties come from typed columns; typed-item fields are echoed from what CreateItem stored, so a
field the sandbox does not interpret still round-trips.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from lxml import etree

from pipeline.sandbox import ids, mime, props
from pipeline.sandbox.ews import computed, contact_props, extended, ical, series
from pipeline.sandbox.ews.soap import esc
from pipeline.sandbox.rows import FolderRow, ItemRow

#: FieldURI local names whose element is named differently (indexed contact fields).
INDEXED_ELEMENTS = {
    "EmailAddress": "EmailAddresses",
    "PhysicalAddress": "PhysicalAddresses",
    "PhoneNumber": "PhoneNumbers",
    "ImAddress": "ImAddresses",
}

#: Element order of ItemType and its subtypes in types.xsd, for the elements the sandbox renders.
_ORDER_NAMES = (
    "MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments "
    "DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe IsResend "
    "IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated ResponseObjects ReminderDueBy "
    "ReminderIsSet ReminderNextTime ReminderMinutesBeforeStart DisplayCc DisplayTo HasAttachments "
    "ExtendedProperty Culture EffectiveRights LastModifiedName LastModifiedTime IsAssociated "
    "WebClientReadFormQueryString WebClientEditFormQueryString ConversationId UniqueBody Flag "
    "StoreEntryId InstanceKey NormalizedBody EntityExtractionResult PolicyTag ArchiveTag "
    "RetentionDate Preview RightsManagementLicenseData PredictedActionReasons IsClutter BlockStatus "
    "HasBlockedImages TextBody Sender ToRecipients CcRecipients BccRecipients IsReadReceiptRequested "
    "IsDeliveryReceiptRequested ConversationIndex ConversationTopic From InternetMessageId IsRead "
    "IsResponseRequested References ReplyTo ReceivedBy ReceivedRepresenting ApprovalRequestData "
    "VotingInformation ReminderMessageData PostedTime "
).split()
ITEM_ORDER = {name: i for i, name in enumerate(_ORDER_NAMES)}

#: Kinds whose schema type has IsRead (MessageType and PostItemType).
READ_KINDS = {
    "Message",
    "PostItem",
    "MeetingRequest",
    "MeetingResponse",
    "MeetingCancellation",
    "MeetingMessage",
}

_DEFAULT_ITEM_FIELDS = {
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "Subject",
    "Sensitivity",
    "DateTimeReceived",
    "Size",
    "Importance",
    "IsDraft",
    "DateTimeSent",
    "DateTimeCreated",
    "HasAttachments",
    "LastModifiedTime",
    "IsRead",
    "From",
    "ToRecipients",
    "CcRecipients",
    "DisplayTo",
    "DisplayCc",
    "Attachments",
}


#: Properties rendered from typed columns rather than from stored fields.
CORE_FIELDS = frozenset(
    {
        "MimeContent",
        "ItemId",
        "ParentFolderId",
        "ItemClass",
        "Subject",
        "DateTimeReceived",
        "Size",
        "IsDraft",
        "DateTimeSent",
        "DateTimeCreated",
        "HasAttachments",
        "LastModifiedTime",
        "IsRead",
        "Attachments",
        "IsSubmitted",
    }
)


@dataclass(slots=True)
class Shape:
    base: str = "IdOnly"
    fields: set[str] = field(default_factory=set)  # element local names asked for
    ext: list[extended.ExtendedUri] = field(default_factory=list)
    include_mime: bool = False
    body_type: str | None = None

    @property
    def needs_fields(self) -> bool:
        """Whether stored typed-item fields can be asked for (not for IdOnly with core properties only)."""
        return (
            self.base != "IdOnly"
            or bool(self.fields - CORE_FIELDS)
            or self.include_mime
            or any(u.key == computed.IS_RECURRING or u.key in contact_props.FROM_FIELDS for u in self.ext)
        )

    @property
    def ext_keys(self) -> list[str]:
        return [u.key for u in self.ext]

    def wants(self, name: str) -> bool:
        if name in self.fields:
            return True
        if self.base == "IdOnly":
            return name == "ItemId" or name == "FolderId"
        return name in _DEFAULT_ITEM_FIELDS or self.base == "AllProperties"


def parse_shape(elem: etree._Element | None) -> Shape:
    """ItemShape or FolderShape of a request; a missing shape means IdOnly."""
    shape = Shape()
    if elem is None:
        return shape
    for child in elem:
        local = etree.QName(child).localname
        if local == "BaseShape":
            shape.base = (child.text or "IdOnly").strip()
        elif local == "IncludeMimeContent":
            shape.include_mime = (child.text or "").strip().lower() == "true"
        elif local == "BodyType":
            shape.body_type = (child.text or "").strip()
        elif local == "AdditionalProperties":
            for path in child:
                path_local = etree.QName(path).localname
                if path_local == "FieldURI":
                    name = path.get("FieldURI", "").split(":", 1)[-1]
                    shape.fields.add(name)
                elif path_local == "IndexedFieldURI":
                    name = path.get("FieldURI", "").split(":", 1)[-1]
                    shape.fields.add(INDEXED_ELEMENTS.get(name, name))
                elif path_local == "ExtendedFieldURI":
                    shape.ext.append(extended.parse_uri(path))
    if "MimeContent" in shape.fields:
        shape.include_mime = True
    return shape


# -- folders -------------------------------------------------------------------------------------


def folder_element(folder: FolderRow) -> str:
    if folder.is_search:
        return "SearchFolder"
    cls = folder.folder_class or ""
    if cls.startswith("IPF.Appointment"):
        return "CalendarFolder"
    if cls.startswith("IPF.Contact"):
        return "ContactsFolder"
    if cls.startswith("IPF.Task"):
        return "TasksFolder"
    return "Folder"


def folder_xml(folder: FolderRow, shape: Shape, facts: computed.FolderFacts) -> str:
    counts, child_count = (facts.total, facts.unread), facts.children
    element = folder_element(folder)
    fid = ids.folder_id(folder.mailbox_id, folder.id)
    parts = [f'<t:{element}><t:FolderId Id="{fid}" ChangeKey="{ids.change_key(folder.version)}"/>']
    everything = shape.base != "IdOnly"
    if (everything or "ParentFolderId" in shape.fields) and folder.parent_id is not None:
        parts.append(
            f'<t:ParentFolderId Id="{ids.folder_id(folder.mailbox_id, folder.parent_id)}" '
            f'ChangeKey="{ids.change_key(1)}"/>'
        )
    if (everything or "FolderClass" in shape.fields) and folder.folder_class:
        parts.append(f"<t:FolderClass>{esc(folder.folder_class)}</t:FolderClass>")
    if everything or "DisplayName" in shape.fields:
        parts.append(f"<t:DisplayName>{esc(folder.name)}</t:DisplayName>")
    if everything or "TotalCount" in shape.fields:
        parts.append(f"<t:TotalCount>{counts[0]}</t:TotalCount>")
    if everything or "ChildFolderCount" in shape.fields:
        parts.append(f"<t:ChildFolderCount>{child_count}</t:ChildFolderCount>")
    for uri in shape.ext:
        value = computed.folder_value(folder, uri.key, facts)
        if value is not None:
            parts.append(f"<t:ExtendedProperty>{uri.to_xml()}{extended.value_xml(value)}</t:ExtendedProperty>")
    if "EffectiveRights" in shape.fields or shape.base == "AllProperties":
        parts.append(
            "<t:EffectiveRights><t:CreateAssociated>true</t:CreateAssociated>"
            "<t:CreateContents>true</t:CreateContents><t:CreateHierarchy>true</t:CreateHierarchy>"
            "<t:Delete>true</t:Delete><t:Modify>true</t:Modify><t:Read>true</t:Read>"
            "<t:ViewPrivateItems>true</t:ViewPrivateItems></t:EffectiveRights>"
        )
    if element != "CalendarFolder" and element != "ContactsFolder" and (everything or "UnreadCount" in shape.fields):
        parts.append(f"<t:UnreadCount>{counts[1]}</t:UnreadCount>")
    parts.append(f"</t:{element}>")
    return "".join(parts)


# -- items ---------------------------------------------------------------------------------------


def mailbox_xml(address: mime.Address) -> str:
    name = f"<t:Name>{esc(address.name)}</t:Name>" if address.name else ""
    return (
        f"<t:Mailbox>{name}<t:EmailAddress>{esc(address.email)}</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox>"
    )


def message_flags(item: ItemRow) -> str:
    """PR_MESSAGE_FLAGS as Exchange computes it: stored bits, with READ and UNSENT from the item's state."""
    stored = item.ext.get(props.TAG_MESSAGE_FLAGS)
    flags = int(stored.value) if stored is not None and isinstance(stored.value, str) else 0
    flags &= ~(props.MSGFLAG_READ | props.MSGFLAG_UNSENT)
    if item.is_read:
        flags |= props.MSGFLAG_READ
    if item.is_draft:
        flags |= props.MSGFLAG_UNSENT
    if item.has_attachments:
        flags |= 0x10
    return str(flags)


def _derived_ext(item: ItemRow, key: str) -> str | None:
    if key == props.TAG_MESSAGE_FLAGS:
        return message_flags(item)
    if key == props.TAG_SUBJECT:
        return item.subject
    if key == props.TAG_DELIVERY_TIME:
        return item.received
    if key == props.TAG_SUBMIT_TIME:
        return item.sent
    if key == "tag:0x0e08":
        return str(item.size)
    return None


def item_xml(item: ItemRow, shape: Shape, folder_mailbox_id: int) -> str:
    out: list[tuple[int, str]] = []
    wants = shape.wants
    mid = folder_mailbox_id

    def add(name: str, xml: str) -> None:
        out.append((ITEM_ORDER.get(name, 900), xml))

    mime_content = item.mime
    if shape.include_mime and mime_content is None and item.kind == "CalendarItem":
        mime_content = ical.calendar_ics(item)  # Exchange answers a calendar item as iCalendar
    if shape.include_mime and mime_content is not None:
        add(
            "MimeContent",
            f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(mime_content).decode()}</t:MimeContent>',
        )
    own_id = (
        ids.item_id(mid, item.id)
        if item.occurrence_start is None
        else ids.occurrence_id(mid, item.id, item.occurrence_start)
    )
    own_key = ids.change_key(item.version, item.id if item.occurrence_start is None else 0)
    add("ItemId", f'<t:ItemId Id="{own_id}" ChangeKey="{own_key}"/>')
    if wants("ParentFolderId"):
        add(
            "ParentFolderId",
            f'<t:ParentFolderId Id="{ids.folder_id(mid, item.folder_id)}" ChangeKey="{ids.change_key(1)}"/>',
        )
    if wants("ItemClass"):
        add("ItemClass", f"<t:ItemClass>{esc(item.item_class)}</t:ItemClass>")
    if wants("Subject") and item.subject is not None:
        add("Subject", f"<t:Subject>{esc(item.subject)}</t:Subject>")
    if wants("DateTimeReceived") and item.received:
        add("DateTimeReceived", f"<t:DateTimeReceived>{item.received}</t:DateTimeReceived>")
    if wants("Size"):
        add("Size", f"<t:Size>{item.size}</t:Size>")
    if wants("IsDraft"):
        add("IsDraft", f"<t:IsDraft>{'true' if item.is_draft else 'false'}</t:IsDraft>")
    if wants("IsSubmitted"):
        add("IsSubmitted", "<t:IsSubmitted>false</t:IsSubmitted>")
    if wants("DateTimeSent") and item.sent:
        add("DateTimeSent", f"<t:DateTimeSent>{item.sent}</t:DateTimeSent>")
    if wants("DateTimeCreated"):
        add("DateTimeCreated", f"<t:DateTimeCreated>{item.created}</t:DateTimeCreated>")
    if wants("HasAttachments"):
        add(
            "HasAttachments",
            f"<t:HasAttachments>{'true' if item.has_attachments else 'false'}</t:HasAttachments>",
        )
    if wants("LastModifiedTime"):
        add("LastModifiedTime", f"<t:LastModifiedTime>{item.modified}</t:LastModifiedTime>")
    if wants("IsRead") and item.kind in READ_KINDS:
        add("IsRead", f"<t:IsRead>{'true' if item.is_read else 'false'}</t:IsRead>")
    if wants("Attachments") and item.attachments:
        add("Attachments", _attachments_xml(item, mid))
    if (wants("Body") or wants("TextBody")) and item.mime is not None:
        body_type, text = mime.body(item.mime)
        if wants("Body"):
            add("Body", f'<t:Body BodyType="{body_type}">{esc(text)}</t:Body>')
        if wants("TextBody") and body_type == "Text":
            add("TextBody", f'<t:TextBody BodyType="Text">{esc(text)}</t:TextBody>')
    handled = CORE_FIELDS  # rendered above from typed columns, never again from stored fields
    stored = item.fields
    order = ITEM_ORDER
    if item.kind == "CalendarItem":
        stored = {**item.fields, **series.calendar_fields(item, mid, wants)}
        order = {**ITEM_ORDER, **series.CALENDAR_ORDER}
    for position, (name, xml) in enumerate(stored.items()):
        if name in handled or (name in ("Body", "TextBody") and item.mime is not None):
            continue
        if wants(name):
            out.append((order.get(name, 1000 + position), xml))
    rank = ITEM_ORDER["ExtendedProperty"]
    for uri in shape.ext:
        kept = item.ext.get(uri.key)
        value: list[str] | str | None = computed.item_value(item, uri.key, mid)
        if value is None:
            value = _derived_ext(item, uri.key) if uri.key == props.TAG_MESSAGE_FLAGS or kept is None else kept.value
        if value is None and item.kind in ("Contact", "DistributionList"):
            value = contact_props.mapi_value(item.fields, uri.key)
        if value is not None:
            out.append((rank, f"<t:ExtendedProperty>{uri.to_xml()}{extended.value_xml(value)}</t:ExtendedProperty>"))
    out.sort(key=lambda pair: pair[0])
    return f"<t:{item.kind}>" + "".join(x for _, x in out) + f"</t:{item.kind}>"


def attachment_id(item_id: str, position: int) -> str:
    return base64.b64encode(f"{item_id}:{position}".encode()).decode()


def parse_attachment_id(text: str) -> tuple[str, int]:
    """(item id, position) of an AttachmentId; ValueError if it is not one of ours."""
    raw = base64.b64decode(text, validate=True).decode("ascii")
    item_id, _, position = raw.rpartition(":")
    return item_id, int(position)


def attachment_id_xml(item_id: str, position: int, att: mime.Attachment) -> str:
    kind = "ItemAttachment" if att.content_type == "message/rfc822" else "FileAttachment"
    return (
        f'<t:{kind}><t:AttachmentId Id="{attachment_id(item_id, position)}" RootItemId="{item_id}" '
        f'RootItemChangeKey="{ids.change_key(1)}"/></t:{kind}>'
    )


def _attachments_xml(item: ItemRow, mailbox_id: int) -> str:
    parts = ["<t:Attachments>"]
    base = ids.item_id(mailbox_id, item.id)
    positions = item.attachment_positions or list(range(len(item.attachments)))
    for pos, att in zip(positions, item.attachments, strict=True):
        kind = "ItemAttachment" if att.content_type == "message/rfc822" else "FileAttachment"
        att_id = attachment_id(base, pos)
        inline = "" if kind == "ItemAttachment" else f"<t:IsInline>{'true' if att.is_inline else 'false'}</t:IsInline>"
        cid = f"<t:ContentId>{esc(att.content_id)}</t:ContentId>" if att.content_id else ""
        parts.append(
            f'<t:{kind}><t:AttachmentId Id="{att_id}"/><t:Name>{esc(att.name)}</t:Name>'
            f"<t:ContentType>{esc(att.content_type)}</t:ContentType>{cid}<t:Size>{att.size}</t:Size>"
            f"{inline}</t:{kind}>"
        )
    parts.append("</t:Attachments>")
    return "".join(parts)
