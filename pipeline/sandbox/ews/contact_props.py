"""A contact's fields read as MAPI properties, as Exchange answers an ExtendedFieldURI on a contact.

Exchange keeps one set of properties per contact: GivenName is PidTagGivenName (0x3A06), the business phone
PidTagBusinessTelephoneNumber (0x3A08), the work address PidLidWorkAddressCity in PSETID_Address, and so on
([MS-OXOCNTC] 2.2; the EWS names in Microsoft's "EWS properties and their MAPI equivalents"). Clients such
as DavMail build their vCards from those tags, so each one is answered from the typed field CreateItem stored.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox.ews.soap import T_NS

_T = f"{{{T_NS}}}"
ADDRESS_SET = "00062004-0000-0000-c000-000000000046"  # PSETID_Address


def _lid(number: int) -> str:
    return f"id:{ADDRESS_SET}:0x{number:04x}"


#: MAPI property key -> (stored field, indexed entry key or None, sub-element of that entry or None).
FROM_FIELDS: dict[str, tuple[str, str | None, str | None]] = {
    "tag:0x3001": ("DisplayName", None, None),  # PidTagDisplayName
    "tag:0x3a06": ("GivenName", None, None),
    "tag:0x3a11": ("Surname", None, None),
    "tag:0x3a44": ("MiddleName", None, None),
    "tag:0x3a45": ("CompleteName", None, "Title"),  # PidTagDisplayNamePrefix
    "tag:0x3a05": ("CompleteName", None, "Suffix"),  # PidTagGeneration
    "tag:0x3a4f": ("Nickname", None, None),
    "tag:0x3a16": ("CompanyName", None, None),
    "tag:0x3a17": ("JobTitle", None, None),
    "tag:0x3a18": ("Department", None, None),
    "tag:0x3a19": ("OfficeLocation", None, None),
    "tag:0x3a46": ("Profession", None, None),
    "tag:0x3a4e": ("Manager", None, None),
    "tag:0x3a30": ("AssistantName", None, None),
    "tag:0x3a48": ("SpouseName", None, None),
    "tag:0x3a42": ("Birthday", None, None),
    "tag:0x3a41": ("WeddingAnniversary", None, None),
    "tag:0x3a51": ("BusinessHomePage", None, None),
    "tag:0x1000": ("Body", None, None),  # PidTagBody
    "tag:0x3a08": ("PhoneNumbers", "BusinessPhone", None),
    "tag:0x3a1b": ("PhoneNumbers", "BusinessPhone2", None),
    "tag:0x3a09": ("PhoneNumbers", "HomePhone", None),
    "tag:0x3a2f": ("PhoneNumbers", "HomePhone2", None),
    "tag:0x3a1c": ("PhoneNumbers", "MobilePhone", None),
    "tag:0x3a21": ("PhoneNumbers", "Pager", None),
    "tag:0x3a24": ("PhoneNumbers", "BusinessFax", None),
    "tag:0x3a25": ("PhoneNumbers", "HomeFax", None),
    "tag:0x3a23": ("PhoneNumbers", "OtherFax", None),
    "tag:0x3a1f": ("PhoneNumbers", "OtherTelephone", None),
    "tag:0x3a1a": ("PhoneNumbers", "PrimaryPhone", None),
    "tag:0x3a1d": ("PhoneNumbers", "RadioPhone", None),
    "tag:0x3a1e": ("PhoneNumbers", "CarPhone", None),
    "tag:0x3a2e": ("PhoneNumbers", "AssistantPhone", None),
    "tag:0x3a02": ("PhoneNumbers", "Callback", None),
    "tag:0x3a57": ("PhoneNumbers", "CompanyMainPhone", None),
    "tag:0x3a2d": ("PhoneNumbers", "Isdn", None),
    "tag:0x3a2c": ("PhoneNumbers", "Telex", None),
    "tag:0x3a4b": ("PhoneNumbers", "TtyTddPhone", None),
    "tag:0x3a59": ("PhysicalAddresses", "Home", "City"),
    "tag:0x3a5a": ("PhysicalAddresses", "Home", "CountryOrRegion"),
    "tag:0x3a5b": ("PhysicalAddresses", "Home", "PostalCode"),
    "tag:0x3a5c": ("PhysicalAddresses", "Home", "State"),
    "tag:0x3a5d": ("PhysicalAddresses", "Home", "Street"),
    "tag:0x3a5f": ("PhysicalAddresses", "Other", "City"),
    "tag:0x3a60": ("PhysicalAddresses", "Other", "CountryOrRegion"),
    "tag:0x3a61": ("PhysicalAddresses", "Other", "PostalCode"),
    "tag:0x3a62": ("PhysicalAddresses", "Other", "State"),
    "tag:0x3a63": ("PhysicalAddresses", "Other", "Street"),
    _lid(0x8045): ("PhysicalAddresses", "Business", "Street"),  # PidLidWorkAddressStreet
    _lid(0x8046): ("PhysicalAddresses", "Business", "City"),
    _lid(0x8047): ("PhysicalAddresses", "Business", "State"),
    _lid(0x8048): ("PhysicalAddresses", "Business", "PostalCode"),
    _lid(0x8049): ("PhysicalAddresses", "Business", "CountryOrRegion"),
    _lid(0x8005): ("FileAs", None, None),  # PidLidFileUnder
    _lid(0x8083): ("EmailAddresses", "EmailAddress1", None),  # PidLidEmail1EmailAddress
    _lid(0x8093): ("EmailAddresses", "EmailAddress2", None),
    _lid(0x80A3): ("EmailAddresses", "EmailAddress3", None),
    _lid(0x8015): ("HasPicture", None, None),  # PidLidHasPicture
}


def _parse(xml: str) -> etree._Element:
    """A stored field; the ones the sandbox computes itself (HasPicture) carry no namespace declaration."""
    try:
        return etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return etree.fromstring(f'<w xmlns:t="{T_NS}">{xml}</w>')[0]


def mapi_value(fields: dict[str, str], key: str) -> str | None:
    """The value of MAPI property `key` of a contact with these stored fields, or None (not set)."""
    where = FROM_FIELDS.get(key)
    if where is None:
        return None
    name, entry_key, sub = where
    xml = fields.get(name)
    if not xml:
        return None
    elem = _parse(xml)
    if entry_key is not None:
        elem = next((e for e in elem.iter(f"{_T}Entry") if e.get("Key") == entry_key), None)
        if elem is None:
            return None
    if sub is not None:
        elem = elem.find(f"{_T}{sub}")
        if elem is None:
            return None
    text = (elem.text or "").strip()
    return text or None
