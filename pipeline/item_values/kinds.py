"""The item values per kind (frozen dataclasses) and the parts they are made of."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from pipeline.item_values.vocabulary import (
    AddressKind,
    Importance,
    ItemKind,
    PatternKind,
    PhoneKind,
    RelativeDay,
    Response,
    Sensitivity,
    ShowAs,
    TaskStatus,
    Weekday,
    WeekIndex,
)


# -- parts ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Body:
    text: str
    html: bool = False


@dataclass(frozen=True, slots=True)
class Person:
    """A party with a name and an address (SMTP, or what the source had when no SMTP address is known)."""

    name: str | None
    email: str | None
    legacy_dn: str | None = None  # the legacyExchangeDN it was resolved from, if any


@dataclass(frozen=True, slots=True)
class Attendee:
    person: Person
    response: Response = Response.UNKNOWN


@dataclass(frozen=True, slots=True)
class Attendees:
    """Who was invited: required (To), optional (Cc), resources (Bcc)."""

    required: tuple[Attendee, ...] = ()
    optional: tuple[Attendee, ...] = ()
    resources: tuple[Attendee, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.required or self.optional or self.resources)


@dataclass(frozen=True, slots=True)
class FileAttachment:
    name: str
    content_type: str
    content: bytes
    content_id: str | None = None
    is_inline: bool = False


@dataclass(frozen=True, slots=True)
class ItemAttachment:
    """An embedded message, as RFC 5322 bytes."""

    name: str
    mime: bytes


Attached = FileAttachment | ItemAttachment


@dataclass(frozen=True, slots=True)
class Reminder:
    """is_set None: the item says nothing of it (a contact's flag is not carried)."""

    is_set: bool | None = None
    minutes_before: int | None = None
    due: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Pattern:
    """How a series repeats; which fields count depends on kind."""

    kind: PatternKind
    interval: int = 1
    weekdays: tuple[Weekday, ...] = ()  # weekly
    first_day_of_week: Weekday | None = None  # weekly
    day_of_month: int | None = None  # absolute: 31 means the last day
    month: int | None = None  # yearly
    day: RelativeDay | None = None  # relative
    week: WeekIndex | None = None  # relative


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A pattern and its range: from start, until end (a date), or count times, or with no end."""

    pattern: Pattern
    start: dt.date
    end: dt.date | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class ModifiedOccurrence:
    """One exception of a series: the occurrence that started at original_start (UTC) now holds this.
    None stands for what the exception does not change."""

    original_start: dt.datetime
    start: dt.datetime
    end: dt.datetime
    subject: str | None = None
    location: str | None = None
    show_as: ShowAs | None = None
    reminder_is_set: bool | None = None
    reminder_minutes_before: int | None = None
    is_all_day: bool | None = None
    meeting_type: int | None = None
    has_exceptional_body: bool = False
    body: Body | None = None
    attendees: Attendees | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A recurring appointment's recurrence with its exceptions: deleted occurrences (their original
    starts, UTC) and modified ones. The destination applies the exceptions after creating the master."""

    recurrence: Recurrence
    deleted: tuple[dt.datetime, ...] = ()
    modified: tuple[ModifiedOccurrence, ...] = ()

    @property
    def has_exceptions(self) -> bool:
        return bool(self.deleted or self.modified)


# -- the kinds --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MailMessage:
    """A message travelling as MIME, with what MIME cannot carry: the item class (None for IPM.Note)."""

    mime: bytes
    item_class: str | None = None
    unknown: bool = False  # a class nobody knows, sent as a message keeping it

    @property
    def kind(self) -> ItemKind:
        return ItemKind.UNKNOWN if self.unknown else ItemKind.MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedItem:
    """What every typed (non-MIME) item holds."""

    subject: str = ""
    body: Body | None = None
    sensitivity: Sensitivity = Sensitivity.NORMAL
    importance: Importance = Importance.NORMAL
    categories: tuple[str, ...] = ()
    reminder: Reminder | None = None
    attachments: tuple[Attached, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Appointment(TypedItem):
    """An appointment or meeting; start/end are dates for an all-day one, aware UTC datetimes otherwise.
    start_zone/end_zone are Windows time zone names (what Outlook stores), the zone the series repeats in."""

    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    is_all_day: bool = False
    start_zone: str | None = None
    end_zone: str | None = None
    zone_description: str | None = None
    location: str | None = None
    show_as: ShowAs = ShowAs.BUSY
    is_meeting: bool = False
    is_cancelled: bool = False
    uid: str | None = None
    organizer: Person | None = None
    attendees: Attendees = Attendees()
    series: Series | None = None
    kind: ClassVar[ItemKind] = ItemKind.CALENDAR


@dataclass(frozen=True, slots=True)
class ContactEmail:
    slot: int  # 1, 2 or 3, as Outlook numbers them
    address: str
    name: str | None = None
    address_type: str | None = None  # when not SMTP


@dataclass(frozen=True, slots=True)
class Phone:
    kind: PhoneKind
    number: str


@dataclass(frozen=True, slots=True)
class PostalAddress:
    kind: AddressKind
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact(TypedItem):
    display_name: str | None = None
    given_name: str | None = None
    surname: str | None = None
    middle_name: str | None = None
    generation: str | None = None
    initials: str | None = None
    nickname: str | None = None
    company: str | None = None
    job_title: str | None = None
    department: str | None = None
    office: str | None = None
    profession: str | None = None
    manager: str | None = None
    assistant_name: str | None = None
    spouse_name: str | None = None
    business_homepage: str | None = None
    file_as: str | None = None
    emails: tuple[ContactEmail, ...] = ()
    phones: tuple[Phone, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    mailing_address: AddressKind | None = None  # which postal address letters go to
    birthday: dt.date | None = None
    anniversary: dt.date | None = None
    children: tuple[str, ...] = ()
    im_address: str | None = None
    photo: bytes | None = None
    kind: ClassVar[ItemKind] = ItemKind.CONTACT


@dataclass(frozen=True, slots=True)
class ListMember:
    name: str | None
    email: str | None
    address_type: str | None = None
    linked_contact: bool = False  # pointed at a contact of the old store (the link cannot survive)


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionList(TypedItem):
    display_name: str
    file_as: str | None = None
    members: tuple[ListMember, ...] = ()
    kind: ClassVar[ItemKind] = ItemKind.DISTLIST


@dataclass(frozen=True, slots=True, kw_only=True)
class Task(TypedItem):
    """start and due are the dates the user saw (midnight); completed an instant."""

    status: TaskStatus = TaskStatus.NOT_STARTED
    percent_complete: float | None = None
    start_date: dt.date | None = None
    due_date: dt.date | None = None
    completed: dt.datetime | None = None
    actual_minutes: int | None = None
    estimated_minutes: int | None = None
    owner: str | None = None
    companies: tuple[str, ...] = ()
    billing: str | None = None
    mileage: str | None = None
    recurrence: Recurrence | None = None
    kind: ClassVar[ItemKind] = ItemKind.TASK


@dataclass(frozen=True, slots=True, kw_only=True)
class StickyNote(TypedItem):
    """A note; its colour and size travel as extended properties on the UploadItem. item_class None once
    a server refused the class and the note went as a plain message."""

    item_class: str | None = "IPM.StickyNote"
    kind: ClassVar[ItemKind] = ItemKind.NOTE


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry(TypedItem):
    """A journal entry; its type and companions travel as extended properties on the UploadItem."""

    item_class: str | None = "IPM.Activity"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kind: ClassVar[ItemKind] = ItemKind.JOURNAL


#: Every kind a destination maps.
ItemValue = MailMessage | Appointment | Contact | DistributionList | Task | StickyNote | JournalEntry
