"""Attendees, organizers and senders as the item values' `Person` and `Attendees`; shared by calendar
conversion and the meeting messages' iCalendar part.
"""

from __future__ import annotations

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import addresses
from pipeline.model import Recipient, SourceItem

RESPONSES = {
    0: v.Response.UNKNOWN,
    1: v.Response.ORGANIZER,
    2: v.Response.TENTATIVE,
    3: v.Response.ACCEPTED,
    4: v.Response.DECLINED,
    5: v.Response.NO_RESPONSE,
}
RECIP_ORGANIZER = 0x0002


def person(party: addresses.Party | None) -> v.Person | None:
    """A party with a name or an address; None for one with neither."""
    if party is None or not (party.name or party.address):
        return None
    return v.Person(party.name or None, party.address or None, party.original or None)


def attendee(r: Recipient, domain: str, codepage: int | None) -> v.Attendee | None:
    who = person(addresses.recipient(r, domain, codepage))
    if who is None:
        return None
    status = props.as_int(r.properties.get(mapi.PR_RECIPIENT_TRACK_STATUS))
    return v.Attendee(who, RESPONSES.get(status or 0, v.Response.UNKNOWN))


def is_organizer(r: Recipient) -> bool:
    flags = props.as_int(r.properties.get(mapi.PR_RECIPIENT_FLAGS)) or 0
    return bool(flags & RECIP_ORGANIZER)


def attendees(item: SourceItem, domain: str) -> v.Attendees:
    """required / optional / resources from the recipient table (to, cc, bcc), organizer row left out."""
    codepage = props.item_codepage(item)
    rows: dict[str, list[v.Attendee]] = {"to": [], "cc": [], "bcc": []}
    for r in item.recipients:
        if is_organizer(r) or r.kind not in rows:
            continue
        entry = attendee(r, domain, codepage)
        if entry is not None:
            rows[r.kind].append(entry)
    return v.Attendees(tuple(rows["to"]), tuple(rows["cc"]), tuple(rows["bcc"]))
