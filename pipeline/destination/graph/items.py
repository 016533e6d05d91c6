"""UploadItem -> what Graph is sent: pure functions, no I/O.

Mail goes through importMime (the MIME as delivered, with one added header, X-Rebuild-Fingerprint, that
Exchange's content conversion keeps as a named property, so an import whose answer was lost is found
again), then one PATCH carries what MIME cannot: the identity stamp, read state, flag, categories,
delivery time and the other preserved properties. Drafts, sticky notes, journal entries and (where
importMime is unavailable) all mail are created as JSON messages with their extended properties, so
PR_MESSAGE_FLAGS decides at creation whether they are drafts. Appointments become events (never with
attendees: Graph would invite them), contacts contacts, lists contacts listing their members, tasks To Do
tasks carrying the identity in an open extension.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pipeline import fingerprint, mapi
from pipeline.item_values import (
    AddressKind,
    Appointment,
    Attendee,
    Body,
    Contact,
    DistributionList,
    Importance,
    JournalEntry,
    MailMessage,
    PatternKind,
    Person,
    PhoneKind,
    PostalAddress,
    Recurrence,
    RelativeDay,
    Reminder,
    Sensitivity,
    ShowAs,
    StickyNote,
    Task,
    TaskStatus,
    TypedItem,
    Weekday,
    WeekIndex,
)
from pipeline.item_values import item_warnings as warn
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.model import ExtendedProperty, UploadItem

T = TypeVar("T")

#: The MIME header carrying the identity through importMime, and the named property Exchange makes of it.
IDENTITY_HEADER = "X-Rebuild-Fingerprint"
HEADER_PROPERTY = f"String {{{mapi.PS_INTERNET_HEADERS}}} Name {IDENTITY_HEADER}"
FINGERPRINT_PROPERTY = f"String {{{fingerprint.PROPERTY_SET}}} Name {fingerprint.PROPERTY_NAME}"
PENDING_PROPERTY = f"Boolean {{{fingerprint.PROPERTY_SET}}} Name {fingerprint.PENDING_PROPERTY_NAME}"
#: Set on a JSON-created message until its large attachments are uploaded (a rerun then makes it again).
ATTACHMENTS_PENDING = f"Boolean {{{fingerprint.PROPERTY_SET}}} Name RebuildAttachmentsPending"
#: The open extension holding a To Do task's identity (To Do takes no MAPI properties).
EXTENSION_NAME = "com.mailboxrebuild.identity"
#: Attachments larger than this go through upload sessions (Graph's limit for inline contentBytes).
INLINE_ATTACHMENT_MAX = 3 * 1024 * 1024
KEYWORDS = (mapi.PS_PUBLIC_STRINGS.lower(), "Keywords")
#: PidLidToAttendeesString, PidLidCcAttendeesString (PSETID_Appointment): who was invited, as Outlook shows.
TO_ATTENDEES = f"String {{{mapi.PSETID_APPOINTMENT}}} Id 0x823B"
CC_ATTENDEES = f"String {{{mapi.PSETID_APPOINTMENT}}} Id 0x823C"
ORGANIZER_NAME = "String 0x0042"  # PR_SENT_REPRESENTING_NAME
_FLAG_STATUS = {2: "flagged", 1: "complete"}


# -- extended properties ----------------------------------------------------------------------------
def property_id(prop: ExtendedProperty) -> str:
    """Graph's id of an extended property ('Integer 0x0E07', 'String {guid} Name X', '… Id 0x8501')."""
    ptype = prop.mapi_type
    if prop.tag is not None:
        return f"{ptype} 0x{prop.tag:04X}"
    if isinstance(prop.name, int):
        return f"{ptype} {{{prop.propset_guid}}} Id 0x{prop.name:04X}"
    return f"{ptype} {{{prop.propset_guid}}} Name {prop.name}"


def wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _is_keywords(prop: ExtendedProperty) -> bool:
    return prop.tag is None and ((prop.propset_guid or "").lower(), prop.name) == KEYWORDS


def split_extended(props: list[ExtendedProperty], skip_tags: frozenset[int] = frozenset()) -> dict[str, Any]:
    """singleValueExtendedProperties / multiValueExtendedProperties of a body, categories apart."""
    single, multi, categories = [], [], None
    for prop in props:
        if prop.tag is not None and prop.tag in skip_tags:
            continue
        if _is_keywords(prop):
            categories = [str(v) for v in prop.value or []]
        elif prop.mapi_type.endswith("Array"):
            multi.append({"id": property_id(prop), "value": [wire_value(v) for v in prop.value or []]})
        else:
            single.append({"id": property_id(prop), "value": wire_value(prop.value)})
    out: dict[str, Any] = {"singleValueExtendedProperties": single}
    if multi:
        out["multiValueExtendedProperties"] = multi
    if categories is not None:
        out["categories"] = categories
    return out


def stamps(upload: UploadItem) -> list[dict[str, str]]:
    return [
        {"id": property_id(p), "value": wire_value(p.value)}
        for p in fingerprint.stamp_properties(upload.identity, upload.series_pending)
    ]


def _tag(upload: UploadItem, tag: int) -> Any:
    for prop in upload.extended:
        if prop.tag == tag:
            return prop.value
    return None


def message_flags(upload: UploadItem) -> int:
    value = _tag(upload, mapi.PR_MESSAGE_FLAGS)
    return int(value) if isinstance(value, int) else mapi.MSGFLAG_READ


def is_draft(upload: UploadItem) -> bool:
    """An unsent draft in the source stays a draft (Graph's JSON creation makes drafts by default)."""
    return bool(message_flags(upload) & mapi.MSGFLAG_UNSENT)


# -- mail -------------------------------------------------------------------------------------------
def mime_for_import(upload: UploadItem) -> bytes:
    """The item's MIME with the identity header first (the rest byte for byte)."""
    assert upload.mime is not None
    return f"{IDENTITY_HEADER}: {upload.identity}\r\n".encode("ascii") + upload.mime


def after_import(upload: UploadItem) -> dict[str, Any]:
    """The PATCH that finishes an imported message: identity, read state, flag, categories, times."""
    body = split_extended(upload.extended, frozenset({mapi.PR_MESSAGE_FLAGS, mapi.PR_FLAG_STATUS}))
    body["singleValueExtendedProperties"] = stamps(upload) + body["singleValueExtendedProperties"]
    item_class = upload.value.item_class if isinstance(upload.value, MailMessage) else None
    if item_class:  # the class MIME does not say (a report, a sharing message, …)
        body["singleValueExtendedProperties"].append({"id": "String 0x001A", "value": item_class})
    body["isRead"] = bool(message_flags(upload) & mapi.MSGFLAG_READ)
    status = _tag(upload, mapi.PR_FLAG_STATUS)
    if isinstance(status, int) and status in _FLAG_STATUS:
        body["flag"] = {"flagStatus": _FLAG_STATUS[status]}
    return body


def _address(text: str) -> dict[str, Any]:
    name, addr = email.utils.parseaddr(text)
    return {"emailAddress": {"name": name or addr, "address": addr}}


def _recipients(message: Any, header: str) -> list[dict[str, Any]]:
    values = message.get_all(header) or []
    return [
        _address(email.utils.formataddr(pair)) for pair in email.utils.getaddresses([str(v) for v in values]) if pair[1]
    ]


@dataclass(frozen=True, slots=True)
class LargeAttachment:
    """An attachment sent after the message through an upload session."""

    name: str
    content_type: str
    data: bytes = field(repr=False)
    is_inline: bool = False
    content_id: str = ""

    def session_body(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "attachmentType": "file",
            "name": self.name,
            "size": len(self.data),
            "contentType": self.content_type,
            "isInline": self.is_inline,
        }
        if self.content_id:
            item["contentId"] = self.content_id
        return {"AttachmentItem": item}


def json_message(upload: UploadItem, large: list[LargeAttachment] | None = None) -> dict[str, Any]:
    """A message created as JSON: non-draft unless the source item was an unsent draft; MIME's
    headers other than the addresses are not kept (the report says so). Attachments over 3 MB go to
    `large` (then the message is stamped ATTACHMENTS_PENDING until they are uploaded); without `large`
    they are refused."""
    body: dict[str, Any] = {"subject": upload.subject}
    if upload.mime is not None:
        message = email.message_from_bytes(upload.mime, policy=email.policy.default)
        for header, key in (
            ("To", "toRecipients"),
            ("Cc", "ccRecipients"),
            ("Bcc", "bccRecipients"),
            ("Reply-To", "replyTo"),
        ):
            found = _recipients(message, header)
            if found:
                body[key] = found
        if message.get("From"):
            body["from"] = _address(str(message["From"]))
        part = message.get_body(preferencelist=("html", "plain"))
        if part is not None:
            body["body"] = {
                "contentType": "html" if part.get_content_type() == "text/html" else "text",
                "content": part.get_content(),
            }
        attachments = []
        for item in message.iter_attachments():
            payload = item.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if len(data) > INLINE_ATTACHMENT_MAX:
                if large is None:
                    raise ValueError(f"attachment over {INLINE_ATTACHMENT_MAX // 1048576} MB needs an upload session")
                large.append(
                    LargeAttachment(
                        item.get_filename() or "attachment",
                        item.get_content_type(),
                        data,
                        item.get_content_disposition() == "inline",
                        str(item["Content-ID"] or "").strip("<>"),
                    )
                )
                continue
            attachments.append(
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": item.get_filename() or "attachment",
                    "contentType": item.get_content_type(),
                    "contentBytes": base64.b64encode(data).decode("ascii"),
                    "isInline": item.get_content_disposition() == "inline",
                    **({"contentId": str(item["Content-ID"]).strip("<>")} if item["Content-ID"] else {}),
                }
            )
        if attachments:
            body["attachments"] = attachments
    elif isinstance(upload.value, TypedItem) and upload.value.body:
        body["body"] = _body(upload.value.body)
    extended = split_extended(upload.extended, frozenset({mapi.PR_MESSAGE_FLAGS, mapi.PR_FLAG_STATUS}))
    flags = message_flags(upload)
    if not is_draft(upload):
        flags &= ~mapi.MSGFLAG_UNSENT
        extended["singleValueExtendedProperties"].append({"id": "Integer 0x0E07", "value": str(flags & 0x23)})
    value = upload.value
    own = value.item_class if isinstance(value, MailMessage | StickyNote | JournalEntry) else None
    item_class = own or (upload.item_class if upload.item_class != "IPM.Note" else None)
    if item_class:
        extended["singleValueExtendedProperties"].append({"id": "String 0x001A", "value": str(item_class)})
    pending = [{"id": ATTACHMENTS_PENDING, "value": "true"}] if large else []
    extended["singleValueExtendedProperties"] = stamps(upload) + pending + extended["singleValueExtendedProperties"]
    body.update(extended)
    body["isRead"] = bool(flags & mapi.MSGFLAG_READ)
    status = _tag(upload, mapi.PR_FLAG_STATUS)
    if isinstance(status, int) and status in _FLAG_STATUS:
        body["flag"] = {"flagStatus": _FLAG_STATUS[status]}
    return body


# -- calendar ---------------------------------------------------------------------------------------
_SHOW_AS = {
    ShowAs.FREE: "free",
    ShowAs.TENTATIVE: "tentative",
    ShowAs.BUSY: "busy",
    ShowAs.OUT_OF_OFFICE: "oof",
    ShowAs.WORKING_ELSEWHERE: "workingElsewhere",
}
_SENSITIVITY = {
    Sensitivity.NORMAL: "normal",
    Sensitivity.PERSONAL: "personal",
    Sensitivity.PRIVATE: "private",
    Sensitivity.CONFIDENTIAL: "confidential",
}
_IMPORTANCE = {Importance.LOW: "low", Importance.NORMAL: "normal", Importance.HIGH: "high"}
_PATTERNS = {
    PatternKind.DAILY: "daily",
    PatternKind.WEEKLY: "weekly",
    PatternKind.ABSOLUTE_MONTHLY: "absoluteMonthly",
    PatternKind.RELATIVE_MONTHLY: "relativeMonthly",
    PatternKind.ABSOLUTE_YEARLY: "absoluteYearly",
    PatternKind.RELATIVE_YEARLY: "relativeYearly",
}
_DAYS = {d: d.value for d in Weekday}  # Graph's dayOfWeek: "sunday" … "saturday"
_RELATIVE_DAYS = {
    RelativeDay.DAY: list(_DAYS.values()),
    RelativeDay.WEEKDAY: ["monday", "tuesday", "wednesday", "thursday", "friday"],
    RelativeDay.WEEKEND_DAY: ["saturday", "sunday"],
}
_INDEX = {
    WeekIndex.FIRST: "first",
    WeekIndex.SECOND: "second",
    WeekIndex.THIRD: "third",
    WeekIndex.FOURTH: "fourth",
    WeekIndex.LAST: "last",
}
_TASK_STATUS = {
    TaskStatus.NOT_STARTED: "notStarted",
    TaskStatus.IN_PROGRESS: "inProgress",
    TaskStatus.COMPLETED: "completed",
    TaskStatus.WAITING_ON_OTHERS: "waitingOnOthers",
    TaskStatus.DEFERRED: "deferred",
}


def _body(body: Body) -> dict[str, str]:
    return {"contentType": "html" if body.html else "text", "content": body.text}


def _zone_name(name: str | None) -> tuple[str, dt.tzinfo]:
    """A Windows time zone name (Graph takes it as is) and the zone, UTC when unknown."""
    from tzlocal.windows_tz import win_tz

    if isinstance(name, str) and name in win_tz:
        return name, ZoneInfo(win_tz[name])
    return "UTC", dt.UTC


def _when(value: Any, zone_name: str, zone: dt.tzinfo) -> dict[str, str]:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        local = moment.astimezone(zone).replace(tzinfo=None)
        return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": zone_name}
    return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": zone_name}


def recurrence(spec: Recurrence, zone_name: str) -> dict[str, Any]:
    """A series' recurrence as Graph's patternedRecurrence."""
    rule = spec.pattern
    pattern: dict[str, Any] = {"type": _PATTERNS[rule.kind], "interval": rule.interval}
    if rule.weekdays:
        pattern["daysOfWeek"] = [_DAYS[d] for d in rule.weekdays]
    if rule.first_day_of_week:
        pattern["firstDayOfWeek"] = _DAYS[rule.first_day_of_week]
    if rule.day_of_month:
        pattern["dayOfMonth"] = rule.day_of_month
    if rule.month:
        pattern["month"] = rule.month
    if rule.day:
        pattern["daysOfWeek"] = _RELATIVE_DAYS.get(rule.day, [rule.day.value])
    if rule.week:
        pattern["index"] = _INDEX[rule.week]
    rng: dict[str, Any] = {"type": "noEnd", "startDate": spec.start.isoformat(), "recurrenceTimeZone": zone_name}
    if spec.count:
        rng.update(type="numbered", numberOfOccurrences=spec.count)
    elif spec.end:
        rng.update(type="endDate", endDate=spec.end.isoformat())
    return {"pattern": pattern, "range": rng}


def _people(values: Iterable[Attendee | Person]) -> str:
    people = [v.person if isinstance(v, Attendee) else v for v in values]
    return "; ".join(str(p.name or p.email or "") for p in people)


def _value(upload: UploadItem, cls: type[T]) -> T:
    if not isinstance(upload.value, cls):
        raise TypeError(f"{upload.item_class} holds no {cls.__name__}")
    return upload.value


def event(upload: UploadItem) -> dict[str, Any]:
    """An event without attendees (creating one with attendees sends invitations): who was invited and
    the organizer travel as the display properties Outlook shows."""
    f = _value(upload, Appointment)
    zone_name, zone = _zone_name(f.start_zone)
    end_name, end_zone = _zone_name(f.end_zone or f.start_zone)
    body: dict[str, Any] = {
        "subject": upload.subject or f.subject,
        "start": _when(f.start, zone_name, zone),
        "end": _when(f.end, end_name, end_zone),
        "isAllDay": f.is_all_day,
    }
    if f.body:
        body["body"] = _body(f.body)
    if f.location:
        body["location"] = {"displayName": f.location}
    body["showAs"] = _SHOW_AS[f.show_as]
    if f.reminder is not None and f.reminder.is_set is not None:
        body["isReminderOn"] = f.reminder.is_set
    if f.reminder is not None and f.reminder.minutes_before is not None:
        body["reminderMinutesBeforeStart"] = f.reminder.minutes_before
    body["sensitivity"] = _SENSITIVITY[f.sensitivity]
    body["importance"] = _IMPORTANCE[f.importance]
    if f.series:
        body["recurrence"] = recurrence(f.series.recurrence, zone_name)
    if f.categories:
        body["categories"] = list(f.categories)
    extended = split_extended(upload.extended, frozenset({mapi.PR_MESSAGE_FLAGS}))
    people = extended["singleValueExtendedProperties"]
    required = [*f.attendees.required, *f.attendees.resources]
    if required:
        people.append({"id": TO_ATTENDEES, "value": _people(required)})
    if f.attendees.optional:
        people.append({"id": CC_ATTENDEES, "value": _people(f.attendees.optional)})
    if f.organizer is not None:
        people.append({"id": ORGANIZER_NAME, "value": _people([f.organizer])})
    extended["singleValueExtendedProperties"] = stamps(upload) + people
    extended.pop("categories", None)
    body.update(extended)
    return body


# -- contacts, lists, tasks -------------------------------------------------------------------------
_CONTACT_TEXT = {
    "given_name": "givenName",
    "surname": "surname",
    "middle_name": "middleName",
    "nickname": "nickName",
    "generation": "generation",
    "initials": "initials",
    "display_name": "displayName",
    "file_as": "fileAs",
    "company": "companyName",
    "job_title": "jobTitle",
    "department": "department",
    "manager": "manager",
    "assistant_name": "assistantName",
    "profession": "profession",
    "spouse_name": "spouseName",
    "business_homepage": "businessHomePage",
}
_PHONES = {
    PhoneKind.BUSINESS: "businessPhones",
    PhoneKind.BUSINESS_2: "businessPhones",
    PhoneKind.HOME: "homePhones",
    PhoneKind.HOME_2: "homePhones",
}
_ADDRESSES = {
    AddressKind.BUSINESS: "businessAddress",
    AddressKind.HOME: "homeAddress",
    AddressKind.OTHER: "otherAddress",
}


def _postal(address: PostalAddress) -> dict[str, str]:
    parts = (
        ("street", address.street),
        ("city", address.city),
        ("state", address.state),
        ("countryOrRegion", address.country),
        ("postalCode", address.postal_code),
    )
    return {graph: value for graph, value in parts if value}


def contact(upload: UploadItem) -> dict[str, Any]:
    """A contact; a distribution list is a contact listing its members in its notes."""
    f = upload.value
    if not isinstance(f, Contact | DistributionList):
        raise TypeError(f"{upload.item_class} holds no contact")
    body: dict[str, Any] = {}
    notes = f.body.text if f.body else ""
    if isinstance(f, Contact):
        body = {graph: str(getattr(f, key)) for key, graph in _CONTACT_TEXT.items() if getattr(f, key)}
        emails = [{"address": e.address, "name": e.name or e.address} for e in f.emails]
        if emails:
            body["emailAddresses"] = emails[:3]
        for phone in f.phones:
            if phone.kind is PhoneKind.MOBILE:
                body["mobilePhone"] = phone.number
            elif phone.kind in _PHONES:
                body.setdefault(_PHONES[phone.kind], []).append(phone.number)
        for address in f.addresses:
            body[_ADDRESSES[address.kind]] = _postal(address)
        if f.birthday is not None:
            body["birthday"] = f"{f.birthday.isoformat()}T00:00:00Z"
        if f.children:
            body["children"] = list(f.children)
        if f.im_address:
            body["imAddresses"] = [f.im_address]
    else:
        body = {
            graph: str(getattr(f, key))
            for key, graph in (("display_name", "displayName"), ("file_as", "fileAs"))
            if getattr(f, key)
        }
        body.setdefault("displayName", upload.subject)
        members = [f"{m.name or ''} <{m.email or ''}>".strip() for m in f.members]
        notes = "Distribution list members:\n" + "\n".join(members) + (f"\n\n{notes}" if notes else "")
    if notes:
        body["personalNotes"] = notes
    if f.categories:
        body["categories"] = list(f.categories)
    extended = split_extended(upload.extended, frozenset({mapi.PR_MESSAGE_FLAGS}))
    extended.pop("categories", None)
    pending = [{"id": ATTACHMENTS_PENDING, "value": "true"}] if photo(upload) else []
    extended["singleValueExtendedProperties"] = stamps(upload) + pending + extended["singleValueExtendedProperties"]
    body.update(extended)
    return body


def photo(upload: UploadItem) -> bytes | None:
    """A contact's picture, sent after the contact (PUT …/photo/$value) while it is stamped pending."""
    value = upload.value.photo if isinstance(upload.value, Contact) else None
    return bytes(value) if value else None


def _utc(value: dt.date | None) -> dict[str, str] | None:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return {
            "dateTime": moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "timeZone": "UTC",
        }
    if isinstance(value, dt.date):
        return {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": "UTC"}
    return None


def todo_task(upload: UploadItem) -> dict[str, Any]:
    f = _value(upload, Task)
    body: dict[str, Any] = {"title": upload.subject or f.subject, "status": _TASK_STATUS[f.status]}
    if f.body:
        body["body"] = _body(f.body)
    body["importance"] = _IMPORTANCE[f.importance]
    reminder = f.reminder or Reminder()
    for value, graph in (
        (f.due_date, "dueDateTime"),
        (f.start_date, "startDateTime"),
        (f.completed, "completedDateTime"),
        (reminder.due, "reminderDateTime"),
    ):
        when = _utc(value)
        if when:
            body[graph] = when
    if reminder.is_set:
        body["isReminderOn"] = True
    if f.categories:
        body["categories"] = list(f.categories)
    body["extensions"] = [
        {
            "@odata.type": "#microsoft.graph.openTypeExtension",
            "extensionName": EXTENSION_NAME,
            "identity": upload.identity,
        }
    ]
    return body


#: What each kind keeps over Graph, and what it cannot carry (reported as a warning on every such item).
LOSSES = {
    "task": "To Do keeps title, body, status, dates, importance and categories; percent complete, effort, "
    "owner, companies, recurrence and the MAPI properties are not kept",
    "distlist": "kept as a contact listing the members in its notes (Graph has no personal lists)",
    "note": "kept as a message of class IPM.StickyNote in a mail folder (Graph has no sticky notes)",
    "journal": "kept as a message of class IPM.Activity in a mail folder (Graph has no journal)",
}


def cannot_carry(upload: UploadItem) -> list[ItemWarning]:
    notes = []
    if upload.kind in LOSSES:
        notes.append(warn.cannot_carry(f"over Graph, a {upload.kind}", LOSSES[upload.kind]))
    if isinstance(upload.value, Appointment) and upload.value.attendees:
        notes.append(
            warn.cannot_carry(
                "over Graph, meeting attendees are kept as display text only", "creating them would invite them"
            )
        )
    if upload.extra_extended:
        notes.append(
            warn.cannot_carry(
                "over Graph, best-effort properties are not carried",
                f"{len(upload.extra_extended)} of class {upload.item_class}",
            )
        )
    if upload.kind == "message" and is_draft(upload):
        notes.append(
            warn.cannot_carry("over Graph, an unsent draft is created from JSON", "its MIME headers are not kept")
        )
    return notes
