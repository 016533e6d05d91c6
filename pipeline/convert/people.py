"""Attendees, organizers and members as plain dicts ({name, email, ...}) the uploader maps to
exchangelib Attendee / Mailbox objects; shared by calendar, task and distribution list conversion.
"""

from __future__ import annotations

from typing import Any

from pipeline import mapi, props
from pipeline.convert import addresses
from pipeline.model import Recipient, SourceItem

RESPONSE_TYPES = {0: "Unknown", 1: "Organizer", 2: "Tentative", 3: "Accept", 4: "Decline", 5: "NoResponseReceived"}
RECIP_ORGANIZER = 0x0002
RECIP_SENDABLE = 0x0001


def mailbox(party: addresses.Party | None) -> dict[str, Any] | None:
    if party is None or not (party.name or party.address):
        return None
    entry: dict[str, Any] = {"name": party.name, "email": party.address}
    if party.original:
        entry["legacy_dn"] = party.original
    return entry


def attendee(r: Recipient, domain: str, codepage: int | None) -> dict[str, Any] | None:
    entry = mailbox(addresses.recipient(r, domain, codepage))
    if entry is None:
        return None
    status = props.as_int(r.properties.get(mapi.PR_RECIPIENT_TRACK_STATUS))
    entry["response_type"] = RESPONSE_TYPES.get(status or 0, "Unknown")
    return entry


def is_organizer(r: Recipient) -> bool:
    flags = props.as_int(r.properties.get(mapi.PR_RECIPIENT_FLAGS)) or 0
    return bool(flags & RECIP_ORGANIZER)


def attendees(item: SourceItem, domain: str) -> dict[str, list[dict[str, Any]]]:
    """required / optional / resources from the recipient table (to, cc, bcc), organizer row left out."""
    codepage = props.item_codepage(item)
    out: dict[str, list[dict[str, Any]]] = {"required_attendees": [], "optional_attendees": [], "resources": []}
    key = {"to": "required_attendees", "cc": "optional_attendees", "bcc": "resources"}
    for r in item.recipients:
        if is_organizer(r) or r.kind not in key:
            continue
        entry = attendee(r, domain, codepage)
        if entry is not None:
            out[key[r.kind]].append(entry)
    return out
