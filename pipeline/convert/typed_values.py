"""The kinds' field dicts (what calendar.py, contacts.py, tasks.py, distlists.py and notes.py describe)
made into the typed item values of `pipeline.item_values`: pure, the one place that knows both.

The builders keep describing an item as a dict of named values (small functions, each a property or
two, that are easy to edit); this module is where their names end, so no destination reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline import item_values as v

SENSITIVITY = {
    "Normal": v.Sensitivity.NORMAL,
    "Personal": v.Sensitivity.PERSONAL,
    "Private": v.Sensitivity.PRIVATE,
    "Confidential": v.Sensitivity.CONFIDENTIAL,
}
IMPORTANCE = {"Low": v.Importance.LOW, "Normal": v.Importance.NORMAL, "High": v.Importance.HIGH}
SHOW_AS = {
    "Free": v.ShowAs.FREE,
    "Tentative": v.ShowAs.TENTATIVE,
    "Busy": v.ShowAs.BUSY,
    "OOF": v.ShowAs.OUT_OF_OFFICE,
    "WorkingElsewhere": v.ShowAs.WORKING_ELSEWHERE,
}
RESPONSE = {
    "Unknown": v.Response.UNKNOWN,
    "Organizer": v.Response.ORGANIZER,
    "Tentative": v.Response.TENTATIVE,
    "Accept": v.Response.ACCEPTED,
    "Decline": v.Response.DECLINED,
    "NoResponseReceived": v.Response.NO_RESPONSE,
}
TASK_STATUS = {
    "NotStarted": v.TaskStatus.NOT_STARTED,
    "InProgress": v.TaskStatus.IN_PROGRESS,
    "Completed": v.TaskStatus.COMPLETED,
    "WaitingOnOthers": v.TaskStatus.WAITING_ON_OTHERS,
    "Deferred": v.TaskStatus.DEFERRED,
}
WEEK = {
    "First": v.WeekIndex.FIRST,
    "Second": v.WeekIndex.SECOND,
    "Third": v.WeekIndex.THIRD,
    "Fourth": v.WeekIndex.FOURTH,
    "Last": v.WeekIndex.LAST,
}
RELATIVE = {"Day": v.RelativeDay.DAY, "Weekday": v.RelativeDay.WEEKDAY, "WeekendDay": v.RelativeDay.WEEKEND_DAY}
PHONES = {
    "BusinessPhone": v.PhoneKind.BUSINESS,
    "BusinessPhone2": v.PhoneKind.BUSINESS_2,
    "HomePhone": v.PhoneKind.HOME,
    "HomePhone2": v.PhoneKind.HOME_2,
    "MobilePhone": v.PhoneKind.MOBILE,
    "BusinessFax": v.PhoneKind.BUSINESS_FAX,
    "HomeFax": v.PhoneKind.HOME_FAX,
    "OtherFax": v.PhoneKind.OTHER_FAX,
    "Pager": v.PhoneKind.PAGER,
    "CarPhone": v.PhoneKind.CAR,
    "AssistantPhone": v.PhoneKind.ASSISTANT,
    "Callback": v.PhoneKind.CALLBACK,
    "CompanyMainPhone": v.PhoneKind.COMPANY_MAIN,
    "Isdn": v.PhoneKind.ISDN,
    "OtherTelephone": v.PhoneKind.OTHER,
    "PrimaryPhone": v.PhoneKind.PRIMARY,
    "RadioPhone": v.PhoneKind.RADIO,
    "Telex": v.PhoneKind.TELEX,
    "TtyTddPhone": v.PhoneKind.TTY_TDD,
}
ADDRESS = {"Business": v.AddressKind.BUSINESS, "Home": v.AddressKind.HOME, "Other": v.AddressKind.OTHER}


def _body(fields: dict[str, Any]) -> v.Body | None:
    text = fields.get("body")
    return v.Body(str(text), fields.get("body_type") == "html") if text else None


def _reminder(fields: dict[str, Any]) -> v.Reminder | None:
    found = v.Reminder(
        fields.get("reminder_is_set"), fields.get("reminder_minutes_before_start"), fields.get("reminder_due_by")
    )
    return None if found == v.Reminder() else found


def _attachments(values: list[dict[str, Any]]) -> tuple[v.Attached, ...]:
    out: list[v.Attached] = []
    for a in values:
        if a.get("item_mime") is not None:
            out.append(v.ItemAttachment(a.get("name") or "item", a["item_mime"]))
        else:
            out.append(
                v.FileAttachment(
                    a.get("name") or "attachment",
                    a.get("content_type") or "application/octet-stream",
                    a.get("content") or b"",
                    a.get("content_id"),
                    bool(a.get("is_inline")),
                )
            )
    return tuple(out)


def _common(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject": fields.get("subject") or "",
        "body": _body(fields),
        "sensitivity": SENSITIVITY.get(str(fields.get("sensitivity")), v.Sensitivity.NORMAL),
        "importance": IMPORTANCE.get(str(fields.get("importance")), v.Importance.NORMAL),
        "categories": tuple(str(c) for c in fields.get("categories") or ()),
        "reminder": _reminder(fields),
        "attachments": _attachments(fields.get("attachments") or []),
    }


def person(entry: dict[str, Any]) -> v.Person:
    return v.Person(entry.get("name") or None, entry.get("email") or None, entry.get("legacy_dn"))


def _attendees(fields: dict[str, Any]) -> v.Attendees:
    def row(key: str) -> tuple[v.Attendee, ...]:
        return tuple(
            v.Attendee(person(e), RESPONSE.get(str(e.get("response_type")), v.Response.UNKNOWN))
            for e in fields.get(key) or ()
        )

    return v.Attendees(row("required_attendees"), row("optional_attendees"), row("resources"))


def recurrence(spec: dict[str, Any]) -> v.Recurrence:
    """recurrence.describe()/pattern()'s dict as a typed Recurrence."""
    kind = v.PatternKind(spec["pattern"])
    weekday = spec.get("weekday")
    first = spec.get("first_day_of_week")
    pattern = v.Pattern(
        kind,
        int(spec.get("interval") or 1),
        tuple(v.Weekday(d.lower()) for d in spec.get("weekdays") or ()),
        v.Weekday(first.lower()) if first else None,
        spec.get("day_of_month"),
        spec.get("month"),
        (RELATIVE.get(weekday) or v.RelativeDay(weekday.lower())) if weekday else None,
        WEEK[spec["week_number"]] if spec.get("week_number") else None,
    )
    return v.Recurrence(pattern, spec["start"], spec.get("end"), spec.get("count"))


def _occurrence(entry: dict[str, Any]) -> v.ModifiedOccurrence:
    people = _attendees(entry)
    busy = entry.get("legacy_free_busy_status")
    return v.ModifiedOccurrence(
        entry["original_start"],
        entry["start"],
        entry["end"],
        entry.get("subject"),
        entry.get("location"),
        SHOW_AS.get(busy, v.ShowAs.BUSY) if busy else None,
        entry.get("reminder_is_set"),
        entry.get("reminder_minutes_before_start"),
        entry.get("is_all_day"),
        entry.get("meeting_type"),
        bool(entry.get("has_exceptional_body")),
        _body(entry),
        people or None,
    )


def appointment(fields: dict[str, Any]) -> v.Appointment:
    spec = fields.get("recurrence")
    series = (
        v.Series(
            recurrence(spec),
            tuple(spec.get("deleted_occurrences") or ()),
            tuple(_occurrence(e) for e in spec.get("modified_occurrences") or ()),
        )
        if spec
        else None
    )
    organizer = fields.get("organizer")
    return v.Appointment(
        **_common(fields),
        start=fields["start"],
        end=fields["end"],
        is_all_day=bool(fields.get("is_all_day")),
        start_zone=fields.get("start_timezone"),
        end_zone=fields.get("end_timezone"),
        zone_description=fields.get("timezone_description"),
        location=fields.get("location"),
        show_as=SHOW_AS.get(fields.get("legacy_free_busy_status", "Busy"), v.ShowAs.BUSY),
        is_meeting=bool(fields.get("is_meeting")),
        is_cancelled=bool(fields.get("is_cancelled")),
        uid=fields.get("uid"),
        organizer=person(organizer) if organizer else None,
        attendees=_attendees(fields),
        series=series,
    )


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


def contact(fields: dict[str, Any]) -> v.Contact:
    emails = tuple(
        v.ContactEmail(int(e.get("label", "EmailAddress1")[-1]), e["email"], e.get("name"), e.get("address_type"))
        for e in fields.get("email_addresses") or ()
        if e.get("email")
    )
    phones = tuple(
        v.Phone(PHONES[p["label"]], p["phone_number"])
        for p in fields.get("phone_numbers") or ()
        if p.get("phone_number")
    )
    postal = tuple(
        v.PostalAddress(
            ADDRESS[a["label"]], a.get("street"), a.get("city"), a.get("state"), a.get("zipcode"), a.get("country")
        )
        for a in fields.get("physical_addresses") or ()
    )
    im = [a.get("address") for a in fields.get("im_addresses") or () if a.get("address")]
    index = fields.get("postal_address_index")
    text: dict[str, Any] = {key: fields.get(name) for key, name in _CONTACT_TEXT.items()}
    return v.Contact(
        **_common(fields),
        **text,
        emails=emails,
        phones=phones,
        addresses=postal,
        mailing_address=ADDRESS.get(index or ""),
        birthday=fields.get("birthday"),
        anniversary=fields.get("wedding_anniversary"),
        children=tuple(fields.get("children") or ()),
        im_address=im[0] if im else None,
        photo=fields.get("photo"),
    )


def distribution_list(fields: dict[str, Any]) -> v.DistributionList:
    members = tuple(
        v.ListMember(m.get("name"), m.get("email"), m.get("address_type"), bool(m.get("linked_contact")))
        for m in fields.get("members") or ()
    )
    return v.DistributionList(
        **_common(fields), display_name=fields.get("display_name") or "", file_as=fields.get("file_as"), members=members
    )


def task(fields: dict[str, Any]) -> v.Task:
    spec = fields.get("recurrence")
    percent = fields.get("percent_complete")
    return v.Task(
        **_common(fields),
        status=TASK_STATUS.get(fields.get("status", ""), v.TaskStatus.NOT_STARTED),
        percent_complete=float(percent) if percent is not None else None,
        start_date=fields.get("start_date"),
        due_date=fields.get("due_date"),
        completed=fields.get("complete_date"),
        actual_minutes=fields.get("actual_work"),
        estimated_minutes=fields.get("total_work"),
        owner=fields.get("owner"),
        companies=tuple(fields.get("companies") or ()),
        billing=fields.get("billing_information"),
        mileage=fields.get("mileage"),
        recurrence=recurrence(spec) if spec else None,
    )


def sticky_note(fields: dict[str, Any]) -> v.StickyNote:
    return v.StickyNote(**_common(fields), item_class=fields.get("item_class") or "IPM.StickyNote")


def journal_entry(fields: dict[str, Any]) -> v.JournalEntry:
    return v.JournalEntry(
        **_common(fields),
        item_class=fields.get("item_class") or "IPM.Activity",
        start=fields.get("start"),
        end=fields.get("end"),
    )


BUILDERS: dict[str, Callable[[dict[str, Any]], v.ItemValue]] = {
    "calendar": appointment,
    "contact": contact,
    "distlist": distribution_list,
    "task": task,
    "note": sticky_note,
    "journal": journal_entry,
}


def typed(kind: str, fields: dict[str, Any], mime: bytes | None = None) -> v.ItemValue:
    """The typed value of one kind's fields (a message: its MIME and the class MIME does not say)."""
    if kind in ("message", "unknown"):
        return v.MailMessage(mime or b"", fields.get("item_class"), unknown=kind == "unknown")
    return BUILDERS[kind](fields)
