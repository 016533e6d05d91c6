"""UploadItem -> exchangelib item: MIME messages and typed calendar, contact, list and task items.

convert/ hands plain values keyed by exchangelib field names; this module makes them exchangelib objects.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from exchangelib import (
    Attendee,
    Body,
    CalendarItem,
    Contact,
    DistributionList,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    FileAttachment,
    HTMLBody,
    ItemAttachment,
    Mailbox,
    Message,
    PostItem,
    Task,
)
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.properties import Member
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    TaskRecurrence,
    WeeklyPattern,
)

from pipeline import fingerprint
from pipeline.destination.ews.class_types import type_for_class
from pipeline.destination.ews.properties import ews_value, register
from pipeline.model import UploadItem

ITEM_TYPES: dict[str, type] = {
    "message": Message, "calendar": CalendarItem, "contact": Contact, "distlist": DistributionList,
    "task": Task, "post": PostItem, "note": Message, "journal": Message,
}


def _ews(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return EWSDateTime.from_datetime(value)
    if isinstance(value, dt.date):
        return EWSDate.from_date(value)
    return value


def _mailbox(entry: Any) -> Mailbox:
    if isinstance(entry, str):
        return Mailbox(email_address=entry)
    return Mailbox(name=entry.get("name") or None, email_address=entry.get("email") or None,
                   routing_type=entry.get("routing_type") or "SMTP")


def _member(entry: dict[str, Any]) -> Mailbox:
    """A list member as a OneOff address, as Outlook stored it: MailboxType Mailbox (exchangelib's default)
    must name an account of the organisation, which outside members are not."""
    return Mailbox(name=entry.get("name") or None, email_address=entry.get("email") or None,
                   routing_type=entry.get("address_type") or entry.get("routing_type") or "SMTP",
                   mailbox_type="OneOff")


def _attendees(values: list[Any]) -> list[Attendee]:
    result = []
    for entry in values:
        response = (entry.get("response_type") if isinstance(entry, dict) else None) or "Unknown"
        result.append(Attendee(mailbox=_mailbox(entry), response_type=response))
    return result


_PATTERNS = {"daily": DailyPattern, "weekly": WeeklyPattern, "absolute_monthly": AbsoluteMonthlyPattern,
             "relative_monthly": RelativeMonthlyPattern, "absolute_yearly": AbsoluteYearlyPattern,
             "relative_yearly": RelativeYearlyPattern}


def _recurrence(spec: dict[str, Any], task: bool = False) -> Recurrence | TaskRecurrence:
    """convert/recurrence.describe()'s dict: pattern name and its fields, start, end or count."""
    pattern_cls = _PATTERNS[spec["pattern"]]
    wanted = {f.name for f in pattern_cls.FIELDS}
    pattern = pattern_cls(**{k: v for k, v in spec.items() if k in wanted and v is not None})
    start = _ews(spec["start"])
    if spec.get("count"):
        boundary = NumberedPattern(start=start, number=spec["count"])
    elif spec.get("end"):
        boundary = EndDatePattern(start=start, end=_ews(spec["end"]))
    else:
        boundary = NoEndPattern(start=start)
    return (TaskRecurrence if task else Recurrence)(pattern=pattern, boundary=boundary)


def _attachments(values: list[dict[str, Any]]) -> list[Any]:
    """Files, and embedded items ({name, item_mime}) as item attachments holding a MIME message."""
    result: list[Any] = []
    for a in values:
        if a.get("item_mime") is not None:
            result.append(ItemAttachment(name=a.get("name") or "item", item=Message(mime_content=a["item_mime"])))
        else:
            result.append(FileAttachment(name=a.get("name") or "attachment", content=a.get("content") or b"",
                                         content_type=a.get("content_type"), content_id=a.get("content_id"),
                                         is_inline=bool(a.get("is_inline"))))
    return result


def _field_value(name: str, value: Any, fields: dict[str, Any], kind: str) -> Any:
    if value is None:
        return None
    if name == "body":
        return HTMLBody(value) if fields.get("body_type") == "html" else Body(value)
    if name in ("required_attendees", "optional_attendees", "resources"):
        return _attendees(value)
    if name == "email_addresses":
        return [EmailAddress(label=e.get("label", "EmailAddress1"), email=e["email"]) for e in value if e.get("email")]
    if name == "phone_numbers":
        return [PhoneNumber(label=p["label"], phone_number=p["phone_number"]) for p in value if p.get("phone_number")]
    if name == "physical_addresses":
        return [PhysicalAddress(**{k: v for k, v in a.items() if v}) for a in value]
    if name == "members":
        return [Member(mailbox=_member(m)) for m in value]
    if name == "recurrence":
        return _recurrence(value, task=kind == "task")
    if name in ("sender", "author", "organizer"):
        return _mailbox(value)
    if name in ("to_recipients", "cc_recipients", "bcc_recipients"):
        return [_mailbox(v) for v in value]
    if isinstance(value, list):
        return [_ews(v) for v in value]
    return _ews(value)


def _coerce(value: Any, ews_field: Any) -> Any:
    """Small type adjustments exchangelib insists on: date-only fields, decimals."""
    value_cls = getattr(ews_field, "value_cls", None)
    if isinstance(value, EWSDateTime) and value_cls is EWSDate:
        return value.date()  # date-only fields (task due and start dates)
    if value_cls is Decimal and isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _zone(key: Any) -> EWSTimeZone | None:
    """A Windows time zone name (what Outlook stores) as an EWSTimeZone, or None if unknown."""
    if not isinstance(key, str) or not key:
        return None
    try:
        return EWSTimeZone.from_ms_id(key)
    except Exception:  # noqa: BLE001 - unknown zones leave the times in UTC, which is still exact
        return None


def _localize(kwargs: dict[str, Any], fields: dict[str, Any]) -> None:
    """Start and end in the series' own zone: exchangelib sends StartTimeZone/EndTimeZone from their tzinfo,
    and Exchange expands a recurrence in that zone (a weekly 09:00 in Berlin stays 09:00 across DST)."""
    start_zone = _zone(fields.get("start_timezone"))
    end_zone = _zone(fields.get("end_timezone")) or start_zone
    for name, zone in (("start", start_zone), ("end", end_zone)):
        value = kwargs.get(name)
        if zone is not None and isinstance(value, EWSDateTime):
            kwargs[name] = value.astimezone(zone)


def _inclusive_end(kwargs: dict[str, Any]) -> None:
    """convert/ gives an all-day event's end as the day after it (MAPI's and iCalendar's exclusive end);
    exchangelib takes a date end as the last day and adds one itself (CalendarItem.date_to_datetime)."""
    end, start = kwargs.get("end"), kwargs.get("start")
    if kwargs.get("is_all_day") and isinstance(end, dt.date) and not isinstance(end, dt.datetime):
        last = end - dt.timedelta(days=1)
        kwargs["end"] = start if isinstance(start, dt.date) and last < start else last


#: Fields convert/ describes that build_item carries some other way (or that only describe another one).
_CARRIED_OTHERWISE = {"body_type", "attachments", "start_timezone", "end_timezone", "timezone_description",
                      "photo"}


def _item_type(upload: UploadItem) -> Any:
    cls = ITEM_TYPES.get(upload.kind, Message)
    if cls is Message and upload.fields.get("item_class"):
        return type_for_class(upload.fields["item_class"])  # PostItem, meeting types, or ClassedMessage
    return cls


def unsupported_fields(upload: UploadItem) -> list[str]:
    """Fields with a value that the EWS item type cannot take: reported, never dropped in silence.

    A calendar item's is_meeting is carried by its attendees, a journal entry's start and end by its
    PSETID_Log extended properties, and a list's file_as equal to its name by the name."""
    cls = _item_type(upload)
    known = {f.name for f in cls.FIELDS if not f.is_read_only}
    fields = upload.fields
    carried = set(_CARRIED_OTHERWISE) | {"is_meeting"}
    if fields.get("file_as") == fields.get("display_name"):
        carried.add("file_as")
    if upload.kind == "journal":
        carried |= {"start", "end"}
    return sorted(name for name, value in fields.items()
                  if name not in known and name not in carried and value not in (None, False, "", [], {}))


def _text_limits(cls: Any) -> dict[str, int]:
    """Text fields of an item type with the most characters exchangelib lets through (subject: 255)."""
    return {f.name: f.max_length for f in cls.FIELDS
            if isinstance(getattr(f, "max_length", None), int) and not f.is_read_only}


def too_long_fields(upload: UploadItem) -> list[tuple[str, int, int]]:
    """(field, characters in the source, characters EWS takes) of each text field build_item must cut.

    Exchange keeps long subjects on mail (which travels as MIME), but exchangelib refuses a typed item's
    subject, names... over 255 characters with a ValueError: such a value is cut, and reported."""
    limits = _text_limits(_item_type(upload))
    return [(name, len(value), limits[name]) for name, value in upload.fields.items()
            if name in limits and isinstance(value, str) and len(value) > limits[name]]


def build_item(upload: UploadItem, account: Any, folder: Any) -> Any:
    """The exchangelib item to create for one UploadItem, fingerprint and preserved state stamped on."""
    cls = _item_type(upload)
    known = {f.name for f in cls.FIELDS}
    limits = _text_limits(cls)
    kwargs: dict[str, Any] = {}
    attachments: list[Any] = []
    for name, value in upload.fields.items():
        if isinstance(value, str) and len(value) > limits.get(name, len(value)):
            value = value[:limits[name]]  # whole characters; reported by too_long_fields (cannot_carry)
        if name == "body_type":
            continue
        if name == "attachments":
            attachments = _attachments(value or [])
            continue
        if name not in known:
            continue  # convert/ may describe more than this server version's item type holds
        converted = _coerce(_field_value(name, value, upload.fields, upload.kind), cls.get_field_by_fieldname(name))
        if converted is not None:
            kwargs[name] = converted
    if upload.mime is not None:
        kwargs["mime_content"] = upload.mime
    for prop in [*upload.extended, *upload.extra_extended]:
        kwargs[register(prop)] = ews_value(prop.value)
        if prop.tag == 0x0E07 and "is_read" in known and isinstance(prop.value, int):
            kwargs["is_read"] = bool(prop.value & 0x1)  # IsRead too: servers differ in honouring the flags
    for prop in fingerprint.stamp_properties(upload.fingerprint, upload.series_pending):
        kwargs[register(prop)] = prop.value
    if cls is CalendarItem:
        _localize(kwargs, upload.fields)
        _inclusive_end(kwargs)
    if cls is Contact and upload.fields.get("photo"):
        # Contact.photo is read-only in EWS: the picture travels as an attachment flagged IsContactPhoto.
        attachments.append(FileAttachment(name="ContactPicture.jpg", content=upload.fields["photo"],
                                          content_type="image/jpeg", is_contact_photo=True))
    item = cls(account=account, folder=folder, **kwargs)
    for attachment in attachments:
        item.attach(attachment)
    return item
