"""Opaque EWS ids for folders and items, and their change keys, laid out as Exchange's EwsId.

An EwsId is base64 of: a compression byte (0), the storage type (3: mailbox GUID based), the length of the
moniker (2 bytes LE, 36) and the moniker (the mailbox GUID as text), a processing instruction (0 normal,
1 recurrence), the length of the store id (2 bytes LE) and the store id, a MAPI entry id (70 bytes for a
message, 46 for a folder: MS-OXCDATA 2.2.4). An item id is therefore 152 characters, a folder id 120, as on
Exchange, which clients that recognise ids by their length rely on. An occurrence id carries the original
start (UTC epoch seconds) after the entry id. Ids carry their mailbox (the mailbox GUID here encodes the
mailbox row) so an id from another mailbox is recognised and refused instead of mis-resolved.

The short ids of earlier sandboxes (a 4-byte tag, the mailbox and the row) are still read, so state kept from
them (journals, tests' notes) keeps resolving; nothing hands them out any more.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import struct
import uuid
from dataclasses import dataclass

# -- ids of earlier sandboxes, read only -----------------------------------------------------------
_FOLDER = b"SBXF"
_ITEM = b"SBXI"
_OCCURRENCE = b"SBXO"
_CONFIGURATION = b"SBXC"  # a user configuration object (an associated message of its folder)
_RULE = b"SBXR"  # an inbox rule
_LAYOUT = struct.Struct(">4sIQ")
_OCCURRENCE_LAYOUT = struct.Struct(">4sIQq")

# -- Exchange's layout ------------------------------------------------------------------------------
#: The fixed first half of every mailbox GUID the sandbox makes; the second half is the mailbox row.
_GUID_PREFIX = bytes.fromhex("5b0c3a1e9d2f4c6b")
_HEAD = struct.Struct("<BBH")  # compression, storage type, moniker length
_STORE = struct.Struct("<BH")  # processing instruction, store id length
_TYPE_FOLDER = 0x0001  # eitLTPrivateFolder
_TYPE_MESSAGE = 0x0007  # eitLTPrivateMessage
_PLAIN, _RECURRENCE = 0, 1


class MalformedId(ValueError):
    """Not an id this server handed out (ErrorInvalidIdMalformed)."""


@dataclass(frozen=True, slots=True)
class RowRef:
    mailbox_id: int
    row_id: int


@dataclass(frozen=True, slots=True)
class OccurrenceRef:
    """One occurrence of a series: the master's row and the occurrence's original start."""

    mailbox_id: int
    row_id: int
    original_start: dt.datetime


def mailbox_guid(mailbox_id: int) -> uuid.UUID:
    """The mailbox's GUID (its EwsId moniker and the provider UID of its entry ids)."""
    return uuid.UUID(bytes=_GUID_PREFIX + struct.pack(">Q", mailbox_id))


def _mailbox_of_guid(raw: bytes) -> int:
    if len(raw) != 16 or raw[:8] != _GUID_PREFIX:
        raise MalformedId("not a mailbox of this server")
    return int(struct.unpack(">Q", raw[8:])[0])


def _counter(row_id: int) -> bytes:
    """A 6-byte global counter (big-endian, as MS-OXCDATA's GLOBCNT) followed by 2 pad bytes."""
    return row_id.to_bytes(6, "big") + b"\0\0"


def folder_entry_id(mailbox_id: int, row_id: int) -> bytes:
    """PR_ENTRYID of a folder (46 bytes): flags, provider UID, type, database GUID, global counter."""
    guid = mailbox_guid(mailbox_id).bytes
    return b"\0\0\0\0" + guid + struct.pack("<H", _TYPE_FOLDER) + guid + _counter(row_id)


#: [MS-OXCDATA] 2.2.4.3: the provider UID of store entry ids, and the wrapped one of a private mailbox.
STORE_PROVIDER_UID = bytes.fromhex("38A1BB1005E5101AA1BB08002B2A56C2")
PRIVATE_MAILBOX_UID = bytes.fromhex("1B55FA20AA6611CD9BC800AA002FC45A")


def store_entry_id(mailbox_id: int, address: str) -> bytes:
    """PR_STORE_ENTRYID of a mailbox ([MS-OXCDATA] 2.2.4.3): flags, provider UID, version, flag, "emsmdb.dll",
    wrapped flags, the private-mailbox UID, type 0x0C, the server's short name and the mailbox's DN."""
    local = address.partition("@")[0] or f"mailbox{mailbox_id}"
    dn = f"/o=Sandbox/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={local}"
    return (
        b"\0\0\0\0"
        + STORE_PROVIDER_UID
        + b"\0\0"
        + b"emsmdb.dll\0"
        + b"\0\0\0\0"
        + PRIVATE_MAILBOX_UID
        + struct.pack("<I", 0x0C)
        + b"sandbox\0"
        + dn.encode("ascii", "replace")
        + b"\0"
    )


def item_entry_id(mailbox_id: int, row_id: int) -> bytes:
    """PR_ENTRYID of a message (70 bytes); the folder part is left zero (it would change with a move)."""
    guid = mailbox_guid(mailbox_id).bytes
    return b"\0\0\0\0" + guid + struct.pack("<H", _TYPE_MESSAGE) + bytes(16) + _counter(0) + guid + _counter(row_id)


def _ews_id(mailbox_id: int, entry_id: bytes, instruction: int = _PLAIN, tail: bytes = b"") -> str:
    moniker = str(mailbox_guid(mailbox_id)).encode("ascii")
    raw = _HEAD.pack(0, 3, len(moniker)) + moniker + _STORE.pack(instruction, len(entry_id)) + entry_id + tail
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Parsed:
    mailbox_id: int
    entry_type: int
    row_id: int
    instruction: int
    tail: bytes


def parse_entry_id(entry: bytes) -> tuple[int, int, int]:
    """(mailbox, entry type, row) of an entry id this server made; MalformedId otherwise."""
    if len(entry) == 46:
        kind = struct.unpack("<H", entry[20:22])[0]
        if kind != _TYPE_FOLDER or entry[:4] != bytes(4) or entry[22:38] != entry[4:20]:
            raise MalformedId("not a folder entry id of this server")
        return _mailbox_of_guid(entry[4:20]), kind, int.from_bytes(entry[38:44], "big")
    if len(entry) == 70:
        kind = struct.unpack("<H", entry[20:22])[0]
        if kind != _TYPE_MESSAGE or entry[:4] != bytes(4) or entry[46:62] != entry[4:20]:
            raise MalformedId("not a message entry id of this server")
        return _mailbox_of_guid(entry[4:20]), kind, int.from_bytes(entry[62:68], "big")
    raise MalformedId("not an entry id of this server")


def _parse(text: str) -> _Parsed | None:
    """The long (Exchange-like) form; None when `text` is one of the short ids of earlier sandboxes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedId(text) from exc
    if len(raw) in (_LAYOUT.size, _OCCURRENCE_LAYOUT.size) and raw[:3] == b"SBX":
        return None
    if len(raw) < _HEAD.size:
        raise MalformedId(text)
    compression, storage, moniker_len = _HEAD.unpack_from(raw)
    at = _HEAD.size + moniker_len
    if compression != 0 or storage != 3 or len(raw) < at + _STORE.size:
        raise MalformedId(text)
    try:
        mailbox_id = _mailbox_of_guid(uuid.UUID(raw[_HEAD.size : at].decode("ascii")).bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedId(text) from exc
    instruction, entry_len = _STORE.unpack_from(raw, at)
    at += _STORE.size
    entry = raw[at : at + entry_len]
    if len(entry) != entry_len:
        raise MalformedId(text)
    entry_mailbox, kind, row_id = parse_entry_id(entry)
    if entry_mailbox != mailbox_id:
        raise MalformedId(text)
    return _Parsed(mailbox_id, kind, row_id, instruction, raw[at + entry_len :])


def _decode_short(tag: bytes, text: str) -> RowRef:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != _LAYOUT.size:
        raise MalformedId(text)
    found, mailbox_id, row_id = _LAYOUT.unpack(raw)
    if found != tag:
        raise MalformedId(text)
    return RowRef(mailbox_id, row_id)


def folder_id(mailbox_id: int, row_id: int) -> str:
    return _ews_id(mailbox_id, folder_entry_id(mailbox_id, row_id))


def item_id(mailbox_id: int, row_id: int) -> str:
    return _ews_id(mailbox_id, item_entry_id(mailbox_id, row_id))


def ews_id_of_entry(entry: bytes) -> str:
    """The EwsId of an entry id this server made (ConvertId from EntryId/HexEntryId)."""
    mailbox_id, _, _ = parse_entry_id(entry)
    return _ews_id(mailbox_id, entry)


def entry_id_of(text: str) -> bytes:
    """The entry id inside an EwsId (ConvertId to EntryId/HexEntryId); MalformedId for other ids."""
    parsed = _parse(text)
    if parsed is None:
        raise MalformedId(text)
    return (folder_entry_id if parsed.entry_type == _TYPE_FOLDER else item_entry_id)(parsed.mailbox_id, parsed.row_id)


def _encode(tag: bytes, mailbox_id: int, row_id: int) -> str:
    """The short opaque id of what is no item or folder of its own here: a user configuration, an inbox rule
    (Exchange's rule ids are short opaque strings too)."""
    return base64.b64encode(_LAYOUT.pack(tag, mailbox_id, row_id)).decode("ascii")


def _decode(tag: bytes, text: str) -> RowRef:
    try:
        return _decode_short(tag, text)
    except (binascii.Error, ValueError) as exc:
        raise MalformedId(text) from exc


def configuration_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_CONFIGURATION, mailbox_id, row_id)


def rule_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_RULE, mailbox_id, row_id)


def parse_rule_id(text: str) -> RowRef:
    return _decode(_RULE, text)


def parse_folder_id(text: str) -> RowRef:
    return _plain(text, _TYPE_FOLDER, _FOLDER)


def parse_item_id(text: str) -> RowRef:
    return _plain(text, _TYPE_MESSAGE, _ITEM)


def _plain(text: str, entry_type: int, short_tag: bytes) -> RowRef:
    """The row an EwsId of this entry type names (no occurrence, nothing after the entry id), or one of the
    short ids earlier sandboxes gave; MalformedId otherwise."""
    parsed = _parse(text)
    if parsed is None:
        return _decode_short(short_tag, text)
    if parsed.entry_type != entry_type or parsed.instruction != _PLAIN or parsed.tail:
        raise MalformedId(text)
    return RowRef(parsed.mailbox_id, parsed.row_id)


def occurrence_id(mailbox_id: int, row_id: int, original_start: dt.datetime) -> str:
    tail = struct.pack(">q", int(original_start.timestamp()))
    return _ews_id(mailbox_id, item_entry_id(mailbox_id, row_id), _RECURRENCE, tail)


def parse_occurrence_id(text: str) -> OccurrenceRef:
    parsed = _parse(text)
    if parsed is None:
        raw = base64.b64decode(text, validate=True)
        if len(raw) != _OCCURRENCE_LAYOUT.size or raw[:4] != _OCCURRENCE:
            raise MalformedId(text)
        _, mailbox_id, row_id, stamp = _OCCURRENCE_LAYOUT.unpack(raw)
        return OccurrenceRef(mailbox_id, row_id, dt.datetime.fromtimestamp(stamp, dt.UTC))
    if parsed.entry_type != _TYPE_MESSAGE or parsed.instruction != _RECURRENCE or len(parsed.tail) != 8:
        raise MalformedId(text)
    (stamp,) = struct.unpack(">q", parsed.tail)
    return OccurrenceRef(parsed.mailbox_id, parsed.row_id, dt.datetime.fromtimestamp(stamp, dt.UTC))


def is_occurrence_id(text: str) -> bool:
    try:
        parse_occurrence_id(text)
    except MalformedId:
        return False
    return True


def change_key(version: int, row_id: int = 0) -> str:
    """The ChangeKey of a version; with `row_id` (items) it is the item's own, so no other item's key fits."""
    if row_id:
        return base64.b64encode(b"CQAAABYAAAB" + struct.pack(">IQ", version, row_id)).decode("ascii")
    return base64.b64encode(b"CQAAABYAAAB" + struct.pack(">I", version)).decode("ascii")
