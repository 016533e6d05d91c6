"""Typed item values (pipeline.item_values) -> exchangelib field names and values, per kind.

The one place that knows EWS's vocabulary for an item: the names of exchangelib's fields, its enumerations
('Busy', 'NotStarted', 'EmailAddress1', 'Business'), its Recurrence patterns and Mailbox objects. What
build_item and the fast path (item_xml) write, and what cannot_carry checks against the item type, is
this mapping's result; neither reads the item values themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_never

from exchangelib import Attendee as EwsAttendee
from exchangelib import (
    Body,
    EWSDate,
    EWSDateTime,
    FileAttachment,
    HTMLBody,
    ItemAttachment,
    Mailbox,
    Message,
)
from exchangelib.indexed_properties import EmailAddress, ImAddress, PhoneNumber, PhysicalAddress
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

from pipeline import item_values as v

SENSITIVITY = {
    v.Sensitivity.NORMAL: "Normal",
    v.Sensitivity.PERSONAL: "Personal",
    v.Sensitivity.PRIVATE: "Private",
    v.Sensitivity.CONFIDENTIAL: "Confidential",
}
IMPORTANCE = {v.Importance.LOW: "Low", v.Importance.NORMAL: "Normal", v.Importance.HIGH: "High"}
SHOW_AS = {
    v.ShowAs.FREE: "Free",
    v.ShowAs.TENTATIVE: "Tentative",
    v.ShowAs.BUSY: "Busy",
    v.ShowAs.OUT_OF_OFFICE: "OOF",
    v.ShowAs.WORKING_ELSEWHERE: "WorkingElsewhere",
}
RESPONSE = {
    v.Response.UNKNOWN: "Unknown",
    v.Response.ORGANIZER: "Organizer",
    v.Response.TENTATIVE: "Tentative",
    v.Response.ACCEPTED: "Accept",
    v.Response.DECLINED: "Decline",
    v.Response.NO_RESPONSE: "NoResponseReceived",
}
TASK_STATUS = {
    v.TaskStatus.NOT_STARTED: "NotStarted",
    v.TaskStatus.IN_PROGRESS: "InProgress",
    v.TaskStatus.COMPLETED: "Completed",
    v.TaskStatus.WAITING_ON_OTHERS: "WaitingOnOthers",
    v.TaskStatus.DEFERRED: "Deferred",
}
WEEKDAY = {d: d.value.capitalize() for d in v.Weekday}  # 'Monday'
RELATIVE_DAY = {
    **{v.RelativeDay(d.value): name for d, name in WEEKDAY.items()},
    v.RelativeDay.DAY: "Day",
    v.RelativeDay.WEEKDAY: "Weekday",
    v.RelativeDay.WEEKEND_DAY: "WeekendDay",
}
WEEK = {
    v.WeekIndex.FIRST: "First",
    v.WeekIndex.SECOND: "Second",
    v.WeekIndex.THIRD: "Third",
    v.WeekIndex.FOURTH: "Fourth",
    v.WeekIndex.LAST: "Last",
}
PHONE = {
    v.PhoneKind.BUSINESS: "BusinessPhone",
    v.PhoneKind.BUSINESS_2: "BusinessPhone2",
    v.PhoneKind.HOME: "HomePhone",
    v.PhoneKind.HOME_2: "HomePhone2",
    v.PhoneKind.MOBILE: "MobilePhone",
    v.PhoneKind.BUSINESS_FAX: "BusinessFax",
    v.PhoneKind.HOME_FAX: "HomeFax",
    v.PhoneKind.OTHER_FAX: "OtherFax",
    v.PhoneKind.PAGER: "Pager",
    v.PhoneKind.CAR: "CarPhone",
    v.PhoneKind.ASSISTANT: "AssistantPhone",
    v.PhoneKind.CALLBACK: "Callback",
    v.PhoneKind.COMPANY_MAIN: "CompanyMainPhone",
    v.PhoneKind.ISDN: "Isdn",
    v.PhoneKind.OTHER: "OtherTelephone",
    v.PhoneKind.PRIMARY: "PrimaryPhone",
    v.PhoneKind.RADIO: "RadioPhone",
    v.PhoneKind.TELEX: "Telex",
    v.PhoneKind.TTY_TDD: "TtyTddPhone",
}
ADDRESS = {v.AddressKind.BUSINESS: "Business", v.AddressKind.HOME: "Home", v.AddressKind.OTHER: "Other"}

#: Names this mapping gives for what build_item carries some other way (never an item type's field).
ATTACHMENTS, PHOTO, START_ZONE, END_ZONE = "attachments", "photo", "start_timezone", "end_timezone"
CARRIED_OTHERWISE = frozenset({ATTACHMENTS, PHOTO, START_ZONE, END_ZONE, "timezone_description", "is_meeting"})


def ews_time(value: dt.date) -> EWSDate | EWSDateTime:
    if isinstance(value, dt.datetime):
        return EWSDateTime.from_datetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return EWSDate.from_date(value)


def body(value: v.Body) -> Body:
    return HTMLBody(value.text) if value.html else Body(value.text)


def mailbox(person: v.Person) -> Mailbox:
    return Mailbox(name=person.name or None, email_address=person.email or None, routing_type="SMTP")


def _attendees(values: tuple[v.Attendee, ...]) -> list[EwsAttendee]:
    return [EwsAttendee(mailbox=mailbox(a.person), response_type=RESPONSE[a.response]) for a in values]


def _member(member: v.ListMember) -> Member:
    """A list member as a OneOff address, as Outlook stored it: MailboxType Mailbox (exchangelib's default)
    must name an account of the organisation, which outside members are not."""
    return Member(
        mailbox=Mailbox(
            name=member.name or None,
            email_address=member.email or None,
            routing_type=member.address_type or "SMTP",
            mailbox_type="OneOff",
        )
    )


def recurrence(spec: v.Recurrence, task: bool = False) -> Recurrence | TaskRecurrence:
    rule = spec.pattern
    pattern: Any
    match rule.kind:
        case v.PatternKind.DAILY:
            pattern = DailyPattern(interval=rule.interval)
        case v.PatternKind.WEEKLY:
            pattern = WeeklyPattern(
                interval=rule.interval,
                weekdays=[WEEKDAY[d] for d in rule.weekdays],
                first_day_of_week=WEEKDAY[rule.first_day_of_week or v.Weekday.SUNDAY],
            )
        case v.PatternKind.ABSOLUTE_MONTHLY:
            pattern = AbsoluteMonthlyPattern(interval=rule.interval, day_of_month=rule.day_of_month)
        case v.PatternKind.ABSOLUTE_YEARLY:
            pattern = AbsoluteYearlyPattern(day_of_month=rule.day_of_month, month=rule.month)
        case v.PatternKind.RELATIVE_MONTHLY:
            pattern = RelativeMonthlyPattern(
                interval=rule.interval,
                weekday=RELATIVE_DAY[rule.day or v.RelativeDay.DAY],
                week_number=WEEK[rule.week or v.WeekIndex.FIRST],
            )
        case v.PatternKind.RELATIVE_YEARLY:
            pattern = RelativeYearlyPattern(
                weekday=RELATIVE_DAY[rule.day or v.RelativeDay.DAY],
                week_number=WEEK[rule.week or v.WeekIndex.FIRST],
                month=rule.month,
            )
        case _:
            assert_never(rule.kind)
    start = ews_time(spec.start)
    boundary: Any
    if spec.count:
        boundary = NumberedPattern(start=start, number=spec.count)
    elif spec.end:
        boundary = EndDatePattern(start=start, end=ews_time(spec.end))
    else:
        boundary = NoEndPattern(start=start)
    return (TaskRecurrence if task else Recurrence)(pattern=pattern, boundary=boundary)


def attachment(value: v.Attached) -> FileAttachment | ItemAttachment:
    """A file, or an embedded item as an item attachment holding a MIME message."""
    if isinstance(value, v.ItemAttachment):
        return ItemAttachment(name=value.name, item=Message(mime_content=value.mime))
    return FileAttachment(
        name=value.name,
        content=value.content,
        content_type=value.content_type,
        content_id=value.content_id,
        is_inline=value.is_inline,
    )


def _common(item: v.TypedItem) -> dict[str, Any]:
    out: dict[str, Any] = {"subject": item.subject}
    if item.body is not None:
        out["body"] = body(item.body)
    out["sensitivity"] = SENSITIVITY[item.sensitivity]
    out["importance"] = IMPORTANCE[item.importance]
    if item.categories:
        out["categories"] = list(item.categories)
    reminder = item.reminder
    if reminder is not None:
        if reminder.is_set is not None:
            out["reminder_is_set"] = reminder.is_set
        if reminder.minutes_before is not None:
            out["reminder_minutes_before_start"] = reminder.minutes_before
        if reminder.due is not None:
            out["reminder_due_by"] = ews_time(reminder.due)
    if item.attachments:
        out[ATTACHMENTS] = [attachment(a) for a in item.attachments]
    return out


def _appointment(item: v.Appointment) -> dict[str, Any]:
    out = _common(item)
    out.update(is_all_day=item.is_all_day, start=ews_time(item.start), end=ews_time(item.end))
    for name, value in (
        (START_ZONE, item.start_zone),
        (END_ZONE, item.end_zone),
        ("timezone_description", item.zone_description),
        ("location", item.location),
        ("uid", item.uid),
    ):
        if value:
            out[name] = value
    out.update(
        legacy_free_busy_status=SHOW_AS[item.show_as], is_meeting=item.is_meeting, is_cancelled=item.is_cancelled
    )
    if item.organizer is not None:
        out["organizer"] = mailbox(item.organizer)
    for name, people in (
        ("required_attendees", item.attendees.required),
        ("optional_attendees", item.attendees.optional),
        ("resources", item.attendees.resources),
    ):
        if people:
            out[name] = _attendees(people)
    if item.series is not None:
        out["recurrence"] = recurrence(item.series.recurrence)
    return out


_CONTACT_TEXT = {
    "display_name": "display_name",
    "given_name": "given_name",
    "surname": "surname",
    "middle_name": "middle_name",
    "generation": "generation",
    "initials": "initials",
    "nickname": "nickname",
    "company": "company_name",
    "job_title": "job_title",
    "department": "department",
    "office": "office",
    "profession": "profession",
    "manager": "manager",
    "assistant_name": "assistant_name",
    "spouse_name": "spouse_name",
    "business_homepage": "business_homepage",
    "file_as": "file_as",
}


def _contact(item: v.Contact) -> dict[str, Any]:
    out = _common(item)
    out.update({name: getattr(item, key) for key, name in _CONTACT_TEXT.items() if getattr(item, key)})
    if item.emails:
        out["email_addresses"] = [EmailAddress(label=f"EmailAddress{e.slot}", email=e.address) for e in item.emails]
    if item.phones:
        out["phone_numbers"] = [PhoneNumber(label=PHONE[p.kind], phone_number=p.number) for p in item.phones]
    if item.addresses:
        out["physical_addresses"] = [
            PhysicalAddress(
                **{
                    k: val
                    for k, val in (
                        ("label", ADDRESS[a.kind]),
                        ("street", a.street),
                        ("city", a.city),
                        ("state", a.state),
                        ("zipcode", a.postal_code),
                        ("country", a.country),
                    )
                    if val
                }
            )
            for a in item.addresses
        ]
    if item.mailing_address is not None:
        out["postal_address_index"] = ADDRESS[item.mailing_address]
    if item.birthday is not None:
        out["birthday"] = ews_time(item.birthday)
    if item.anniversary is not None:
        out["wedding_anniversary"] = ews_time(item.anniversary)
    if item.children:
        out["children"] = list(item.children)
    if item.im_address:
        out["im_addresses"] = [ImAddress(label="ImAddress1", im_address=item.im_address)]
    if item.photo:
        out[PHOTO] = item.photo
    return out


def _distribution_list(item: v.DistributionList) -> dict[str, Any]:
    out = _common(item)
    out["display_name"] = item.display_name
    if item.file_as:
        out["file_as"] = item.file_as
    out["members"] = [_member(m) for m in item.members]
    return out


def _task(item: v.Task) -> dict[str, Any]:
    out = _common(item)
    out["status"] = TASK_STATUS[item.status]
    for name, value in (
        ("percent_complete", item.percent_complete),
        ("start_date", item.start_date),
        ("due_date", item.due_date),
        ("complete_date", item.completed),
    ):
        if value is not None:
            out[name] = ews_time(value) if isinstance(value, dt.date) else value
    for name, minutes in (("actual_work", item.actual_minutes), ("total_work", item.estimated_minutes)):
        if minutes:
            out[name] = minutes
    for name, text in (("owner", item.owner), ("billing_information", item.billing), ("mileage", item.mileage)):
        if text:
            out[name] = text
    if item.companies:
        out["companies"] = list(item.companies)
    if item.recurrence is not None:
        out["recurrence"] = recurrence(item.recurrence, task=True)
    return out


def ews_fields(value: v.ItemValue | None) -> dict[str, Any]:
    """exchangelib field name -> value for one item; names in CARRIED_OTHERWISE are not fields of the type."""
    match value:
        case None:
            return {}
        case v.MailMessage():
            return {"item_class": value.item_class} if value.item_class else {}
        case v.Appointment():
            return _appointment(value)
        case v.Contact():
            return _contact(value)
        case v.DistributionList():
            return _distribution_list(value)
        case v.Task():
            return _task(value)
        case v.StickyNote():
            out = _common(value)
            if value.item_class:
                out["item_class"] = value.item_class
            return out
        case v.JournalEntry():
            out = _common(value)
            if value.item_class:
                out["item_class"] = value.item_class
            for name, moment in (("start", value.start), ("end", value.end)):
                if moment is not None:
                    out[name] = ews_time(moment)
            return out
        case _:
            assert_never(value)


def item_class_of(value: v.ItemValue | None) -> str | None:
    """The class the item is created with where its EWS type does not say it (a report, a note, …)."""
    if isinstance(value, v.MailMessage | v.StickyNote | v.JournalEntry):
        return value.item_class
    return None
