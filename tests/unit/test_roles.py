"""Unit tests of folder role assignment: store entry ids, inbox entry ids, Exchange long-term ids."""

from __future__ import annotations

import struct

from pipeline import mapi
from pipeline.model import FolderRole
from pipeline.source.roles import FolderFacts, assign_roles

UID = bytes(range(16))


def eid(nid: int) -> bytes:
    return b"\0\0\0\0" + UID + struct.pack("<I", nid)


def long_term(counter: int) -> bytes:
    return b"\0\0\0\0" + UID + b"\x01\x00" + bytes(16) + counter.to_bytes(6, "big") + b"\0\0"


def test_pst_roles_come_from_store_and_inbox_not_names():
    folders = {
        0x122: FolderFacts(0x122, None, "", None),
        0x8022: FolderFacts(0x8022, 0x122, "", None),
        0x8042: FolderFacts(
            0x8042,
            0x8022,
            "IPF.Note",
            None,
            {
                mapi.PR_IPM_APPOINTMENT_ENTRYID: eid(0x8082),
                mapi.PR_IPM_CONTACT_ENTRYID: eid(0x80A2),
                mapi.PR_ADDITIONAL_REN_ENTRYIDS: [eid(0x80C2), b"", b"", b"", eid(0x80E2)],
            },
        ),
        0x8062: FolderFacts(0x8062, 0x8022, "IPF.Note", None),
        0x8082: FolderFacts(0x8082, 0x8022, "IPF.Appointment", None),
        0x80A2: FolderFacts(0x80A2, 0x8022, "IPF.Contact", None),
        0x80C2: FolderFacts(0x80C2, 0x8022, "IPF.Note", None),
        0x80E2: FolderFacts(0x80E2, 0x8022, "IPF.Note", None),
        0x8102: FolderFacts(0x8102, 0x8022, "IPF.Note", None),
        0x8122: FolderFacts(0x8122, 0x122, "", 2),
    }
    store = {mapi.PR_IPM_SUBTREE_ENTRYID: eid(0x8022), mapi.PR_IPM_SENTMAIL_ENTRYID: eid(0x8062)}
    roles = {nid: role for nid, (role, _) in assign_roles(store, folders).items()}
    assert roles[0x122] is FolderRole.ROOT
    assert roles[0x8022] is FolderRole.IPM_SUBTREE
    assert roles[0x8042] is FolderRole.INBOX
    assert roles[0x8062] is FolderRole.SENT
    assert roles[0x8082] is FolderRole.CALENDAR
    assert roles[0x80A2] is FolderRole.CONTACTS
    assert roles[0x80C2] is FolderRole.CONFLICTS
    assert roles[0x80E2] is FolderRole.JUNK
    assert roles[0x8102] is FolderRole.NONE
    assert roles[0x8122] is FolderRole.SEARCH


def test_ost_long_term_ids_and_fid_order():
    folders = {
        0x122: FolderFacts(0x122, None, "", None),
        0x2142: FolderFacts(0x2142, 0x122, "", None, {}, (10).to_bytes(6, "big")),
        0x2162: FolderFacts(0x2162, 0x2142, "IPF.Note", None, {}, (11).to_bytes(6, "big")),
        0x2182: FolderFacts(
            0x2182,
            0x2142,
            "IPF.Note",
            None,
            {mapi.PR_IPM_APPOINTMENT_ENTRYID: long_term(0x1D)},
            (12).to_bytes(6, "big"),
        ),
        0x21A2: FolderFacts(0x21A2, 0x2142, "IPF.Note", None, {}, (13).to_bytes(6, "big")),
        0x21C2: FolderFacts(0x21C2, 0x2142, "IPF.Note", None, {}, (14).to_bytes(6, "big")),
        0x8022: FolderFacts(0x8022, 0x2142, "IPF.Appointment", None, {}, (0x1D).to_bytes(6, "big")),
    }
    roles = assign_roles({}, folders)
    assert roles[0x2142][0] is FolderRole.IPM_SUBTREE
    assert roles[0x2182][0] is FolderRole.INBOX
    assert roles[0x8022][0] is FolderRole.CALENDAR
    assert roles[0x2162] == (FolderRole.DELETED, "fid-order")
    assert roles[0x21A2] == (FolderRole.OUTBOX, "fid-order")
    assert roles[0x21C2] == (FolderRole.SENT, "fid-order")
