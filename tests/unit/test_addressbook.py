"""The OST's own address book: legacyExchangeDN -> SMTP learnt from recipient rows, senders and contacts,
the owner's DN mapped to --mailbox, and what conversion makes of it. Items are built by hand here."""

from __future__ import annotations

from pipeline import mapi
from pipeline.convert import ConvertOptions, convert_item
from pipeline.convert.addressbook import (
    BOOK,
    CACHED,
    IMCEAEX,
    OWNER,
    AddressBook,
    from_dict,
    learn,
    needs_book,
    resolved,
    to_dict,
)
from pipeline.rebuild.address_books import cached_book
from tests.convert.helpers import item, recipient

ALICE = "/o=Corp/ou=First Administrative Group/cn=Recipients/cn=alice"
OWNER_DN = "/o=Corp/ou=First Administrative Group/cn=Recipients/cn=owner"


def ex_sender(dn: str, name: str, smtp: str | None = None) -> dict[int, object]:
    props: dict[int, object] = {
        mapi.PR_SENDER_NAME: name,
        mapi.PR_SENDER_ADDRTYPE: "EX",
        mapi.PR_SENDER_EMAIL_ADDRESS: dn,
    }
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
    assert mail.prop(mapi.PR_SENDER_SMTP_ADDRESS) is None and mail.recipients[0].smtp_address is None, (
        "the source item is never changed"
    )
    assert book.owner_dns() == [OWNER_DN]


def test_unknown_dn_is_imceaex_and_cached_smtp_is_counted():
    book = AddressBook()
    book.finish(None)
    _, counts = resolved(item(props=ex_sender(ALICE, "Alice", smtp="alice@corp.example")), book)
    assert counts == {CACHED: 1}
    upload = convert_item(
        item(props=ex_sender("/o=Corp/cn=ghost", "Ghost")),
        options=ConvertOptions(x500_domain="corp.example", book=book),
    )
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
    contact = item(
        "IPM.Contact",
        named={
            (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_EMAIL_ADDRESS): ALICE,
            (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_ADDRTYPE): "EX",
            (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_ORIGINAL_DISPLAY_NAME): "alice@corp.example",
            (mapi.PSETID_ADDRESS, mapi.LID_EMAIL1_DISPLAY_NAME): "Alice (Work)",
        },
    )
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


def test_items_that_do_not_need_the_book_convert_the_same_without_it():
    """needs_book() decides which items export writes before the store's book is complete: for the others
    the book must change nothing (oracle: resolved() with a book that knows every DN vs without a book)."""
    book = AddressBook()
    for dn in (ALICE, OWNER_DN):
        book.add(dn, dn.rsplit("=", 1)[1] + "@corp.example", "x")
    book.finish("owner@new.example")
    cases = {
        "smtp only": (item(props={mapi.PR_SENDER_EMAIL_ADDRESS: "a@b.example"}), False),
        "ex sender, cached": (item(props=ex_sender(ALICE, "Alice", "alice@corp.example")), False),
        "ex sender": (item(props=ex_sender(ALICE, "Alice")), True),
        "ex recipient, cached": (
            item(recipients=[recipient("to", "Alice", ALICE, "EX", smtp="alice@corp.example")]),
            False,
        ),
        "ex recipient": (item(recipients=[recipient("to", "Alice", ALICE, "EX")]), True),
        "represented only": (item(props={mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS: OWNER_DN}), True),
    }
    for name, (mail, expected) in cases.items():
        assert needs_book(mail) is expected, name
        with_book, without = resolved(mail, book), resolved(mail, None)
        assert (with_book == without) is not expected, name


def test_parts_of_one_store_merge_into_the_book_of_one_pass():
    """Workers learn separate folders; merged in source order, the book equals one learnt in one pass."""
    mails = [
        item(recipients=[recipient("cc", "Alice", ALICE, "EX", smtp="alice@corp.example")]),
        item(props=ex_sender(OWNER_DN, "Owner")),
        item(props=ex_sender(ALICE, "Al", "alice@other.example")),
        item(recipients=[recipient("to", "Alice", ALICE, "EX", smtp="alice@corp.example")]),
    ]
    whole, first, second, merged = AddressBook(), AddressBook(), AddressBook(), AddressBook()
    for index, mail in enumerate(mails):
        learn(whole, mail, sent_folder=index == 1)
        learn(first if index < 2 else second, mail, sent_folder=index == 1)
    merged.extend(first)
    merged.extend(second)
    for book in (whole, merged):
        book.finish("owner@new.example")
    assert to_dict(merged) == to_dict(whole)
    assert merged.lookup(ALICE) == (whole.lookup(ALICE)[0], BOOK) == ("alice@corp.example", BOOK)
