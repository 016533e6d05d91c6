"""Whose mailbox an OST/PST is, from what the file itself says (for `rebuild discover`).

Three kinds of evidence, each a Claim naming a person by legacyExchangeDN and/or SMTP address:
- the store's owner entry: PidTagMailboxOwnerEntryId (0x661B, an address-book entry id holding the owner's
  legacyExchangeDN, [MS-OXCDATA] 2.2.5.2) and PidTagMailboxOwnerName (0x661C);
- who sent the mail of Sent Items (the sender most of it names);
- whom the mail of the Inbox was delivered to (PR_RECEIVED_BY_*, the delivering store's stamp; most named).
A legacyExchangeDN gets its SMTP address from the file's own address data: the SMTP address cached beside
that DN wherever an item names it (sender, represented party, recipients), the most frequent one.
Claims that name the same person (same DN or same SMTP address) agree; claims of different people make the
file "two owners claimed"; no claim, "no owner found". Pure over a Source: no file is opened here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline import mapi
from pipeline.model import FolderRole, SourceItem
from pipeline.source.base import Source

PR_MAILBOX_OWNER_ENTRYID = 0x661B
PR_MAILBOX_OWNER_NAME = 0x661C
#: [MS-OXCDATA] 2.2.5.2: the provider UID of an Address Book EntryID (DCA740C8-C042-101A-B4B9-08002B2FE182).
AB_PROVIDER = bytes.fromhex("dca740c8c042101ab4b908002b2fe182")
_SMTP = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
#: (address, SMTP address, name) property triples of an item that name a person.
_PARTIES = (
    (mapi.PR_SENDER_EMAIL_ADDRESS, mapi.PR_SENDER_SMTP_ADDRESS, mapi.PR_SENDER_NAME),
    (mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS, mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS, mapi.PR_SENT_REPRESENTING_NAME),
    (mapi.PR_RECEIVED_BY_EMAIL_ADDRESS, mapi.PR_RECEIVED_BY_SMTP_ADDRESS, mapi.PR_RECEIVED_BY_NAME),
)


def is_legacy_dn(value: str | None) -> bool:
    return value is not None and value.strip().startswith("/") and "=" in value


def is_smtp(value: str | None) -> bool:
    return value is not None and _SMTP.match(value.strip()) is not None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Claim:
    """One piece of evidence naming the owner: `how` it was found, the DN and/or SMTP address it names, and
    how many items said so (1 for the store's entry)."""

    how: str  # 'store owner entry', 'Sent Items sender', 'Inbox received-by'
    legacy_dn: str | None
    smtp: str | None
    name: str | None = None
    items: int = 1

    def names(self) -> str:
        return self.smtp or self.legacy_dn or self.name or "?"


@dataclass(frozen=True, slots=True)
class Ownership:
    """The answer for one file: its owner's SMTP address (None when unassigned) and DN, the claims, and why
    it could not be assigned ('' when it was)."""

    mailbox: str | None
    legacy_dn: str | None
    claims: tuple[Claim, ...]
    problem: str = ""

    @property
    def assigned(self) -> bool:
        return self.mailbox is not None and not self.problem


def owner_dn_from_entry(entry: object) -> str | None:
    """The legacyExchangeDN inside an Address Book EntryID (flags, provider UID, version, type, DN, NUL)."""
    if not isinstance(entry, bytes | bytearray) or len(entry) < 29 or bytes(entry[4:20]) != AB_PROVIDER:
        return None
    dn = bytes(entry[28:]).split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    return dn if is_legacy_dn(dn) else None


class _Smtps:
    """legacyExchangeDN (case-insensitive) -> the SMTP addresses cached beside it, counted."""

    def __init__(self) -> None:
        self.by_dn: dict[str, Counter[str]] = {}

    def learn(self, address: str | None, smtp: str | None) -> None:
        if address is not None and smtp is not None and is_legacy_dn(address) and is_smtp(smtp):
            self.by_dn.setdefault(address.casefold(), Counter())[smtp.strip()] += 1

    def of(self, dn: str | None) -> str | None:
        found = self.by_dn.get(dn.casefold()) if dn else None
        return found.most_common(1)[0][0] if found else None


def _learn_item(smtps: _Smtps, item: SourceItem) -> None:
    for address_id, smtp_id, _name_id in _PARTIES:
        smtps.learn(_text(item.prop(address_id)), _text(item.prop(smtp_id)))
    for recipient in item.recipients:
        smtps.learn(recipient.email, recipient.smtp_address or _text(recipient.properties.get(mapi.PR_SMTP_ADDRESS)))


class _Tally:
    """Addresses counted case-insensitively, each kept as first spelt and with the first name seen beside it."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, tuple[str, str | None]] = {}

    def add(self, address: str, name: str | None) -> None:
        key = address.casefold()
        self.counts[key] += 1
        self.first.setdefault(key, (address, name))


def _majority(how: str, seen: _Tally) -> Claim | None:
    if not seen.counts:
        return None
    key, count = seen.counts.most_common(1)[0]
    address, name = seen.first[key]
    if is_legacy_dn(address):
        return Claim(how, address, None, name, count)
    return Claim(how, None, address, name, count) if is_smtp(address) else None


def claims_of(store: Mapping[int, Any], items: Iterable[tuple[FolderRole, SourceItem]]) -> tuple[list[Claim], _Smtps]:
    """The owner claims of one file: its store properties and its items (with the role of their folder)."""
    smtps = _Smtps()
    sent, received = _Tally(), _Tally()
    for role, item in items:
        _learn_item(smtps, item)
        if role is FolderRole.SENT:
            address = _text(item.prop(mapi.PR_SENDER_EMAIL_ADDRESS))
            if address:
                sent.add(address, _text(item.prop(mapi.PR_SENDER_NAME)))
        elif role is FolderRole.INBOX:
            address = _text(item.prop(mapi.PR_RECEIVED_BY_EMAIL_ADDRESS)) or _text(
                item.prop(mapi.PR_RECEIVED_BY_SMTP_ADDRESS)
            )
            if address:
                received.add(address, _text(item.prop(mapi.PR_RECEIVED_BY_NAME)))
    claims: list[Claim] = []
    dn = owner_dn_from_entry(store.get(PR_MAILBOX_OWNER_ENTRYID))
    if dn:
        claims.append(Claim("store owner entry", dn, None, _text(store.get(PR_MAILBOX_OWNER_NAME))))
    for claim in (_majority("Sent Items sender", sent), _majority("Inbox received-by", received)):
        if claim is not None:
            claims.append(claim)
    return claims, smtps


def decide(claims: list[Claim], smtps: _Smtps) -> Ownership:
    """One owner when every claim names the same person (same DN or same SMTP address, once each DN is
    given the SMTP address the file caches for it); else the file is not assigned, saying why."""
    resolved = [Claim(c.how, c.legacy_dn, c.smtp or smtps.of(c.legacy_dn), c.name, c.items) for c in claims]
    if not resolved:
        return Ownership(None, None, (), "no owner found (no store owner entry, no sent mail, no delivery stamp)")
    groups: list[list[Claim]] = []
    for claim in resolved:
        for group in groups:
            if any(_same(claim, other) for other in group):
                group.append(claim)
                break
        else:
            groups.append([claim])
    if len(groups) > 1:
        named = "; ".join(f"{g[0].names()} ({', '.join(c.how for c in g)})" for g in groups)
        return Ownership(None, None, tuple(resolved), f"two owners claimed: {named}")
    group = groups[0]
    dn = next((c.legacy_dn for c in group if c.legacy_dn), None)
    smtp = Counter(c.smtp for c in group if c.smtp).most_common(1)
    if not smtp:
        return Ownership(
            None,
            dn,
            tuple(resolved),
            f"owner {dn or group[0].names()} found ({', '.join(c.how for c in group)}) "
            "but the file holds no SMTP address for it",
        )
    return Ownership(smtp[0][0], dn, tuple(resolved))


def _same(a: Claim, b: Claim) -> bool:
    return bool(
        (a.legacy_dn and b.legacy_dn and a.legacy_dn.casefold() == b.legacy_dn.casefold())
        or (a.smtp and b.smtp and a.smtp.casefold() == b.smtp.casefold())
    )


#: The folders read for claims and cached SMTP addresses: where the owner's own mail is (a 50 GB OST is not
#: walked whole to find whose it is).
OWNER_FOLDERS = frozenset({FolderRole.INBOX, FolderRole.SENT, FolderRole.OUTBOX, FolderRole.DRAFTS, FolderRole.DELETED})


def owner_of(source: Source) -> Ownership:
    """Whose mailbox the open file is: the claims of its store and of the items of its Inbox, Sent Items,
    Outbox, Drafts and Deleted Items (the cheap parties() walk: no bodies, no attachments); items that cannot
    be read are skipped."""

    def walk() -> Iterable[tuple[FolderRole, SourceItem]]:
        for folder in source.folders():
            if folder.outside_ipm or folder.role not in OWNER_FOLDERS or not folder.item_count:
                continue
            for item in source.parties(folder):
                if isinstance(item, SourceItem):
                    yield folder.role, item

    claims, smtps = claims_of(source.store_properties, walk())
    return decide(claims, smtps)
