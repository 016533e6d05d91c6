"""UploadItem -> exchangelib item: MIME messages and typed calendar, contact, list and task items.

fields.py maps the typed item values to exchangelib's field names and values; this module makes the item of
the right type from them, cut to what the type holds, with the preserved properties and identity stamped on.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from exchangelib import (
    CalendarItem,
    Contact,
    DistributionList,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    FileAttachment,
    Message,
    PostItem,
    Task,
)

from pipeline import fingerprint
from pipeline.destination.ews.class_types import type_for_class
from pipeline.destination.ews.fields import (
    ATTACHMENTS,
    CARRIED_OTHERWISE,
    END_ZONE,
    PHOTO,
    START_ZONE,
    ews_fields,
    item_class_of,
)
from pipeline.destination.ews.properties import ews_value, register
from pipeline.model import UploadItem

ITEM_TYPES: dict[str, type] = {
    "message": Message,
    "calendar": CalendarItem,
    "contact": Contact,
    "distlist": DistributionList,
    "task": Task,
    "post": PostItem,
    "note": Message,
    "journal": Message,
}


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
    start_zone = _zone(fields.get(START_ZONE))
    end_zone = _zone(fields.get(END_ZONE)) or start_zone
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


def _item_type(upload: UploadItem) -> Any:
    cls = ITEM_TYPES.get(upload.kind, Message)
    item_class = item_class_of(upload.value)
    if cls is Message and item_class:
        return type_for_class(item_class)  # PostItem, meeting types, or ClassedMessage
    return cls


def _has_value(value: Any) -> bool:
    """Something to carry (exchangelib's objects compare by hash, so never with `in` against lists)."""
    return not (value is None or value is False or (isinstance(value, str | list | dict | int | float) and not value))


def unsupported_fields(upload: UploadItem) -> list[str]:
    """Fields with a value that the EWS item type cannot take: reported, never dropped in silence.

    A calendar item's is_meeting is carried by its attendees, a journal entry's start and end by its
    PSETID_Log extended properties, and a list's file_as equal to its name by the name."""
    cls = _item_type(upload)
    known = {f.name for f in cls.FIELDS if not f.is_read_only}
    fields = ews_fields(upload.value)
    carried = set(CARRIED_OTHERWISE)
    if fields.get("file_as") == fields.get("display_name"):
        carried.add("file_as")
    if upload.kind == "journal":
        carried |= {"start", "end"}
    return sorted(
        name for name, value in fields.items() if name not in known and name not in carried and _has_value(value)
    )


def _text_limits(cls: Any) -> dict[str, int]:
    """Text fields of an item type with the most characters exchangelib lets through (subject: 255)."""
    return {
        f.name: f.max_length
        for f in cls.FIELDS
        if isinstance(getattr(f, "max_length", None), int) and not f.is_read_only
    }


def too_long_fields(upload: UploadItem) -> list[tuple[str, int, int]]:
    """(field, characters in the source, characters EWS takes) of each text field build_item must cut.

    Exchange keeps long subjects on mail (which travels as MIME), but exchangelib refuses a typed item's
    subject, names... over 255 characters with a ValueError: such a value is cut, and reported."""
    limits = _text_limits(_item_type(upload))
    return [
        (name, len(value), limits[name])
        for name, value in ews_fields(upload.value).items()
        if name in limits and isinstance(value, str) and len(value) > limits[name]
    ]


def build_item(upload: UploadItem, account: Any, folder: Any) -> Any:
    """The exchangelib item to create for one UploadItem, fingerprint and preserved state stamped on."""
    cls = _item_type(upload)
    known = {f.name for f in cls.FIELDS}
    limits = _text_limits(cls)
    kwargs: dict[str, Any] = {}
    fields = ews_fields(upload.value)
    attachments: list[Any] = list(fields.get(ATTACHMENTS) or [])
    for name, value in fields.items():
        if isinstance(value, str) and len(value) > limits.get(name, len(value)):
            value = type(value)(value[: limits[name]])  # whole characters; reported by too_long_fields (cannot_carry)
        if name == ATTACHMENTS or name not in known:
            continue  # the mapping may describe more than this server version's item type holds
        converted = _coerce(value, cls.get_field_by_fieldname(name))
        if converted is not None:
            kwargs[name] = converted
    if upload.mime is not None:
        kwargs["mime_content"] = upload.mime
    for prop in [*upload.extended, *upload.extra_extended]:
        kwargs[register(prop)] = ews_value(prop.value)
        if prop.tag == 0x0E07 and "is_read" in known and isinstance(prop.value, int):
            kwargs["is_read"] = bool(prop.value & 0x1)  # IsRead too: servers differ in honouring the flags
    for prop in fingerprint.stamp_properties(upload.identity, upload.series_pending):
        kwargs[register(prop)] = prop.value
    if cls is CalendarItem:
        _localize(kwargs, fields)
        _inclusive_end(kwargs)
    if cls is Contact and fields.get(PHOTO):
        # Contact.photo is read-only in EWS: the picture travels as an attachment flagged IsContactPhoto.
        attachments.append(
            FileAttachment(
                name="ContactPicture.jpg", content=fields[PHOTO], content_type="image/jpeg", is_contact_photo=True
            )
        )
    item = cls(account=account, folder=folder, **kwargs)
    for attachment in attachments:
        item.attach(attachment)
    return item
