"""Contacts described as fields (names, e-mail addresses, phones, postal addresses, photo), which
typed_values.py makes a Contact; item_files.py writes the vCard 3.0 `rebuild export` keeps.

Field and label names follow exchangelib (EmailAddress 'EmailAddress1'.., PhoneNumber labels,
PhysicalAddress 'Business'/'Home'/'Other') so the uploader builds its objects without a table of its own.
"""

from __future__ import annotations

from typing import Any

from pipeline import mapi, props
from pipeline.convert import dates
from pipeline.convert.common import base_fields
from pipeline.model import SourceItem

PHONES = {
    "BusinessPhone": mapi.PR_BUSINESS_TELEPHONE_NUMBER,
    "BusinessPhone2": mapi.PR_BUSINESS2_TELEPHONE_NUMBER,
    "HomePhone": mapi.PR_HOME_TELEPHONE_NUMBER,
    "HomePhone2": mapi.PR_HOME2_TELEPHONE_NUMBER,
    "MobilePhone": mapi.PR_MOBILE_TELEPHONE_NUMBER,
    "BusinessFax": mapi.PR_BUSINESS_FAX_NUMBER,
    "HomeFax": mapi.PR_HOME_FAX_NUMBER,
    "OtherFax": mapi.PR_PRIMARY_FAX_NUMBER,
    "Pager": mapi.PR_PAGER_TELEPHONE_NUMBER,
    "CarPhone": mapi.PR_CAR_TELEPHONE_NUMBER,
    "AssistantPhone": mapi.PR_ASSISTANT_TELEPHONE_NUMBER,
    "Callback": mapi.PR_CALLBACK_TELEPHONE_NUMBER,
    "CompanyMainPhone": mapi.PR_COMPANY_MAIN_PHONE_NUMBER,
    "Isdn": mapi.PR_ISDN_NUMBER,
    "OtherTelephone": mapi.PR_OTHER_TELEPHONE_NUMBER,
    "PrimaryPhone": mapi.PR_PRIMARY_TELEPHONE_NUMBER,
    "RadioPhone": mapi.PR_RADIO_TELEPHONE_NUMBER,
    "Telex": mapi.PR_TELEX_NUMBER,
    "TtyTddPhone": mapi.PR_TTYTDD_PHONE_NUMBER,
}
SIMPLE = {
    "given_name": mapi.PR_GIVEN_NAME,
    "surname": mapi.PR_SURNAME,
    "middle_name": mapi.PR_MIDDLE_NAME,
    "generation": mapi.PR_GENERATION,
    "initials": mapi.PR_INITIALS,
    "nickname": mapi.PR_NICKNAME,
    "company_name": mapi.PR_COMPANY_NAME,
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
    "Business": (
        ("street", mapi.LID_WORK_ADDRESS_STREET),
        ("city", mapi.LID_WORK_ADDRESS_CITY),
        ("state", mapi.LID_WORK_ADDRESS_STATE),
        ("zipcode", mapi.LID_WORK_ADDRESS_POSTAL_CODE),
        ("country", mapi.LID_WORK_ADDRESS_COUNTRY),
    ),
    "Home": (
        ("street", mapi.PR_HOME_ADDRESS_STREET),
        ("city", mapi.PR_HOME_ADDRESS_CITY),
        ("state", mapi.PR_HOME_ADDRESS_STATE_OR_PROVINCE),
        ("zipcode", mapi.PR_HOME_ADDRESS_POSTAL_CODE),
        ("country", mapi.PR_HOME_ADDRESS_COUNTRY),
    ),
    "Other": (
        ("street", mapi.PR_OTHER_ADDRESS_STREET),
        ("city", mapi.PR_OTHER_ADDRESS_CITY),
        ("state", mapi.PR_OTHER_ADDRESS_STATE_OR_PROVINCE),
        ("zipcode", mapi.PR_OTHER_ADDRESS_POSTAL_CODE),
        ("country", mapi.PR_OTHER_ADDRESS_COUNTRY),
    ),
}
#: The business address also lives in tagged properties when the named ones are absent.
BUSINESS_TAGGED = {
    "street": mapi.PR_STREET_ADDRESS,
    "city": mapi.PR_LOCALITY,
    "state": mapi.PR_STATE_OR_PROVINCE,
    "zipcode": mapi.PR_POSTAL_CODE,
    "country": mapi.PR_COUNTRY,
}
EMAILS = (
    ("EmailAddress1", mapi.LID_EMAIL1_EMAIL_ADDRESS, mapi.LID_EMAIL1_ADDRTYPE, mapi.LID_EMAIL1_DISPLAY_NAME),
    ("EmailAddress2", mapi.LID_EMAIL2_EMAIL_ADDRESS, mapi.LID_EMAIL2_ADDRTYPE, mapi.LID_EMAIL2_DISPLAY_NAME),
    ("EmailAddress3", mapi.LID_EMAIL3_EMAIL_ADDRESS, mapi.LID_EMAIL3_ADDRTYPE, mapi.LID_EMAIL3_DISPLAY_NAME),
)
POSTAL_INDEX = {1: "Home", 2: "Business", 3: "Other"}


def photo(item: SourceItem) -> bytes | None:
    """The contact picture: the attachment Outlook flags with PR_ATTACHMENT_CONTACTPHOTO."""
    for att in item.attachments:
        if att.properties.get(0x7FFF) and att.method == mapi.ATTACH_BY_VALUE:
            try:
                return att.read() or None
            except Exception:
                return None
    return None


def contact_fields(item: SourceItem) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    fields = base_fields(item)
    fields.pop("reminder_is_set", None)
    for name, tag in SIMPLE.items():
        value = props.text(item, tag)
        if value:
            fields[name] = value
    file_as = props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_FILE_UNDER)
    if file_as:
        fields["file_as"] = file_as
    emails = []
    for label, lid, type_lid, name_lid in EMAILS:
        address = props.named_text(item, mapi.PSETID_ADDRESS, lid)
        if address:
            entry = {"label": label, "email": address}
            kind = props.named_text(item, mapi.PSETID_ADDRESS, type_lid)
            if kind and kind.upper() != "SMTP":
                entry["address_type"] = kind
            display = props.named_text(item, mapi.PSETID_ADDRESS, name_lid)
            if display:
                entry["name"] = display
            emails.append(entry)
    if emails:
        fields["email_addresses"] = emails
    phones = [
        {"label": label, "phone_number": value} for label, tag in PHONES.items() if (value := props.text(item, tag))
    ]
    if phones:
        fields["phone_numbers"] = phones
    addresses = []
    for label, parts in ADDRESSES.items():
        postal: dict[str, Any] = {"label": label}
        for key, ident in parts:
            value = props.named_text(item, mapi.PSETID_ADDRESS, ident) if ident >= 0x8000 else props.text(item, ident)
            if not value and label == "Business":
                value = props.text(item, BUSINESS_TAGGED[key])
            if value:
                postal[key] = value
        if len(postal) > 1:
            addresses.append(postal)
    if addresses:
        fields["physical_addresses"] = addresses
    index = props.named_int(item, mapi.PSETID_ADDRESS, mapi.LID_POSTAL_ADDRESS_ID)
    if index in POSTAL_INDEX:
        fields["postal_address_index"] = POSTAL_INDEX[index]
    for name, tag, lid in (
        ("birthday", mapi.PR_BIRTHDAY, dates.LID_BIRTHDAY_LOCAL),
        ("wedding_anniversary", mapi.PR_WEDDING_ANNIVERSARY, dates.LID_WEDDING_ANNIVERSARY_LOCAL),
    ):
        day = dates.calendar_date(item.prop(tag), item.named_prop(mapi.PSETID_ADDRESS, lid))
        if day:
            fields[name] = day
    children = props.string_list(item.prop(mapi.PR_CHILDRENS_NAMES), props.item_codepage(item))
    if children:
        fields["children"] = children
    im = props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_INSTANT_MESSAGING_ADDRESS)
    if im:
        fields["im_addresses"] = [{"label": "ImAddress1", "address": im}]
    picture = photo(item)
    if picture:
        fields["photo"] = picture
    return fields, warnings
