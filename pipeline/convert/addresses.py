"""SMTP addresses for senders and recipients, including Exchange-internal (EX) ones.

An EX address is a legacyExchangeDN that means nothing outside the old organisation; we prefer the
cached SMTP address and fall back to the IMCEAEX encapsulation, which Exchange resolves back to X500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline import mapi, props
from pipeline.model import Recipient, SourceItem

_SMTP = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?$")
_IMCEA_KEEP = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789=-.")
DEFAULT_X500_DOMAIN = "rebuild.invalid"


@dataclass(frozen=True, slots=True)
class Party:
    """A person as MIME and EWS want them: a display name and an SMTP-shaped address."""

    name: str | None
    address: str | None
    original: str | None = None  # the legacyExchangeDN when the address was derived from one
    address_type: str | None = None


def is_smtp(value: str | None) -> bool:
    return value is not None and bool(_SMTP.match(value.strip()))


def imceaex(legacy_dn: str, domain: str) -> str:
    """The IMCEAEX form of a legacyExchangeDN: '/' -> '_', other specials as '+XX' hex, then @domain."""
    out = []
    for char in legacy_dn:
        if char == "/":
            out.append("_")
        elif char in _IMCEA_KEEP:
            out.append(char)
        else:
            out.extend(f"+{byte:02X}" for byte in char.encode("utf-8"))
    return f"IMCEAEX-{''.join(out)}@{domain}"


def resolve(name: str | None, email: str | None, addrtype: str | None, smtp: str | None, domain: str) -> Party:
    """The best SMTP-shaped address from what MAPI cached for one party."""
    name = name.strip() if name else None
    kind = (addrtype or "").upper()
    if smtp and is_smtp(smtp):
        return Party(name, smtp.strip(), email if kind == "EX" else None, addrtype)
    if email and kind in ("SMTP", "") and is_smtp(email):
        return Party(name, email.strip(), None, addrtype)
    if email and (kind == "EX" or email.startswith("/")):
        return Party(name, imceaex(email.strip(), domain), email, addrtype)
    if email and is_smtp(email):
        return Party(name, email.strip(), None, addrtype)
    if email and kind:
        # Other address types (X400, FAX...) keep their content in the IMCEA form Exchange knows.
        encoded = imceaex(email.strip(), domain).replace("IMCEAEX-", f"IMCEA{kind}-", 1)
        return Party(name, encoded, email, addrtype)
    if name and is_smtp(name):
        return Party(None, name, None, addrtype)
    return Party(name, None, None, addrtype)


def _text(item: SourceItem, prop_id: int) -> str | None:
    return props.text(item, prop_id)


#: The name, address, address type and SMTP address tags of the two parties an item names of itself.
_SENDER = (mapi.PR_SENDER_NAME, mapi.PR_SENDER_EMAIL_ADDRESS, mapi.PR_SENDER_ADDRTYPE, mapi.PR_SENDER_SMTP_ADDRESS)
_SENT_REPRESENTING = (
    mapi.PR_SENT_REPRESENTING_NAME,
    mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
    mapi.PR_SENT_REPRESENTING_ADDRTYPE,
    mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
)


def _party(item: SourceItem, tags: tuple[int, int, int, int], domain: str) -> Party:
    name, email, addrtype, smtp = (_text(item, tag) for tag in tags)
    return resolve(name, email, addrtype, smtp, domain)


def sender(item: SourceItem, domain: str) -> Party | None:
    """PR_SENDER_*: who actually sent the message."""
    party = _party(item, _SENDER, domain)
    return party if party.name or party.address else None


def sent_representing(item: SourceItem, domain: str) -> Party | None:
    """PR_SENT_REPRESENTING_*: on whose behalf (the From header); falls back to the sender."""
    party = _party(item, _SENT_REPRESENTING, domain)
    if party.address:
        return party
    # Exchange often caches only the name of the represented party: the sender's address stands in,
    # so a message never loses its From.
    actual = sender(item, domain)
    if actual is not None and actual.address:
        return Party(party.name or actual.name, actual.address, actual.original, actual.address_type)
    return party if party.name else actual


def recipient(r: Recipient, domain: str, codepage: int | None = None) -> Party:
    smtp = r.smtp_address or props.decode_text(r.properties.get(mapi.PR_SMTP_ADDRESS), codepage)
    return resolve(r.display_name, r.email, r.address_type, smtp, domain)


def domain_hint(item: SourceItem, configured: str | None = None) -> str:
    """The domain for IMCEAEX addresses: configured, else any SMTP domain the item itself names."""
    if configured:
        return configured
    # Only addresses of the old organisation's own users: an external correspondent's domain would
    # send the X500 form to a server that cannot resolve it.
    candidates = [_text(item, mapi.PR_SENDER_SMTP_ADDRESS), _text(item, mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS)]
    candidates += [r.smtp_address for r in item.recipients if (r.address_type or "").upper() == "EX"]
    for value in candidates:
        if value and is_smtp(value):
            return value.rsplit("@", 1)[1].lower()
    return DEFAULT_X500_DOMAIN


#: The conversion warning for parties whose address is no SMTP address: they travel IMCEA-encapsulated.
IMCEA_WARNING = "addresses without a domain kept as IMCEA<type>-…@<mailbox domain>"


def encapsulated(item: SourceItem, domain: str) -> int:
    """How many of the item's parties (sender, represented, recipients) have an address that is neither
    SMTP nor Exchange ('bob', an X400 or FAX address) and so travel as IMCEA<type>-…@domain, which
    Exchange accepts but nobody can answer: the run report says so (IMCEA_WARNING)."""
    parties = [
        resolve(_text(item, name), _text(item, email), _text(item, kind), _text(item, smtp), domain)
        for name, email, kind, smtp in (
            (mapi.PR_SENDER_NAME, mapi.PR_SENDER_EMAIL_ADDRESS, mapi.PR_SENDER_ADDRTYPE, mapi.PR_SENDER_SMTP_ADDRESS),
            (
                mapi.PR_SENT_REPRESENTING_NAME,
                mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
                mapi.PR_SENT_REPRESENTING_ADDRTYPE,
                mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
            ),
        )
    ]
    codepage = props.item_codepage(item)
    parties += [recipient(r, domain, codepage) for r in item.recipients]
    return sum(
        1
        for party in parties
        if party.address and party.address.startswith("IMCEA") and not party.address.startswith("IMCEAEX-")
    )
