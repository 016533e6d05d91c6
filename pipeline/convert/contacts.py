"""Contacts as typed `Contact` values (names, e-mail addresses, phones, postal addresses, photo);
item_files.py writes the vCard 3.0 `rebuild export` keeps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import dates
from pipeline.convert.common import common
from pipeline.model import SourceItem

PHONES = {
    v.PhoneKind.BUSINESS: mapi.PR_BUSINESS_TELEPHONE_NUMBER,
    v.PhoneKind.BUSINESS_2: mapi.PR_BUSINESS2_TELEPHONE_NUMBER,
    v.PhoneKind.HOME: mapi.PR_HOME_TELEPHONE_NUMBER,
    v.PhoneKind.HOME_2: mapi.PR_HOME2_TELEPHONE_NUMBER,
    v.PhoneKind.MOBILE: mapi.PR_MOBILE_TELEPHONE_NUMBER,
    v.PhoneKind.BUSINESS_FAX: mapi.PR_BUSINESS_FAX_NUMBER,
    v.PhoneKind.HOME_FAX: mapi.PR_HOME_FAX_NUMBER,
    v.PhoneKind.OTHER_FAX: mapi.PR_PRIMARY_FAX_NUMBER,
    v.PhoneKind.PAGER: mapi.PR_PAGER_TELEPHONE_NUMBER,
    v.PhoneKind.CAR: mapi.PR_CAR_TELEPHONE_NUMBER,
    v.PhoneKind.ASSISTANT: mapi.PR_ASSISTANT_TELEPHONE_NUMBER,
    v.PhoneKind.CALLBACK: mapi.PR_CALLBACK_TELEPHONE_NUMBER,
    v.PhoneKind.COMPANY_MAIN: mapi.PR_COMPANY_MAIN_PHONE_NUMBER,
    v.PhoneKind.ISDN: mapi.PR_ISDN_NUMBER,
    v.PhoneKind.OTHER: mapi.PR_OTHER_TELEPHONE_NUMBER,
    v.PhoneKind.PRIMARY: mapi.PR_PRIMARY_TELEPHONE_NUMBER,
    v.PhoneKind.RADIO: mapi.PR_RADIO_TELEPHONE_NUMBER,
    v.PhoneKind.TELEX: mapi.PR_TELEX_NUMBER,
    v.PhoneKind.TTY_TDD: mapi.PR_TTYTDD_PHONE_NUMBER,
}
SIMPLE = {
    "given_name": mapi.PR_GIVEN_NAME,
    "surname": mapi.PR_SURNAME,
    "middle_name": mapi.PR_MIDDLE_NAME,
    "generation": mapi.PR_GENERATION,
    "initials": mapi.PR_INITIALS,
    "nickname": mapi.PR_NICKNAME,
    "company": mapi.PR_COMPANY_NAME,
    "job_title": mapi.PR_TITLE,
    "department": mapi.PR_DEPARTMENT_NAME,
    "office": mapi.PR_OFFICE_LOCATION,
    "profession": mapi.PR_PROFESSION,
    "manager": mapi.PR_MANAGER_NAME,
    "assistant_name": mapi.PR_ASSISTANT,
    "spouse_name": mapi.PR_SPOUSE_NAME,
    "business_homepage": mapi.PR_BUSINESS_HOME_PAGE,
    "display_name": mapi.PR_DISPLAY_NAME,
}
ADDRESSES = {
    v.AddressKind.BUSINESS: (
        ("street", mapi.LID_WORK_ADDRESS_STREET),
        ("city", mapi.LID_WORK_ADDRESS_CITY),
        ("state", mapi.LID_WORK_ADDRESS_STATE),
        ("postal_code", mapi.LID_WORK_ADDRESS_POSTAL_CODE),
        ("country", mapi.LID_WORK_ADDRESS_COUNTRY),
    ),
    v.AddressKind.HOME: (
        ("street", mapi.PR_HOME_ADDRESS_STREET),
        ("city", mapi.PR_HOME_ADDRESS_CITY),
        ("state", mapi.PR_HOME_ADDRESS_STATE_OR_PROVINCE),
        ("postal_code", mapi.PR_HOME_ADDRESS_POSTAL_CODE),
        ("country", mapi.PR_HOME_ADDRESS_COUNTRY),
    ),
    v.AddressKind.OTHER: (
        ("street", mapi.PR_OTHER_ADDRESS_STREET),
        ("city", mapi.PR_OTHER_ADDRESS_CITY),
        ("state", mapi.PR_OTHER_ADDRESS_STATE_OR_PROVINCE),
        ("postal_code", mapi.PR_OTHER_ADDRESS_POSTAL_CODE),
        ("country", mapi.PR_OTHER_ADDRESS_COUNTRY),
    ),
}
#: The business address also lives in tagged properties when the named ones are absent.
BUSINESS_TAGGED = {
    "street": mapi.PR_STREET_ADDRESS,
    "city": mapi.PR_LOCALITY,
    "state": mapi.PR_STATE_OR_PROVINCE,
    "postal_code": mapi.PR_POSTAL_CODE,
    "country": mapi.PR_COUNTRY,
}
POSTAL_INDEX = {1: v.AddressKind.HOME, 2: v.AddressKind.BUSINESS, 3: v.AddressKind.OTHER}


def photo(item: SourceItem) -> bytes | None:
    """The contact picture: the attachment Outlook flags with PR_ATTACHMENT_CONTACTPHOTO."""
    for att in item.attachments:
        if att.properties.get(0x7FFF) and att.method == mapi.ATTACH_BY_VALUE:
            try:
                return att.read() or None
            except Exception:
                return None
    return None


def _email(item: SourceItem, slot: int, lids: mapi.ContactEmailLids) -> v.ContactEmail | None:
    address = props.named_text(item, mapi.PSETID_ADDRESS, lids.address)
    if not address:
        return None
    kind = props.named_text(item, mapi.PSETID_ADDRESS, lids.address_type)
    display = props.named_text(item, mapi.PSETID_ADDRESS, lids.display_name)
    return v.ContactEmail(slot, address, display or None, kind if kind and kind.upper() != "SMTP" else None)


def _postal(item: SourceItem, kind: v.AddressKind, parts: tuple[tuple[str, int], ...]) -> v.PostalAddress | None:
    found: dict[str, str] = {}
    for key, ident in parts:
        value = props.named_text(item, mapi.PSETID_ADDRESS, ident) if ident >= 0x8000 else props.text(item, ident)
        if not value and kind is v.AddressKind.BUSINESS:
            value = props.text(item, BUSINESS_TAGGED[key])
        if value:
            found[key] = value
    return v.PostalAddress(kind, **found) if found else None


def contact(item: SourceItem) -> tuple[v.Contact, list[str]]:
    """The contact and what could not be carried (nothing today), in words."""
    fields = common(item)
    reminder = fields["reminder"]
    if reminder is not None:  # a contact's reminder flag is not carried, its times are
        reminder = dataclasses.replace(reminder, is_set=None)
        fields["reminder"] = None if reminder == v.Reminder() else reminder
    emails = tuple(e for slot, lids in enumerate(mapi.CONTACT_EMAILS, 1) if (e := _email(item, slot, lids)) is not None)
    postal = tuple(a for kind, parts in ADDRESSES.items() if (a := _postal(item, kind, parts)) is not None)
    day = {
        name: dates.calendar_date(item.prop(tag), item.named_prop(mapi.PSETID_ADDRESS, lid))
        for name, tag, lid in (
            ("birthday", mapi.PR_BIRTHDAY, dates.LID_BIRTHDAY_LOCAL),
            ("anniversary", mapi.PR_WEDDING_ANNIVERSARY, dates.LID_WEDDING_ANNIVERSARY_LOCAL),
        )
    }
    names: dict[str, Any] = {name: props.text(item, tag) or None for name, tag in SIMPLE.items()}
    index = props.named_int(item, mapi.PSETID_ADDRESS, mapi.LID_POSTAL_ADDRESS_ID)
    value = v.Contact(
        **fields,
        **names,
        file_as=props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_FILE_UNDER) or None,
        emails=emails,
        phones=tuple(v.Phone(kind, number) for kind, tag in PHONES.items() if (number := props.text(item, tag))),
        addresses=postal,
        mailing_address=POSTAL_INDEX.get(index) if index is not None else None,
        birthday=day["birthday"] or None,
        anniversary=day["anniversary"] or None,
        children=tuple(props.string_list(item.prop(mapi.PR_CHILDRENS_NAMES), props.item_codepage(item)) or ()),
        im_address=props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_INSTANT_MESSAGING_ADDRESS) or None,
        photo=photo(item),
    )
    return value, []
