"""A search folder definition ([MS-OXOSRCH]) as criteria a server can take: the restriction mapped to neutral
conditions, and the folders it searches as source folders (node ids), rebuilt folders on the server.

The restriction is the definition's criteria whole (Outlook writes the words of a text search into it as
content restrictions; the text fields of the header only fill its dialog). Mapped: AND, OR, NOT; content restrictions (full string, substring, prefix; case and non-spacing options);
property comparisons (<, <=, >, >=, =, <>); EXIST; BITMASK (= 0 and <> 0). Known properties get the names
both EWS and Graph have (message class, read flag, categories); others travel as property tags or named
properties ({guid, name}), resolved through the store's name map. Not mapped: sub-object, compare-props,
size, count and comment restrictions, regular expressions: such a definition is left, with the reason.

Folders: a definition searches its folder list, deep or shallow. The criteria name the rebuilt folders
themselves, searched shallow: every rebuilt folder at and under a searched one (deep), or the searched ones.
Outlook's templates exclude folders with "the parent entry id is not X" terms at the top of the restriction
(Deleted Items, Junk, Outbox, Sync Issues in "Unread Mail"): those folders are left out of the list and the
terms dropped, which is what they meant and needs no entry id of the new server. The other terms stay
conditions. (A folder the user makes on the new server later is not searched: the list is fixed.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.convert.user_settings.restrictions import Restriction
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition

PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_PARENT_ENTRYID = 0x0E09
PR_MESSAGE_FLAGS = 0x0E07
MSGFLAG_READ = 0x1
PS_PUBLIC_STRINGS = "00020329-0000-0000-c000-000000000046"
RELOPS = {0: "lt", 1: "le", 2: "gt", 3: "ge", 4: "eq", 5: "ne"}
#: Fuzzy level ([MS-OXCDATA] 2.12.4): the low word is the match, the high word the options.
MATCHES = {0: "full", 1: "substring", 2: "prefix"}
FL_IGNORECASE, FL_IGNORENONSPACE, FL_LOOSE = 0x10000, 0x20000, 0x40000


@dataclass(frozen=True, slots=True)
class Property:
    """What a condition tests: a `known` name ('item_class', 'subject', 'is_read', 'categories'), else a property by
    tag (`tag`, with its MAPI type) or by name (`guid` and `name`, with its MAPI type)."""

    known: str | None = None
    tag: int | None = None  # the property id (below 0x8000)
    guid: str | None = None
    name: int | str | None = None
    ptype: int = 0


@dataclass(frozen=True, slots=True)
class Condition:
    """`kind`: and/or/not (children), compare (op: lt/le/gt/ge/eq/ne; value), contains (match full/substring/
    prefix; ignore_case, ignore_nonspace, loose), exists, bitmask (zero: whether (value & mask) == 0)."""

    kind: str
    children: tuple[Condition, ...] = ()
    prop: Property | None = None
    op: str | None = None
    value: object = None
    match: str | None = None
    ignore_case: bool = False
    ignore_nonspace: bool = False
    loose: bool = False
    mask: int | None = None
    zero: bool | None = None


@dataclass(frozen=True, slots=True)
class SearchFolderCriteria:
    name: str
    condition: Condition | None  # None: every item of the folders
    folders: tuple[int, ...]  # source node ids searched
    deep: bool  # whether their subfolders are searched too


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A definition no server criteria express: its name and why."""

    name: str
    reason: str


class _Unmappable(Exception):
    pass


def _property(tag: int, names: Callable[[int], tuple[str, int | str] | None]) -> Property:
    prop_id, ptype = tag >> 16, tag & 0xFFFF
    if prop_id == PR_MESSAGE_CLASS:
        return Property(known="item_class", ptype=ptype)
    if prop_id == PR_SUBJECT:
        return Property(known="subject", ptype=ptype)
    if prop_id < 0x8000:
        return Property(tag=prop_id, ptype=ptype)
    named = names(prop_id)
    if named is None:
        raise _Unmappable(f"named property 0x{prop_id:04X} is not in the store's name map")
    guid, name = named
    if guid.lower() == PS_PUBLIC_STRINGS and name == "Keywords":
        return Property(known="categories", ptype=ptype)
    return Property(guid=guid.lower(), name=name, ptype=ptype)


def _condition(node: Restriction, names: Callable[[int], tuple[str, int | str] | None]) -> Condition:
    if node.kind in ("and", "or"):
        return Condition(node.kind, tuple(_condition(c, names) for c in node.children))
    if node.kind == "not":
        return Condition("not", (_condition(node.children[0], names),))
    if node.tag is None:
        raise _Unmappable(f"a {node.kind} restriction")
    if node.kind == "exist":
        return Condition("exists", prop=_property(node.tag, names))
    if node.kind == "content":
        level = node.op or 0
        if level & 0xFFFF not in MATCHES or not isinstance(node.value, str):
            raise _Unmappable(f"content restriction with fuzzy level 0x{level:X}")
        return Condition(
            "contains",
            prop=_property(node.tag, names),
            value=node.value,
            match=MATCHES[level & 0xFFFF],
            ignore_case=bool(level & FL_IGNORECASE),
            ignore_nonspace=bool(level & FL_IGNORENONSPACE),
            loose=bool(level & FL_LOOSE),
        )
    if node.kind == "property":
        if node.op not in RELOPS:
            raise _Unmappable(f"property restriction with relop {node.op}")
        return Condition("compare", prop=_property(node.tag, names), op=RELOPS[node.op], value=node.value)
    if node.kind == "bitmask":
        if node.tag == (PR_MESSAGE_FLAGS << 16 | 0x0003) and node.value == MSGFLAG_READ:
            return Condition("compare", prop=Property(known="is_read", ptype=0x000B), op="eq", value=node.op != 0)
        return Condition("bitmask", prop=_property(node.tag, names), mask=int(node.value or 0), zero=node.op == 0)
    raise _Unmappable(f"a {node.kind.replace('_', '-')} restriction")


def _excluded_parents(
    node: Restriction | None, folder_of: Callable[[bytes], int | None]
) -> tuple[Restriction | None, set[int]]:
    """The restriction without its top-level 'parent entry id <> X' terms, and the folders X they name."""
    if node is None:
        return None, set()
    if node.kind == "property" and node.tag == (PR_PARENT_ENTRYID << 16 | 0x0102) and node.op == 5:
        folder = folder_of(node.value) if isinstance(node.value, bytes) else None
        # A folder not in this file is not rebuilt, so none of its items is searched: the term is moot.
        return None, ({folder} if folder is not None else set())
    if node.kind != "and":
        return node, set()
    kept, excluded = [], set()
    for child in node.children:
        rest, found = _excluded_parents(child, folder_of)
        excluded |= found
        if rest is not None:
            kept.append(rest)
    if not kept:
        return None, excluded
    return (kept[0] if len(kept) == 1 else Restriction("and", tuple(kept))), excluded


def criteria(
    definition: SearchFolderDefinition,
    folder_of: Callable[[bytes], int | None],
    names: Callable[[int], tuple[str, int | str] | None],
    below: Callable[[int], list[int]],
) -> SearchFolderCriteria | Unmapped:
    """The definition as criteria: `folder_of` maps an old folder entry id to its source node id, `names` a
    named property id to (guid, name), `below` a node id to the rebuilt folders at and under it."""
    if definition.restriction_problem or (definition.restriction is None and definition.criteria.strip(b"\0")):
        return Unmapped(definition.name, f"its criteria cannot be read ({definition.restriction_problem or 'bytes'})")
    roots = [folder_of(entry_id) for entry_id in definition.folder_entry_ids]
    if not roots or None in roots:
        return Unmapped(definition.name, "it searches folders that are not in this file")
    rest, excluded = _excluded_parents(definition.restriction, folder_of)
    try:
        condition = _condition(rest, names) if rest is not None else None
    except _Unmappable as exc:
        return Unmapped(definition.name, f"{exc} has no server form")
    searched: list[int] = []
    for root in roots:
        assert root is not None
        for node in below(root) if definition.deep_search else [root]:
            if node not in excluded and node not in searched:
                searched.append(node)
    if not searched:
        return Unmapped(definition.name, "none of the folders it searches was rebuilt")
    return SearchFolderCriteria(definition.name, condition, tuple(searched), False)
