"""The conditions and actions of one rule of Outlook's rules stream (PR_RW_RULES_STREAM), read as text for the
report: Microsoft does not describe the stream; the layouts here follow the public reverse-engineered
description of it (each element a 32-bit kind, then fields of its own; elements apart by 0x8001; no lengths,
so an element of an unknown kind ends the reading, and what was read before it stays).

Only for telling the user what a client-only rule did: the restore never writes from it (the extended rule
messages are what inbox rules are made from, inbox_rules.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError

SEPARATOR = 0x8001
PID_DISPLAY_NAME, PID_EMAIL_ADDRESS, PID_SMTP_ADDRESS = 0x3001, 0x3003, 0x39FE

#: Elements holding nothing but a 32-bit zero after their kind.
_PLAIN = {
    0xC8: "where my name is in the To box",
    0xC9: "sent only to me",
    0xCA: "where my name is not in the To box",
    0xDC: "which is an automatic reply",
    0xDE: "which has an attachment",
    0xE2: "where my name is in the Cc box",
    0xE3: "where my name is in the To or Cc box",
    0xF1: "which is a meeting invitation or update",
    0xF6: "assigned to any category",
    0xF7: "from any RSS feed",
    0x12D: "delete it",
    0x132: "clear the message flag",
    0x13A: "notify me when it is read",
    0x13B: "notify me when it is delivered",
    0x142: "stop processing more rules",
    0x148: "print it",
    0x14A: "permanently delete it",
    0x14C: "mark it as read",
    0x14F: "display a Desktop Alert",
    0x152: "clear the message's categories",
    0x1F4: "except where my name is in the To box",
    0x1F5: "except if sent only to me",
    0x1F6: "except where my name is not in the To box",
    0x208: "except if it is an automatic reply",
    0x20A: "except if it has an attachment",
    0x20E: "except where my name is in the Cc box",
    0x20F: "except if my name is in the To or Cc box",
    0x216: "except if it is a meeting invitation or update",
    0x21A: "except if assigned to any category",
    0x21B: "except if from any RSS feed",
}
_WORDS = {
    0xCD: "with {} in the subject",
    0xCE: "with {} in the body",
    0xCF: "with {} in the subject or body",
    0xE5: "with {} in the recipient's address",
    0xE6: "with {} in the sender's address",
    0xE8: "with {} in the message header",
    0x1F9: "except if the subject contains {}",
    0x1FA: "except if the body contains {}",
    0x1FB: "except if the subject or body contains {}",
    0x211: "except with {} in the recipient's address",
    0x212: "except with {} in the sender's address",
    0x213: "except if the message header contains {}",
}
_PEOPLE = {
    0xCB: "from {}",
    0xCC: "sent to {}",
    0x1F7: "except if from {}",
    0x1F8: "except if sent to {}",
    0x12E: "forward it to {}",
    0x13C: "Cc the message to {}",
    0x144: "redirect it to {}",
    0x147: "forward it to {} as an attachment",
}
_TEXT = {
    0xD7: "assigned to {} category",
    0x203: "except if assigned to {} category",
    0xF5: "from RSS feeds with {} in the title",
    0x219: "except if from RSS feeds with {} in the title",
    0x12F: "reply using the template {}",
    0x130: "display {} in the New Item Alert window",
    0x133: "assign it to the {} category",
    0x136: "play the sound {}",
}
_LEVELS = {
    0xD2: ("marked as {} importance", ("low", "normal", "high")),
    0x1FE: ("except if it is marked as {} importance", ("low", "normal", "high")),
    0x137: ("mark it as {} importance", ("low", "normal", "high")),
    0xD3: ("marked as {}", ("normal", "personal", "private", "confidential")),
    0x1FF: ("except if it is marked as {}", ("normal", "personal", "private", "confidential")),
}


@dataclass(frozen=True, slots=True)
class StreamRuleText:
    """What one rule of the stream says, element by element (as far as the elements could be read)."""

    elements: tuple[str, ...]
    problem: str | None = None  # where reading stopped


def _length(cursor: Cursor, name: str) -> int:
    length = cursor.u8(name)
    return cursor.u16(name) if length == 0xFF else length


def _text(cursor: Cursor, name: str) -> str:
    return cursor.take(2 * _length(cursor, name), name).decode("utf-16-le", "replace")


def _quoted(values: list[str]) -> str:
    return " or ".join(repr(v) for v in values) if values else "(none)"


def _person(cursor: Cursor) -> str:
    """One XR_PropValArray: an index of 16 bytes per property, then the strings and binaries it points at."""
    cursor.u32("property array marker")
    count = cursor.u32("property count")
    block = cursor.take(cursor.u32("property block size"), "property block")
    found: dict[int, str] = {}
    for index in range(count):
        if 16 * (index + 1) > len(block):
            raise SettingsFormatError("rules stream", cursor.offset, "property index past its block")
        tag, _, first, second = struct.unpack_from("<IIII", block, 16 * index)
        if tag & 0xFFFF == 0x001F and first < len(block):
            end = first
            while end + 1 < len(block) and block[end : end + 2] != b"\0\0":
                end += 2
            found[tag >> 16] = block[first:end].decode("utf-16-le", "replace")
    for pid in (PID_SMTP_ADDRESS, PID_EMAIL_ADDRESS, PID_DISPLAY_NAME):
        if found.get(pid):
            return found[pid]
    return "(a recipient)"


def _element(cursor: Cursor) -> str | None:
    """One element as text; None for the ones that say nothing to a reader (0x64, receive/send)."""
    kind = cursor.u32("element kind")
    if kind in _PLAIN:
        cursor.u32("element marker")
        return _PLAIN[kind]
    if kind == 0x64:
        cursor.take(12, "element 0x64")
        return None
    if kind == 0x190:
        cursor.take(8, "element marker")
        bits = cursor.u32("receive/send")
        return "after I send the message" if bits & 0x04 else None
    if kind in _WORDS:
        words = []
        for _ in range(cursor.u32("word count")):
            cursor.u32("word flags")
            words.append(_text(cursor, "word"))
        return _WORDS[kind].format(_quoted(words))
    if kind in _PEOPLE:
        cursor.take(8, "element marker")
        people = [_person(cursor) for _ in range(cursor.u32("recipient count"))]
        cursor.take(8, "element end")
        return _PEOPLE[kind].format(_quoted(people))
    if kind in _TEXT:
        cursor.take(8, "element marker")
        return _TEXT[kind].format(repr(_text(cursor, "text")))
    if kind in _LEVELS:
        cursor.take(8, "element marker")
        phrase, levels = _LEVELS[kind]
        level = cursor.u32("level")
        return phrase.format(levels[level] if level < len(levels) else f"level {level}")
    if kind in (0xE0, 0x20C):
        cursor.take(8, "element marker")
        low, high = cursor.u32("minimum KB"), cursor.u32("maximum KB")
        return f"{'except ' if kind == 0x20C else ''}with a size between {low} and {high} KB"
    if kind in (0x12C, 0x139):
        cursor.take(8, "element marker")
        cursor.take(cursor.u32("folder entry id size"), "folder entry id")
        cursor.take(cursor.u32("store entry id size"), "store entry id")
        folder = _text(cursor, "folder name")
        cursor.u32("element end")
        return f"{'move it' if kind == 0x12C else 'move a copy'} to the {folder!r} folder"
    if kind == 0xEF:
        cursor.take(8 + 16, "machine")
        return "on this computer only"
    if kind == 0x13E:
        cursor.take(8, "element marker")
        return f"defer delivery by {cursor.u32('minutes')} minutes"
    raise cursor.fail(f"element kind 0x{kind:X} (not read here)")


def read_rule_elements(body: bytes) -> StreamRuleText:
    """The text of a rule's elements, from the bytes after its byte count (never raises)."""
    cursor = Cursor(body, "rules stream rule")
    found: list[str] = []
    try:
        count = cursor.u16("element count")
        if cursor.u16("separator") == 0xFFFF:
            cursor.u16("class marker")
            cursor.take(cursor.u16("class name size"), "class name")
        for index in range(count):
            if index:
                if cursor.u16("separator") != SEPARATOR:
                    raise cursor.fail("no element separator")
            text = _element(cursor)
            if text:
                found.append(text)
    except SettingsFormatError as exc:
        return StreamRuleText(tuple(found), str(exc))
    return StreamRuleText(tuple(found))
