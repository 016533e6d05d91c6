"""Conversion of one SourceItem into one UploadItem: pure functions, no pypff, no exchangelib.

`convert_item` picks the path by item class: mail-like classes become RFC 5322 bytes (a MailMessage),
appointments, contacts, lists, tasks, notes and journal entries typed values (pipeline.item_values).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipeline import mapi, props
from pipeline.convert import addresses, preserved, typed_attachments
from pipeline.convert.addressbook import AddressBook, resolved
from pipeline.item_values import MailMessage, TypedItem
from pipeline.item_values.item_warnings import ItemWarning, WarningKind, said
from pipeline.model import Attachment, ExtendedProperty, SourceItem, UploadItem

__all__ = ["ConvertOptions", "convert_item", "kind_of"]

#: Message-class prefixes that travel as MIME, checked case-insensitively and on whole dotted parts.
MAIL_CLASSES = (
    "IPM.Note",
    "IPM.Schedule.Meeting",
    "REPORT",
    "IPM.Post",
    "IPM.Outlook.Recall",
    "IPM.Recall",
    "IPM.Sharing",
    "IPM.TaskRequest",
    "IPM.Document",
    "IPM.Conflict",
    "IPM.Resend",
    "IPM.Microsoft",
    "IPM.Notification",
    "IPM.Voicenotes",
    "IPM.Note.Rules",
)
TYPED_CLASSES = (
    ("IPM.Appointment", "calendar"),
    ("IPM.Contact", "contact"),
    ("IPM.DistList", "distlist"),
    ("IPM.Task", "task"),
    ("IPM.StickyNote", "note"),
    ("IPM.Activity", "journal"),
)


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """x500_domain: the domain for IMCEAEX addresses of Exchange-internal senders without a cached
    SMTP address (the target organisation's domain is best); None guesses from the item.
    book: the store's address book (legacyExchangeDN -> SMTP), which resolves Exchange parties first."""

    x500_domain: str | None = None
    book: AddressBook | None = None


def _has_prefix(value: str, prefix: str) -> bool:
    value, prefix = value.lower(), prefix.lower()
    return value == prefix or value.startswith(prefix + ".")


def kind_of(message_class: str) -> str:
    """'message', 'calendar', 'contact', 'distlist', 'task', 'note', 'journal', or 'unknown'."""
    for prefix, kind in TYPED_CLASSES:
        if _has_prefix(message_class, prefix):
            return kind
    if any(_has_prefix(message_class, prefix) for prefix in MAIL_CLASSES):
        return "message"
    if message_class.upper() == "IPM":
        return "message"
    return "unknown"


def _is_exception_message(att: Attachment) -> bool:
    """Recurrence exceptions of an appointment are embedded messages flagged hidden."""
    return att.method == mapi.ATTACH_EMBEDDED_MSG and bool(att.properties.get(mapi.PR_ATTACHMENT_HIDDEN))


def _is_photo(att: Attachment) -> bool:
    return bool(att.properties.get(0x7FFF))


def convert_item(
    item: SourceItem,
    folder_path: tuple[str, ...] | None = None,
    options: ConvertOptions | None = None,
    identity: str = "",
) -> UploadItem:
    """The UploadItem for one source item; per-property problems become warnings on it.

    identity is what the caller stamps on it (pipeline.fingerprint); conversion never computes it."""
    options = options or ConvertOptions()
    item, address_sources = resolved(item, options.book)
    item_class = props.message_class(item)
    kind = kind_of(item_class)
    path = tuple(folder_path) if folder_path is not None else tuple(item.folder_path)
    upload = UploadItem(
        kind="message",
        item_class=item_class,
        folder_path=path,
        identity=identity,
        subject=props.text(item, mapi.PR_SUBJECT) or "",
        source_node_id=item.node_id,
        address_sources=dict(address_sources),
    )
    upload.extended = preserved.standard(item)
    domain = options.x500_domain
    if encapsulated := addresses.encapsulated(item, addresses.domain_hint(item, domain)):
        upload.warnings.append(ItemWarning(WarningKind.CONVERSION, addresses.IMCEA_WARNING, str(encapsulated)))
    if kind in ("message", "unknown"):
        from pipeline.convert.mime import to_mime

        result = to_mime(item, domain)
        upload.mime = result.data
        upload.warnings.extend(said(w) for w in result.warnings)
        if result.message_id_dropped:
            upload.extended.append(
                ExtendedProperty(
                    "String", props.text(item, mapi.PR_INTERNET_MESSAGE_ID), tag=mapi.PR_INTERNET_MESSAGE_ID
                )
            )
        if kind == "unknown":
            extra, skipped = preserved.everything(item, upload.extended)
            upload.extra_extended.extend(extra)
            note = f"unknown item class {item_class}: sent as a message keeping its class"
            if skipped:
                note += f"; properties without an EWS type left out: {', '.join(skipped)}"
            upload.warnings.append(said(note))
        # the class MIME does not say: any but IPM.Note (a report, a sharing message, a class nobody knows)
        own_class = item_class if kind == "unknown" or item_class.lower() != "ipm.note" else None
        upload.value = MailMessage(result.data, own_class, unknown=kind == "unknown")
        return upload
    upload.kind = kind
    hint = addresses.domain_hint(item, domain)
    value: TypedItem
    warnings: list[str] = []
    skip = None
    if kind == "calendar":
        from pipeline.convert.calendar import appointment

        value, warnings = appointment(item, hint)
        skip = _is_exception_message
    elif kind == "contact":
        from pipeline.convert.contacts import contact

        value, warnings = contact(item)
        skip = _is_photo
    elif kind == "distlist":
        from pipeline.convert.distlists import distribution_list

        value, warnings = distribution_list(item)
    elif kind == "task":
        from pipeline.convert.tasks import task

        value, warnings = task(item)
    else:
        from pipeline.convert.notes import journal_entry, sticky_note

        value, extra = sticky_note(item) if kind == "note" else journal_entry(item)
        upload.extended.extend(extra)
    files, file_warnings = typed_attachments.typed_attachments(item, skip, domain)
    upload.value = dataclasses.replace(value, attachments=files) if files else value
    upload.warnings.extend(said(w) for w in warnings + file_warnings)
    return upload


def extended_by_name(upload: UploadItem) -> dict[str, ExtendedProperty]:
    """The item's extended properties keyed by a readable name (tag hex or guid/name), for tests and export."""
    out = {}
    for prop in [*upload.extended, *upload.extra_extended]:
        key = f"0x{prop.tag:04X}" if prop.tag is not None else f"{prop.propset_guid}/{prop.name}"
        out[key] = prop
    return out
