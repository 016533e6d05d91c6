"""Navigation shortcuts of [MS-OXOCFG] 2.2.9 (IPM.Microsoft.WunderBar.Link in Common Views): the folders
and groups of Outlook's navigation pane, read from the PidTagWlink* properties.
"""

from __future__ import annotations

from dataclasses import dataclass

PR_WLINK_GROUP_HEADER_ID = 0x6842
PR_WLINK_SAVE_STAMP = 0x6847
PR_WLINK_TYPE = 0x6849
PR_WLINK_FLAGS = 0x684A
PR_WLINK_ORDINAL = 0x684B
PR_WLINK_ENTRYID = 0x684C
PR_WLINK_RECKEY = 0x684D
PR_WLINK_STORE_ENTRYID = 0x684E
PR_WLINK_FOLDER_TYPE = 0x684F
PR_WLINK_GROUP_CLSID = 0x6850
PR_WLINK_GROUP_NAME = 0x6851
PR_WLINK_SECTION = 0x6852
PR_WLINK_CALENDAR_COLOR = 0x6853
#: PidTagWlinkType: what the shortcut points at.
LINK_TYPES = {0: "folder", 1: "search_folder", 2: "shared_folder", 4: "group_header", 8: "url"}


@dataclass(frozen=True, slots=True)
class NavigationShortcut:
    name: str
    link_type: int | None
    kind: str  # a LINK_TYPES value or "type_<n>"
    section: int | None
    group_name: str | None
    ordinal: bytes | None
    folder_entry_id: bytes | None  # the folder it opens (its entry id in the old store)
    store_entry_id: bytes | None
    folder_type: bytes | None  # a GUID naming the folder kind (mail, calendar, ...)
    group_header_id: bytes | None  # for a group header: its id; a search folder link: the search folder's id
    group_clsid: bytes | None
    calendar_color: int | None
    flags: int | None = None  # PidTagWlinkFlags


#: The properties a link written again carries: its own, as read, with the new folder's and store's entry ids.
#: (property id, EWS property type, NavigationShortcut field or None for the two new entry ids)
LINK_PROPERTIES = (
    (PR_WLINK_TYPE, "Integer", "link_type"),
    (PR_WLINK_FLAGS, "Integer", "flags"),
    (PR_WLINK_ORDINAL, "Binary", "ordinal"),
    (PR_WLINK_ENTRYID, "Binary", None),
    (PR_WLINK_STORE_ENTRYID, "Binary", None),
    (PR_WLINK_FOLDER_TYPE, "Binary", "folder_type"),
    (PR_WLINK_GROUP_CLSID, "Binary", "group_clsid"),
    (PR_WLINK_GROUP_NAME, "String", "group_name"),
    (PR_WLINK_SECTION, "Integer", "section"),
    (PR_WLINK_CALENDAR_COLOR, "Integer", "calendar_color"),
)


def link_properties(
    shortcut: NavigationShortcut, entry_id: bytes, store_entry_id: bytes
) -> list[tuple[int, str, int | str | bytes]]:
    """(property id, EWS type, value) of the link pointing at the rebuilt folder: [MS-OXOCFG] 2.2.9's
    properties as the source had them, the entry ids the new server's; an absent one is left out."""
    found: list[tuple[int, str, int | str | bytes]] = []
    for prop_id, kind, name in LINK_PROPERTIES:
        value = getattr(shortcut, name) if name else (entry_id if prop_id == PR_WLINK_ENTRYID else store_entry_id)
        if value is not None:
            found.append((prop_id, kind, value))
    return found


def _bytes(value: object) -> bytes | None:
    return value if isinstance(value, bytes) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_shortcut(properties: dict[int, object], subject: str) -> NavigationShortcut:
    link_type = _int(properties.get(PR_WLINK_TYPE))
    group = properties.get(PR_WLINK_GROUP_NAME)
    return NavigationShortcut(
        name=subject,
        link_type=link_type,
        kind=LINK_TYPES.get(link_type or 0, f"type_{link_type}"),
        section=_int(properties.get(PR_WLINK_SECTION)),
        group_name=group if isinstance(group, str) else None,
        ordinal=_bytes(properties.get(PR_WLINK_ORDINAL)),
        folder_entry_id=_bytes(properties.get(PR_WLINK_ENTRYID)),
        store_entry_id=_bytes(properties.get(PR_WLINK_STORE_ENTRYID)),
        folder_type=_bytes(properties.get(PR_WLINK_FOLDER_TYPE)),
        group_header_id=_bytes(properties.get(PR_WLINK_GROUP_HEADER_ID)),
        group_clsid=_bytes(properties.get(PR_WLINK_GROUP_CLSID)),
        calendar_color=_int(properties.get(PR_WLINK_CALENDAR_COLOR)),
        flags=_int(properties.get(PR_WLINK_FLAGS)),
    )
