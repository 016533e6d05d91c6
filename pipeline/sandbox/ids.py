"""Opaque EWS ids for folders and items, and their change keys: base64 of a tag, the mailbox and the row.

Ids carry their mailbox so an id from another mailbox is recognised (and refused) instead of mis-resolved.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import struct
from dataclasses import dataclass

_FOLDER = b"SBXF"
_ITEM = b"SBXI"
_OCCURRENCE = b"SBXO"
_CONFIGURATION = b"SBXC"  # a user configuration object (an associated message of its folder)
_RULE = b"SBXR"  # an inbox rule
_LAYOUT = struct.Struct(">4sIQ")
#: An occurrence id: tag, mailbox, the master's row and the occurrence's original start (UTC epoch seconds).
_OCCURRENCE_LAYOUT = struct.Struct(">4sIQq")


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


def _encode(tag: bytes, mailbox_id: int, row_id: int) -> str:
    return base64.b64encode(_LAYOUT.pack(tag, mailbox_id, row_id)).decode("ascii")


def _decode(tag: bytes, text: str) -> RowRef:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedId(text) from exc
    if len(raw) != _LAYOUT.size:
        raise MalformedId(text)
    found, mailbox_id, row_id = _LAYOUT.unpack(raw)
    if found != tag:
        raise MalformedId(text)
    return RowRef(mailbox_id, row_id)


def folder_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_FOLDER, mailbox_id, row_id)


def item_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_ITEM, mailbox_id, row_id)


def configuration_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_CONFIGURATION, mailbox_id, row_id)


def rule_id(mailbox_id: int, row_id: int) -> str:
    return _encode(_RULE, mailbox_id, row_id)


def parse_rule_id(text: str) -> RowRef:
    return _decode(_RULE, text)


def parse_folder_id(text: str) -> RowRef:
    return _decode(_FOLDER, text)


def parse_item_id(text: str) -> RowRef:
    return _decode(_ITEM, text)


def occurrence_id(mailbox_id: int, row_id: int, original_start: dt.datetime) -> str:
    raw = _OCCURRENCE_LAYOUT.pack(_OCCURRENCE, mailbox_id, row_id, int(original_start.timestamp()))
    return base64.b64encode(raw).decode("ascii")


def parse_occurrence_id(text: str) -> OccurrenceRef:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedId(text) from exc
    if len(raw) != _OCCURRENCE_LAYOUT.size or raw[:4] != _OCCURRENCE:
        raise MalformedId(text)
    _, mailbox_id, row_id, stamp = _OCCURRENCE_LAYOUT.unpack(raw)
    return OccurrenceRef(mailbox_id, row_id, dt.datetime.fromtimestamp(stamp, dt.UTC))


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
