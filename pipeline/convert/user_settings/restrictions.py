"""Restrictions and rule actions as [MS-OXORULE] stores them in extended rule messages
(PidTagExtendedRuleMessageCondition 0x0E9A, PidTagExtendedRuleMessageActions 0x0E99), decoded into plain
values; the bytes stay with the rule that holds them.

The extended-rule form of [MS-OXCDATA] 2.12 restrictions counts with 32 bits where the ROP form uses 16,
and both streams start with the named properties they use ([MS-OXORULE] 2.2.4.2).
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError, filetime

AND, OR, NOT, CONTENT, PROPERTY, COMPARE_PROPS, BITMASK, SIZE, EXIST, SUB_OBJECT, COMMENT, COUNT = range(12)
RESTRICTION_NAMES = (
    "and",
    "or",
    "not",
    "content",
    "property",
    "compare_props",
    "bitmask",
    "size",
    "exist",
    "sub_object",
    "comment",
    "count",
)
#: Action types of [MS-OXORULE] 2.2.5.1.
ACTION_NAMES = {
    1: "move",
    2: "copy",
    3: "reply",
    4: "oof_reply",
    5: "defer_action",
    6: "bounce",
    7: "forward",
    8: "delegate",
    9: "tag",
    10: "delete",
    11: "mark_as_read",
}
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class NamedProperty:
    prop_id: int  # the id the streams use for it (0x8000 and above)
    guid: str
    name: int | str


@dataclass(frozen=True, slots=True)
class Restriction:
    """One node: `kind` a RESTRICTION_NAMES value; `children` for and/or/not/sub_object/count/comment;
    `tag` and `value` for content/property/exist/bitmask/size; `op` the relop or fuzzy level."""

    kind: str
    children: tuple[Restriction, ...] = ()
    tag: int | None = None
    value: Any = None
    op: int | None = None
    tag2: int | None = None

    def walk(self, inside_not: bool = False, sub_object: int | None = None):
        """(node, inside a NOT, the sub-object tag it is under) for this node and every node below it."""
        yield self, inside_not, sub_object
        for child in self.children:
            yield from child.walk(
                inside_not or self.kind == "not", self.tag if self.kind == "sub_object" else sub_object
            )


@dataclass(frozen=True, slots=True)
class RuleAction:
    kind: str  # an ACTION_NAMES value or "type_<n>"
    flavor: int
    flags: int
    data: bytes
    store_entry_id: bytes | None = None  # move/copy: the target store and folder
    folder_entry_id: bytes | None = None


def read_named_properties(cursor: Cursor) -> tuple[NamedProperty, ...]:
    count = cursor.u16("named property count")
    if count == 0:
        return ()
    ids = [cursor.u16("named property id") for _ in range(count)]
    body = Cursor(cursor.take(cursor.u32("named properties size"), "named properties"), cursor.what)
    found = []
    for prop_id in ids:
        kind = body.u8("named property kind")
        guid = str(uuid.UUID(bytes_le=body.take(16, "property set")))
        if kind == 0:
            name: int | str = body.u32("named property id")
        elif kind == 1:
            name = body.take(body.u8("name size"), "name").decode("utf-16-le", "replace").rstrip("\0")
        else:
            raise body.fail(f"named property kind {kind}")
        found.append(NamedProperty(prop_id, guid, name))
    return tuple(found)


def _tagged_value(cursor: Cursor) -> tuple[int, Any]:
    tag = cursor.u32("property tag")
    kind = tag & 0xFFFF
    multi = kind & 0x1000
    if multi:
        return tag, [_scalar(cursor, kind & 0x0FFF) for _ in range(cursor.u32("value count"))]
    return tag, _scalar(cursor, kind)


def _scalar(cursor: Cursor, kind: int) -> Any:
    if kind == 0x0002:
        return struct.unpack("<h", cursor.take(2))[0]
    if kind in (0x0003, 0x000A):
        return cursor.i32("long")
    if kind == 0x0004:
        return struct.unpack("<f", cursor.take(4))[0]
    if kind in (0x0005, 0x0007):
        return struct.unpack("<d", cursor.take(8))[0]
    if kind == 0x000B:
        return cursor.u8("boolean") != 0
    if kind == 0x0014:
        return struct.unpack("<q", cursor.take(8))[0]
    if kind == 0x0040:
        return filetime(cursor.u64("time"))
    if kind == 0x0048:
        return str(uuid.UUID(bytes_le=cursor.take(16, "guid")))
    if kind == 0x001F:
        return cursor.utf16z()
    if kind == 0x001E:
        return cursor.asciiz()
    if kind in (0x0102, 0x00FB):
        return cursor.take(cursor.u32("binary size"), "binary")
    raise cursor.fail(f"property type 0x{kind:04X} in a restriction")


#: A TaggedPropertyValue ([MS-OXCDATA] 2.11.4) read from a cursor: (tag, value); for action data too.
tagged_value = _tagged_value


def read_restriction(cursor: Cursor, depth: int = 0) -> Restriction:
    if depth > MAX_DEPTH:
        raise cursor.fail(f"restriction nested deeper than {MAX_DEPTH}")
    kind = cursor.u8("restriction type")
    if kind in (AND, OR):
        count = cursor.u32("restriction count")
        if count > cursor.remaining:
            raise cursor.fail(f"restriction count {count} larger than the stream")
        return Restriction(RESTRICTION_NAMES[kind], tuple(read_restriction(cursor, depth + 1) for _ in range(count)))
    if kind == NOT:
        return Restriction("not", (read_restriction(cursor, depth + 1),))
    if kind == CONTENT:
        fuzzy = cursor.u32("fuzzy level")
        tag = cursor.u32("property tag")
        _, value = _tagged_value(cursor)
        return Restriction("content", tag=tag, value=value, op=fuzzy)
    if kind == PROPERTY:
        relop = cursor.u8("relop")
        tag = cursor.u32("property tag")
        _, value = _tagged_value(cursor)
        return Restriction("property", tag=tag, value=value, op=relop)
    if kind == COMPARE_PROPS:
        relop = cursor.u8("relop")
        return Restriction("compare_props", tag=cursor.u32("tag"), tag2=cursor.u32("tag"), op=relop)
    if kind in (BITMASK, SIZE):
        relop = cursor.u8("relop")
        tag = cursor.u32("property tag")
        return Restriction(RESTRICTION_NAMES[kind], tag=tag, value=cursor.u32("mask or size"), op=relop)
    if kind == EXIST:
        return Restriction("exist", tag=cursor.u32("property tag"))
    if kind == SUB_OBJECT:
        tag = cursor.u32("sub-object tag")
        return Restriction("sub_object", (read_restriction(cursor, depth + 1),), tag=tag)
    if kind == COMMENT:
        values = [_tagged_value(cursor) for _ in range(cursor.u8("tagged value count"))]
        children = (read_restriction(cursor, depth + 1),) if cursor.u8("restriction present") else ()
        return Restriction("comment", children, value=values)
    if kind == COUNT:
        limit = cursor.u32("count")
        return Restriction("count", (read_restriction(cursor, depth + 1),), value=limit)
    raise SettingsFormatError(cursor.what, cursor.offset - 1, f"restriction type 0x{kind:02X}")


def parse_condition(raw: bytes) -> tuple[tuple[NamedProperty, ...], Restriction | None]:
    """PidTagExtendedRuleMessageCondition: the named properties, then one restriction (none if empty)."""
    cursor = Cursor(raw, "rule condition")
    named = read_named_properties(cursor)
    restriction = read_restriction(cursor) if cursor.remaining else None
    return named, restriction


def parse_actions(raw: bytes) -> tuple[tuple[NamedProperty, ...], int, tuple[RuleAction, ...]]:
    """PidTagExtendedRuleMessageActions: named properties, the rule version, the action blocks."""
    cursor = Cursor(raw, "rule actions")
    named = read_named_properties(cursor)
    version = cursor.u32("rule version")
    count = cursor.u32("action count")
    if count > cursor.remaining:
        raise cursor.fail(f"action count {count} larger than the stream")
    actions = []
    for _ in range(count):
        length = cursor.u32("action length")
        block = Cursor(cursor.take(length, "action block"), cursor.what)
        kind, flavor, flags = block.u8("action type"), block.u32("action flavor"), block.u32("action flags")
        data = block.take(block.remaining)
        store = folder = None
        if kind in (1, 2) and data:
            inner = Cursor(data, "move/copy action")
            store = inner.take(inner.u32("store entry id size"), "store entry id")
            folder = inner.take(inner.u32("folder entry id size"), "folder entry id")
        actions.append(RuleAction(ACTION_NAMES.get(kind, f"type_{kind}"), flavor, flags, data, store, folder))
    return named, version, tuple(actions)
