"""Search folder definition messages of [MS-OXOSRCH] (IPM.Microsoft.WunderBar.SFInfo in Common Views):
the template, the folders searched and the criteria, from PidTagSearchFolderDefinition (0x6845).

Decoded: the header (version, flags, numerical and text search, deep search, the folder list as text and
as entry ids), the address count and, where no addresses come before it, the restriction. The restriction
is a MAPI SRestriction written with 32-bit type, operator, count and tag fields, and property values whose
strings and binaries carry a 16-bit byte count (read from Outlook's own definitions: "Unread Mail" is
AND(NOT(OR(message class is a calendar, contact, list, journal, note or task class)), AND(not in Deleted
Items, Junk, Outbox, Sync Issues), OR(unread)), "Categorized Mail" EXIST(Keywords)). What follows it, or the
whole remainder when it cannot be read, stays as bytes in `criteria` (`restriction_problem` says why); the
whole stream stays in `raw`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError, filetime
from pipeline.convert.user_settings.restrictions import MAX_DEPTH, RESTRICTION_NAMES, Restriction

DEFINITION_VERSION = 0x1004


@dataclass(frozen=True, slots=True)
class SearchFolderDefinition:
    name: str
    template_id: int | None  # PidTagSearchFolderTemplateId, as stored
    search_folder_id: bytes | None  # PidTagSearchFolderId: joins the definition to its folder and shortcut
    storage_type: int | None
    version: int
    flags: int
    numerical_search: int
    text_search: str
    deep_search: bool
    folder_list_text: str
    folder_entry_ids: tuple[bytes, ...]
    address_count: int | None
    restriction: Restriction | None
    criteria: bytes  # what follows the restriction (or all that follows the folder list), undecoded
    raw: bytes
    restriction_problem: str | None = None


def _short_text(cursor: Cursor, name: str) -> str:
    """A length byte (255: a 16-bit length follows), then that many UTF-16 code units."""
    length = cursor.u8(f"{name} length")
    if length == 0xFF:
        length = cursor.u16(f"{name} extended length")
    return cursor.take(2 * length, name).decode("utf-16-le", "replace").rstrip("\0")


def parse_search_folder_definition(
    raw: bytes, name: str, template_id: int | None, search_folder_id: bytes | None, storage_type: int | None
) -> SearchFolderDefinition:
    cursor = Cursor(raw, f"search folder definition {name!r}")
    version = cursor.u32("version")
    if version != DEFINITION_VERSION:
        raise SettingsFormatError(cursor.what, 0, f"version 0x{version:X}, not 0x{DEFINITION_VERSION:X}")
    flags = cursor.u32("flags")
    numerical = cursor.u32("numerical search")
    text = _short_text(cursor, "text search")
    cursor.take(cursor.u32("skip length 1"), "skip block 1")
    deep = cursor.u32("deep search") != 0
    folder_text = _short_text(cursor, "folder list 1")
    entry_list = Cursor(cursor.take(cursor.u32("folder list 2 length"), "folder list 2"), cursor.what)
    entry_ids: list[bytes] = []
    if entry_list.remaining:
        count = entry_list.u32("entry count")
        entry_list.take(4, "entry list pointer")
        sizes = []
        for _ in range(count):
            sizes.append(entry_list.u32("entry id size"))
            entry_list.take(4, "entry id pointer")
        entry_ids = [entry_list.take(size, "entry id") for size in sizes]
    restriction, addresses, problem = None, None, None
    if cursor.remaining >= 4:
        addresses = cursor.u32("address count")
        start = cursor.offset
        if addresses:
            problem = f"{addresses} addresses before the restriction: left undecoded"
        elif cursor.remaining:
            try:
                restriction = _restriction(cursor, 0)
            except SettingsFormatError as exc:  # kept as bytes: the rest of the definition is still read
                problem, cursor.offset = str(exc), start
    return SearchFolderDefinition(
        name=name,
        template_id=template_id,
        search_folder_id=search_folder_id,
        storage_type=storage_type,
        version=version,
        flags=flags,
        numerical_search=numerical,
        text_search=text,
        deep_search=deep,
        folder_list_text=folder_text,
        folder_entry_ids=tuple(entry_ids),
        address_count=addresses,
        restriction=restriction,
        criteria=cursor.take(cursor.remaining),
        raw=raw,
        restriction_problem=problem,
    )


def _value(cursor: Cursor) -> tuple[int, object]:
    tag = cursor.u32("property tag")
    kind = tag & 0xFFFF
    if kind in (0x001F, 0x001E, 0x0102):
        data = cursor.take(cursor.u16("value size"), "value")
        if kind == 0x001F:
            return tag, data.decode("utf-16-le", "replace").rstrip("\0")
        if kind == 0x001E:
            return tag, data.decode("latin-1").rstrip("\0")
        return tag, data
    if kind in (0x0003, 0x000A, 0x000B, 0x0002):
        number = cursor.u32("value")
        return tag, (number != 0) if kind == 0x000B else number - (1 << 32) if number >= 1 << 31 else number
    if kind in (0x0014, 0x0040):
        number = cursor.u64("value")
        return tag, filetime(number) if kind == 0x0040 else number
    raise cursor.fail(f"property type 0x{kind:04X} in a search restriction")


def _restriction(cursor: Cursor, depth: int) -> Restriction:
    if depth > MAX_DEPTH:
        raise cursor.fail(f"restriction nested deeper than {MAX_DEPTH}")
    kind = cursor.u32("restriction type")
    if kind > len(RESTRICTION_NAMES) - 1:
        raise SettingsFormatError(cursor.what, cursor.offset - 4, f"restriction type {kind}")
    name = RESTRICTION_NAMES[kind]
    if name in ("and", "or"):
        count = cursor.u32("restriction count")
        if count > cursor.remaining // 4:
            raise cursor.fail(f"restriction count {count} larger than the stream")
        return Restriction(name, tuple(_restriction(cursor, depth + 1) for _ in range(count)))
    if name == "not":
        return Restriction(name, (_restriction(cursor, depth + 1),))
    if name == "content":
        fuzzy, tag = cursor.u32("fuzzy level"), cursor.u32("property tag")
        return Restriction(name, tag=tag, value=_value(cursor)[1], op=fuzzy)
    if name == "property":
        relop, tag = cursor.u32("relop"), cursor.u32("property tag")
        return Restriction(name, tag=tag, value=_value(cursor)[1], op=relop)
    if name == "compare_props":
        relop = cursor.u32("relop")
        return Restriction(name, tag=cursor.u32("tag"), tag2=cursor.u32("tag"), op=relop)
    if name in ("bitmask", "size"):
        relop, tag = cursor.u32("relop"), cursor.u32("property tag")
        return Restriction(name, tag=tag, value=cursor.u32("mask or size"), op=relop)
    if name == "exist":
        return Restriction(name, tag=cursor.u32("property tag"))
    if name == "sub_object":
        tag = cursor.u32("sub-object tag")
        return Restriction(name, (_restriction(cursor, depth + 1),), tag=tag)
    if name == "count":
        limit = cursor.u32("count")
        return Restriction(name, (_restriction(cursor, depth + 1),), value=limit)
    raise cursor.fail(f"restriction type {name} in a search folder definition")
