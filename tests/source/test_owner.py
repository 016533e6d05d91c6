"""source/owner.py with hand-made stores (FakeSource): whose mailbox a file is, and why not when it cannot say."""

from __future__ import annotations

from pipeline.model import FolderRole
from pipeline.source.fake import FakeSource, message
from pipeline.source.owner import owner_dn_from_entry, owner_of

DN = "/o=Corp/ou=First Administrative Group/cn=Recipients/cn="
# [MS-OXCDATA] 2.2.5.2 written out by hand: flags, provider UID, version 1, type 0 (a mailbox user), DN, NUL
ENTRY = bytes(4) + bytes.fromhex("dca740c8c042101ab4b908002b2fe182") + (1).to_bytes(4, "little") + bytes(4)


def _entry(name: str) -> bytes:
    return ENTRY + (DN + name).encode() + b"\0"


def _sent(sender: str, smtp: str | None = None):  # noqa: ANN202
    extra = {"PR_SENDER_SMTP_ADDRESS": smtp} if smtp else {}
    return message("sent", sender=sender, **extra)


def test_the_owner_entry_names_a_dn() -> None:
    assert owner_dn_from_entry(_entry("alice")) == DN + "alice"
    assert owner_dn_from_entry(b"\0" * 40) is None and owner_dn_from_entry(None) is None


def test_the_owner_entry_and_sent_mail_agree_through_the_cached_smtp_address() -> None:
    source = FakeSource(
        {"Sent Items": [_sent(DN + "alice", "alice@corp.example")]},
        roles={"Sent Items": FolderRole.SENT},
        store={0x661B: _entry("ALICE")},
    )
    found = owner_of(source)
    assert (found.mailbox, found.assigned) == ("alice@corp.example", True)
    assert [c.how for c in found.claims] == ["store owner entry", "Sent Items sender"]


def test_two_owners_and_no_owner_and_no_smtp_address() -> None:
    two = FakeSource(
        {"Sent Items": [_sent("erin@corp.example")] * 3},
        roles={"Sent Items": FolderRole.SENT},
        store={0x661B: _entry("dave")},
    )
    assert owner_of(two).problem.startswith("two owners claimed: ")
    assert not owner_of(FakeSource({"Inbox": [message("hello")]}, roles={"Inbox": FolderRole.INBOX})).assigned
    dn_only = owner_of(FakeSource({"Inbox": []}, store={0x661B: _entry("ghost")}))
    assert dn_only.legacy_dn == DN + "ghost" and "no SMTP address" in dn_only.problem


def test_the_majority_of_sent_mail_decides_and_inbox_stamps_count() -> None:
    sent = [_sent("owner@corp.example")] * 3 + [_sent("delegate@corp.example")]
    inbox = [message("in", PR_RECEIVED_BY_EMAIL_ADDRESS="Owner@Corp.example")]
    found = owner_of(
        FakeSource(
            {"Sent Items": sent, "Inbox": inbox}, roles={"Sent Items": FolderRole.SENT, "Inbox": FolderRole.INBOX}
        )
    )
    assert found.mailbox == "owner@corp.example" and found.claims[0].items == 3
    assert {c.how for c in found.claims} == {"Sent Items sender", "Inbox received-by"}
