"""The address book of an OST: legacyExchangeDN (X500) -> SMTP address and display name, learnt from the store.

An Exchange sender is stored by its legacyExchangeDN, which means nothing to the new server. The same
person's SMTP address is usually cached somewhere else in the store: a recipient row (PR_EMAIL_ADDRESS
+ PR_SMTP_ADDRESS), a sender's PR_SENDER_SMTP_ADDRESS, a contact's e-mail entry, or the owner's own
mailbox. `learn` collects those triples item by item; `resolved` hands conversion a copy of an item
whose Exchange parties carry an SMTP address when one is known, and says how each one was resolved.
Pure functions over model values: no file, no network.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from pipeline import mapi, props
from pipeline.convert.addresses import is_smtp
from pipeline.model import Recipient, SourceItem

#: How a party's address was found (the report counts them).
CACHED = "cached smtp"  # the item itself carries the SMTP address
BOOK = "address book"  # another item of the store names the same legacyExchangeDN with an SMTP address
OWNER = "mailbox owner"  # the owner's legacyExchangeDN, mapped to --mailbox
IMCEAEX = "imceaex"  # nothing known: encapsulated as IMCEAEX-…@domain, which Exchange resolves to X500

#: (email, addrtype, smtp, name) property ids of the two sender parties.
_PARTIES = (
    (mapi.PR_SENDER_EMAIL_ADDRESS, mapi.PR_SENDER_ADDRTYPE, mapi.PR_SENDER_SMTP_ADDRESS, mapi.PR_SENDER_NAME),
    (
        mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
        mapi.PR_SENT_REPRESENTING_ADDRTYPE,
        mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
        mapi.PR_SENT_REPRESENTING_NAME,
    ),
)


def is_legacy_dn(value: str | None) -> bool:
    """An X500 / legacyExchangeDN address ('/o=Org/ou=…/cn=Recipients/cn=alice')."""
    return value is not None and value.strip().startswith("/") and "=" in value


def _key(legacy_dn: str) -> str:
    return legacy_dn.strip().casefold()


@dataclass(slots=True)
class Entry:
    """What the store says about one legacyExchangeDN: the DN as first seen, SMTP addresses seen with it
    (counted: the most frequent wins), a display name, and whether it is the mailbox owner's."""

    legacy_dn: str
    smtp: Counter = field(default_factory=Counter)
    name: str | None = None
    owner: bool = False
    #: Where the DN was seen (sender/recipient/contact), for `rebuild x500`.
    seen: int = 0

    @property
    def best_smtp(self) -> str | None:
        return self.smtp.most_common(1)[0][0] if self.smtp else None


@dataclass(slots=True)
class AddressBook:
    """legacyExchangeDN (case-insensitive) -> Entry; plain data, so it crosses to worker processes."""

    entries: dict[str, Entry] = field(default_factory=dict)
    owner_smtp: str | None = None  # the new mailbox's address (--mailbox)
    #: How often each legacyExchangeDN sent the items of Sent Items/Outbox/Drafts: the owner's own DN.
    sent_by: Counter = field(default_factory=Counter)

    def add(self, legacy_dn: str | None, smtp: str | None = None, name: str | None = None) -> None:
        if not is_legacy_dn(legacy_dn):
            return
        assert legacy_dn is not None
        entry = self.entries.get(_key(legacy_dn))
        if entry is None:
            entry = self.entries[_key(legacy_dn)] = Entry(legacy_dn.strip())
        entry.seen += 1
        if smtp and is_smtp(smtp):
            entry.smtp[smtp.strip()] += 1
        if name and not entry.name:
            entry.name = name.strip()

    def lookup(self, legacy_dn: str | None) -> tuple[str | None, str]:
        """(SMTP address, how) for a legacyExchangeDN; (None, IMCEAEX) when the store never says."""
        if not is_legacy_dn(legacy_dn):
            return None, IMCEAEX
        assert legacy_dn is not None
        entry = self.entries.get(_key(legacy_dn))
        if entry is None:
            return None, IMCEAEX
        if entry.best_smtp:
            return entry.best_smtp, BOOK
        if entry.owner and self.owner_smtp:
            return self.owner_smtp, OWNER
        return None, IMCEAEX

    def merge(self, other: AddressBook) -> None:
        """Take in another store's book (with --map, a site's legacy DNs resolve from any OST): its owner's
        DN resolves to its owner's new mailbox; owners of this book stay this book's only."""
        for key, theirs in other.entries.items():
            smtp = Counter(theirs.smtp)
            if theirs.owner and other.owner_smtp:
                smtp[other.owner_smtp] += max(1, theirs.seen)
            mine = self.entries.get(key)
            if mine is None:
                self.entries[key] = Entry(theirs.legacy_dn, smtp, theirs.name, False, theirs.seen)
                continue
            mine.smtp.update(smtp)
            mine.name = mine.name or theirs.name
            mine.seen += theirs.seen

    def extend(self, part: AddressBook) -> None:
        """Take in what another part of the same store taught (a worker's folders), before finish(): merged in
        source order, the result is the book one pass over the whole store would have learnt."""
        for key, theirs in part.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                self.entries[key] = Entry(theirs.legacy_dn, Counter(theirs.smtp), theirs.name, False, theirs.seen)
                continue
            mine.smtp.update(theirs.smtp)
            mine.name = mine.name or theirs.name
            mine.seen += theirs.seen
        self.sent_by.update(part.sent_by)

    def finish(self, owner_smtp: str | None) -> None:
        """After learning: the DN that sent most of the owner's sent mail is the owner, whose SMTP address
        is the new mailbox's unless the store cached another one."""
        self.owner_smtp = owner_smtp
        if self.sent_by:
            key, _ = self.sent_by.most_common(1)[0]
            if key in self.entries:
                self.entries[key].owner = True
        if owner_smtp:  # a DN the store itself resolves to the owner's address is the owner's as well
            for entry in self.entries.values():
                if any(smtp.casefold() == owner_smtp.casefold() for smtp in entry.smtp):
                    entry.owner = True

    def owner_dns(self) -> list[str]:
        """The legacyExchangeDN(s) of the mailbox owner (for X500 proxy addresses)."""
        return [e.legacy_dn for e in self.entries.values() if e.owner]


def _text(value: object) -> str | None:
    text = props.decode_text(value)
    return text.strip() if text else None


def learn(book: AddressBook, item: SourceItem, sent_folder: bool = False) -> None:
    """Every (legacyExchangeDN, SMTP, name) triple this item names; sent_folder marks the owner's sent mail."""
    for email_id, _type_id, smtp_id, name_id in _PARTIES:
        email = _text(item.prop(email_id))
        if not is_legacy_dn(email):
            continue
        book.add(email, _text(item.prop(smtp_id)), _text(item.prop(name_id)))
        if sent_folder and email_id == mapi.PR_SENDER_EMAIL_ADDRESS:
            book.sent_by[_key(email or "")] += 1
    for r in item.recipients:
        smtp = r.smtp_address or _text(r.properties.get(mapi.PR_SMTP_ADDRESS))
        book.add(r.email, smtp, r.display_name)
    if props.message_class(item).lower().startswith("ipm.contact"):
        for lids in mapi.CONTACT_EMAILS:
            email = _text(item.named_prop(mapi.PSETID_ADDRESS, lids.address))
            if not is_legacy_dn(email):
                continue
            original = _text(item.named_prop(mapi.PSETID_ADDRESS, lids.original_display_name))
            display = _text(item.named_prop(mapi.PSETID_ADDRESS, lids.display_name))
            smtp = original if is_smtp(original) else None
            book.add(email, smtp, (display or "").split(" (")[0] or None)


def _party_how(
    item: SourceItem, email_id: int, smtp_id: int, book: AddressBook | None, new: dict[int, str]
) -> str | None:
    email = _text(item.prop(email_id))
    if not is_legacy_dn(email):
        return None
    if is_smtp(_text(item.prop(smtp_id))):
        return CACHED
    if book is None:
        return IMCEAEX
    smtp, how = book.lookup(email)
    if smtp:
        new[smtp_id] = smtp
    return how


def needs_book(item: SourceItem) -> bool:
    """Whether resolved() would ask the book about this item: an Exchange party (sender, represented sender
    or recipient) without a cached SMTP address. For any other item the book changes nothing, so it can be
    converted before the store's book is complete."""
    for email_id, _type_id, smtp_id, _name_id in _PARTIES:
        if is_legacy_dn(_text(item.prop(email_id))) and not is_smtp(_text(item.prop(smtp_id))):
            return True
    return any(is_legacy_dn(r.email) and not _recipient_smtp(r) for r in item.recipients)


def _recipient_smtp(r: Recipient) -> bool:
    return is_smtp(r.smtp_address) or is_smtp(_text(r.properties.get(mapi.PR_SMTP_ADDRESS)))


def resolved(item: SourceItem, book: AddressBook | None) -> tuple[SourceItem, Counter]:
    """The item with the SMTP addresses the book knows filled in for its Exchange parties (a copy: the
    source value is never changed), and how many parties were resolved which way."""
    counts: Counter = Counter()
    new: dict[int, str] = {}
    for email_id, _type_id, smtp_id, _name_id in _PARTIES:
        how = _party_how(item, email_id, smtp_id, book, new)
        if how:
            counts[how] += 1
    recipients: list[Recipient] | None = None
    for index, r in enumerate(item.recipients):
        if not is_legacy_dn(r.email):
            continue
        if _recipient_smtp(r):
            counts[CACHED] += 1
            continue
        smtp, how = book.lookup(r.email) if book is not None else (None, IMCEAEX)
        counts[how] += 1
        if smtp:
            if recipients is None:
                recipients = list(item.recipients)
            recipients[index] = dataclasses.replace(r, smtp_address=smtp)
    if not new and recipients is None:
        return item, counts
    properties = {**item.properties, **new} if new else item.properties
    return dataclasses.replace(
        item, properties=properties, recipients=recipients if recipients is not None else item.recipients
    ), counts


BOOK_FORMAT = 1


def to_dict(book: AddressBook) -> dict[str, object]:
    """The book as JSON-ready data (kept in the state dir so a rerun need not read the OST twice)."""
    return {
        "format": BOOK_FORMAT,
        "owner_smtp": book.owner_smtp,
        "sent_by": dict(book.sent_by),
        "entries": [
            {"dn": e.legacy_dn, "smtp": dict(e.smtp), "name": e.name, "owner": e.owner, "seen": e.seen}
            for e in book.entries.values()
        ],
    }


def from_dict(data: dict) -> AddressBook | None:
    """The book again, or None when the data is of another format (then it is simply built anew)."""
    if not isinstance(data, dict) or data.get("format") != BOOK_FORMAT:
        return None
    book = AddressBook(owner_smtp=data.get("owner_smtp"), sent_by=Counter(data.get("sent_by") or {}))
    for raw in data.get("entries") or []:
        entry = Entry(
            raw["dn"],
            Counter(raw.get("smtp") or {}),
            raw.get("name"),
            bool(raw.get("owner")),
            int(raw.get("seen") or 0),
        )
        book.entries[_key(entry.legacy_dn)] = entry
    return book
