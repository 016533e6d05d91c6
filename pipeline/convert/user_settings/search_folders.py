"""Search folder definition messages of [MS-OXOSRCH] (IPM.Microsoft.WunderBar.SFInfo in Common Views):
the template, the folders searched and the criteria, from PidTagSearchFolderDefinition (0x6845).

Decoded: the header up to the list of folders searched (version, flags, numerical and text search, deep
search, the folder list as text and as entry ids). What follows (addresses, the restriction, advanced
search) is kept as bytes in `criteria`; the whole stream stays in `raw`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError

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
    criteria: bytes  # the rest of the definition (addresses, restriction, advanced search), undecoded
    raw: bytes


def _short_text(cursor: Cursor, name: str) -> str:
    """A length byte (255: a 16-bit length follows), then that many UTF-16 code units."""
    length = cursor.u8(f"{name} length")
    if length == 0xFF:
        length = cursor.u16(f"{name} extended length")
    return cursor.take(2 * length, name).decode("utf-16-le", "replace").rstrip("\0")


def parse_search_folder_definition(raw: bytes, name: str, template_id: int | None, search_folder_id: bytes | None,
                                   storage_type: int | None) -> SearchFolderDefinition:
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
    return SearchFolderDefinition(name=name, template_id=template_id, search_folder_id=search_folder_id,
                                  storage_type=storage_type, version=version, flags=flags, numerical_search=numerical,
                                  text_search=text, deep_search=deep, folder_list_text=folder_text,
                                  folder_entry_ids=tuple(entry_ids), criteria=cursor.take(cursor.remaining), raw=raw)
