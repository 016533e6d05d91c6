"""The OST's own address book: legacyExchangeDN -> SMTP learnt from recipient rows, senders and contacts,
the owner's DN mapped to --mailbox, and what conversion makes of it. Items are built by hand here."""

from __future__ import annotations

from pipeline import mapi
from pipeline.addressing import cached_book
from pipeline.convert import ConvertOptions, convert_item
from pipeline.convert.addressbook import (
    BOOK,
    CACHED,
    IMCEAEX,
    OWNER,
    AddressBook,
    from_dict,
    learn,
    resolved,
    to_dict,
)
from tests.convert.helpers import item, recipient

ALICE = "/o=Corp/ou=First Administrative Group/cn=Recipients/cn=alice"
OWNER_DN = "/o=Corp/ou=First Administrative Group/cn=Recipients/cn=owner"


def ex_sender(dn: str, name: str, smtp: str | None = None) -> dict[int, object]:
    props: dict[int, object] = {mapi.PR_SENDER_NAME: name, mapi.PR_SENDER_ADDRTYPE: "EX",
                                mapi.PR_SENDER_EMAIL_ADDRESS: dn}
    if smtp:
        props[mapi.PR_SENDER_SMTP_ADDRESS] = smtp
    return props


def test_dn_learnt_from_a_recipient_row_resolves_a_sender_elsewhere():
    book = AddressBook()
    learn(book, item(recipients=[recipient("cc", "Alice", ALICE, "EX", smtp="alice@corp.example")]))
    learn(book, item(props=ex_sender(OWNER_DN, "Owner")), sent_folder=True)
    book.finish("owner@new.example")
    mail = item(props=ex_sender(ALICE.upper(), "Alice"), recipients=[recipient("to", "Owner", OWNER_DN, "EX")])
    fixed, counts = resolved(mail, book)
    assert fixed.prop(mapi.PR_SENDER_SMTP_ADDRESS) == "alice@corp.example"
    assert fixed.recipients[0].smtp_address == "owner@new.example"
    assert counts == {BOOK: 1, OWNER: 1}
    assert mail.prop(mapi.PR_SENDER_SMTP_ADDRESS) is None and mail.recipients[0].smtp_address is None, \
        "the source item is never changed"
    assert book.owner_dns() == [OWNER_DN]


def test_unknown_dn_is_imceaex_and_cached_smtp_is_counted():
    book = AddressBook()
    book.finish(None)
    _, counts = resolved(item(props=ex_sender(ALICE, "Alice", smtp="alice@corp.example")), book)
    assert counts == {CACHED: 1}
    upload = convert_item(item(props=ex_sender("/o=Corp/cn=ghost", "Ghost")),
                          options=ConvertOptions(x500_domain="corp.example", book=book))
    assert upload.address_sources == {IMCEAEX: 1}
    assert b"From: Ghost <IMCEAEX-_o=Corp_cn=ghost@corp.example>" in upload.mime


def test_from_is_never_lost_when_the_represented_party_is_a_name_only():
    """Exchange caches PR_SENT_REPRESENTING_NAME alone on sent items: the sender's address stands in."""
    props = ex_sender(OWNER_DN, "Owner") | {mapi.PR_SENT_REPRESENTING_NAME: "Owner"}
    book = AddressBook()
    learn(book, item(props=props), sent_folder=True)
    book.finish("owner@new.example")
    upload = convert_item(item(props=props), options=ConvertOptions(book=book))
    assert b"From: Owner <owner@new.example>" in upload.mime


def test_contact_entries_teach_the_book():
    contact = item("IPM.Contact", named={(mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_EMAIL_ADDRESS): ALICE,
                                         (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_ADDRTYPE): "EX",
                                         (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_ORIGINAL_DISPLAY_NAME):
                                             "alice@corp.example",
                                         (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_DISPLAY_NAME): "Alice (Work)"})
    book = AddressBook()
    learn(book, contact)
    assert book.lookup(ALICE) == ("alice@corp.example", BOOK)


def test_book_round_trips_and_the_cache_spares_a_second_read(tmp_path):
    book = AddressBook()
    learn(book, item(recipients=[recipient("to", "Alice", ALICE, "EX", smtp="alice@corp.example")]))
    learn(book, item(props=ex_sender(OWNER_DN, "Owner")), sent_folder=True)
    book.finish("owner@new.example")
    assert to_dict(from_dict(to_dict(book))) == to_dict(book)
    built = []

    def build() -> AddressBook:
        built.append(1)
        return book

    first = cached_book(tmp_path, "k", build)
    second = cached_book(tmp_path, "k", build)
    assert built == [1]
    assert to_dict(second) == to_dict(first)
    assert (tmp_path / "k.json").stat().st_mode & 0o077 == 0, "the cache names people: owner-only"
