"""Properties Exchange computes rather than stores, readable as extended properties (ExtendedFieldURI) of
items and folders, and usable in restrictions and sort orders where a client filters on them.

Items: PR_MESSAGE_CLASS (0x001A), PR_INTERNET_ARTICLE_NUMBER (0x0E23, the IMAP UID: the item's row, unique
in the store and increasing in each folder as items arrive), PR_RECORD_KEY (0x0FF9) and PR_ENTRYID (0x0FFF),
PR_CREATION_TIME (0x3007), PR_LAST_MODIFICATION_TIME (0x3008) and PidLidRecurring (0x8223 in
PSETID_Appointment: true on a recurring master). Folders: PR_CONTENT_COUNT (0x3602), PR_CONTENT_UNREAD
(0x3603), PR_SUBFOLDERS (0x360A), PR_LAST_MODIFICATION_TIME (0x3008), PR_LOCAL_COMMIT_TIME_MAX (0x670A),
PR_ARTICLE_NUM_NEXT (0x6751), PR_IMAP_LAST_ARTICLE_ID (0x6752), PR_ENTRYID (0x0FFF), with the name, class and
type already there. A computed value wins over one a client wrote under the same tag, as on Exchange.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from pipeline.sandbox import ids, props
from pipeline.sandbox.rows import FolderRow, ItemRow

IS_RECURRING = f"id:{props.DISTINGUISHED_SETS['Appointment']}:0x8223"
ARTICLE_NUMBER = "tag:0x0e23"


def _seconds(stamp: str | None) -> str | None:
    """A stored time (seconds or milliseconds) as EWS renders SystemTime: UTC to the second."""
    return props.normalize_datetime(stamp) if stamp else None


def _recurring(item: ItemRow) -> str | None:
    if item.kind != "CalendarItem":
        kept = item.ext.get(IS_RECURRING)
        return kept.value if kept is not None and isinstance(kept.value, str) else None
    return "true" if "Recurrence" in item.fields and item.occurrence_start is None else "false"


def item_value(item: ItemRow, key: str, mailbox_id: int) -> str | None:
    """The computed value of `key` for an item; None when the property is not a computed one."""
    if key == props.TAG_MESSAGE_CLASS:
        return item.item_class
    if key == ARTICLE_NUMBER:
        return str(item.id)
    if key in ("tag:0x0ff9", "tag:0x0fff"):
        return base64.b64encode(ids.item_entry_id(mailbox_id, item.id)).decode("ascii")
    if key == "tag:0x3007":
        return _seconds(item.created)
    if key == "tag:0x3008":
        return _seconds(item.modified)
    if key == IS_RECURRING:
        return _recurring(item)
    return None


@dataclass(frozen=True, slots=True)
class ItemColumn:
    """How a restriction or sort order reaches a computed item property in SQL."""

    sql: str
    kind: str  # "text", "int", "time", "bool"


#: Computed item properties restrictions and sort orders can use (with `items` in the FROM clause).
ITEM_SQL: dict[str, ItemColumn] = {
    props.TAG_MESSAGE_CLASS: ItemColumn("items.item_class", "text"),
    ARTICLE_NUMBER: ItemColumn("items.id", "int"),
    "tag:0x3007": ItemColumn("items.created", "time"),
    "tag:0x3008": ItemColumn("items.modified", "time"),
    IS_RECURRING: ItemColumn(
        "(CASE WHEN items.kind='CalendarItem' THEN (json_extract(items.fields, '$.Recurrence') IS NOT NULL) "
        f"ELSE (SELECT value='true' FROM ext_props WHERE item_id=items.id AND key='{IS_RECURRING}') END)",
        "bool",
    ),
}


@dataclass(frozen=True, slots=True)
class FolderFacts:
    """What a folder's computed properties are made of, gathered once per request (FolderView)."""

    total: int
    unread: int
    children: int
    #: Extended properties a client wrote on the folder (UpdateFolder), by key: (type, value).
    kept: dict[str, tuple[str, list[str] | str]] = field(default_factory=dict)
    address: str = ""  # the mailbox's address (its store entry id names it)


def folder_value(folder: FolderRow, key: str, facts: FolderFacts) -> list[str] | str | None:
    """The computed value of `key` for a folder, else the one a client wrote; None when it has none."""
    value = _folder_computed(folder, key, facts)
    if value is None and key in facts.kept:
        return facts.kept[key][1]
    return value


def _folder_computed(folder: FolderRow, key: str, facts: FolderFacts) -> str | None:
    if key == "tag:0x3001":
        return folder.name
    if key == "tag:0x3613":
        return folder.folder_class or None
    if key == "tag:0x3601":
        return "2" if folder.is_search else "1"
    if key == "tag:0x3602":
        return str(facts.total)
    if key == "tag:0x3603":
        return str(facts.unread)
    if key == "tag:0x360a":
        return "true" if facts.children else "false"
    if key in ("tag:0x3008", "tag:0x670a"):
        return _seconds(folder.changed)
    if key == "tag:0x6751":
        return str(folder.last_article + 1)
    if key == "tag:0x6752":
        return str(folder.last_article)
    if key == "tag:0x0fff":
        return base64.b64encode(ids.folder_entry_id(folder.mailbox_id, folder.id)).decode("ascii")
    if key == "tag:0x0ffb" and facts.address:
        return base64.b64encode(ids.store_entry_id(folder.mailbox_id, facts.address)).decode("ascii")
    return None
