"""What an item is, per kind, once converted: the typed contract between convert/ and the destinations.

A package of its own (vocabulary.py: the enums; kinds.py: the dataclasses) because it holds values only,
and beside `model.py`, not inside `convert/`, because both sides read it: convert/ fills it, each
destination maps it into its own vocabulary (EWS's CalendarItem fields, Graph's event JSON, .ics/.vcf for
export), and none of them speaks through another's words. The enums' values are neutral (lower-case
words), never EWS or Graph spellings.

Adding a kind (a user-configuration object, say): a frozen dataclass in kinds.py, a member of `ItemKind`, a
member of the `ItemValue` union, and one mapping in each destination; mypy's `assert_never` in each
mapping names the places a new kind has not reached.
"""

from pipeline.item_values.kinds import (
    Appointment,
    Attached,
    Attendee,
    Attendees,
    Body,
    Contact,
    ContactEmail,
    DistributionList,
    FileAttachment,
    ItemAttachment,
    ItemValue,
    JournalEntry,
    ListMember,
    MailMessage,
    ModifiedOccurrence,
    Pattern,
    Person,
    Phone,
    PostalAddress,
    Recurrence,
    Reminder,
    Series,
    StickyNote,
    Task,
    TypedItem,
)
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

__all__ = [
    "AddressKind",
    "Appointment",
    "Attached",
    "Attendee",
    "Attendees",
    "Body",
    "Contact",
    "ContactEmail",
    "DistributionList",
    "FileAttachment",
    "Importance",
    "ItemAttachment",
    "ItemKind",
    "ItemValue",
    "JournalEntry",
    "ListMember",
    "MailMessage",
    "ModifiedOccurrence",
    "Pattern",
    "PatternKind",
    "Person",
    "Phone",
    "PhoneKind",
    "PostalAddress",
    "Recurrence",
    "RelativeDay",
    "Reminder",
    "Response",
    "Sensitivity",
    "Series",
    "ShowAs",
    "StickyNote",
    "Task",
    "TaskStatus",
    "TypedItem",
    "WeekIndex",
    "Weekday",
]
