"""A search folder definition's restriction ([MS-OXOSRCH], parsed in convert/user_settings) as the OData
`filterQuery` of a Graph `mailSearchFolder`: a pure function, given how the store's folders and named
properties are found now.

What maps, and to what:
- AND / OR / NOT → `and` / `or` / `not(…)`;
- the read flag (PR_MESSAGE_FLAGS bit MSGFLAG_READ, a bitmask test) → `isRead eq false|true`;
- the categories (the PS_PUBLIC_STRINGS "Keywords" named property) existing → `categories/any(c:c ne '')`,
  compared with a value → `categories/any(c:c eq '…')`;
- PR_PARENT_ENTRYID equal / not equal to a folder → `parentFolderId eq|ne '<rebuilt folder's id>'`;
- the message class compared whole (FL_FULLSTRING) → the documented extended-property filter
  `singleValueExtendedProperties/any(ep:ep/id eq 'String 0x001A' and ep/value eq '…')`;
- subject and body substrings (FL_SUBSTRING) → `contains(subject,'…')`; importance → `importance eq …`;
  PR_HASATTACH → `hasAttachments eq …`; the flag status → `flag/flagStatus eq …`.
Anything else (a prefix match on the class, Outlook's temporary flags, a folder that is not in the file) is
left out, and said so, one line each: inside an AND leaving it out widens what the folder lists, inside an
OR it narrows it. A definition whose restriction leaves nothing has no filter (`None`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.convert.user_settings.restrictions import Restriction

PR_MESSAGE_FLAGS, PR_PARENT_ENTRYID, PR_MESSAGE_CLASS = 0x0E07, 0x0E09, 0x001A
PR_SUBJECT, PR_BODY, PR_IMPORTANCE, PR_HASATTACH, PR_FLAG_STATUS = 0x0037, 0x1000, 0x0017, 0x0E1B, 0x1090
MSGFLAG_READ = 0x1
PS_PUBLIC_STRINGS = "00020329-0000-0000-c000-000000000046"
FL_FULLSTRING, FL_SUBSTRING, FL_PREFIX = 0, 1, 2
RELOP_EQ, RELOP_NE = 4, 5
BMR_EQZ, BMR_NEZ = 0, 1
IMPORTANCE = {0: "low", 1: "normal", 2: "high"}
FLAG_STATUS = {0: "notFlagged", 1: "complete", 2: "flagged"}
PROPERTY_NAMES = {
    0x0E07: "PR_MESSAGE_FLAGS",
    0x0E09: "PR_PARENT_ENTRYID",
    0x001A: "PR_MESSAGE_CLASS",
    0x1097: "PidTagItemTemporaryFlags",
}


@dataclass(frozen=True, slots=True)
class SearchFilter:
    query: str | None  # the filterQuery; None when nothing of the restriction could be expressed
    left: tuple[str, ...]  # what was left out, with its text


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tag_name(tag: int | None) -> str:
    prop_id = (tag or 0) >> 16
    return PROPERTY_NAMES.get(prop_id, f"0x{tag or 0:08X}")


def describe(node: Restriction) -> str:
    """One restriction node as text, for the report."""
    if node.kind in ("and", "or"):
        return f"{node.kind.upper()}(" + ", ".join(describe(c) for c in node.children) + ")"
    if node.kind == "not":
        return f"NOT({describe(node.children[0])})" if node.children else "NOT()"
    value = node.value.hex() if isinstance(node.value, bytes) else node.value
    return f"{node.kind} {_tag_name(node.tag)} op={node.op} value={value!r}"


class _Mapper:
    def __init__(
        self, folder_id: Callable[[bytes], str | None], property_name: Callable[[int], tuple[str, int | str] | None]
    ) -> None:
        self.folder_id, self.property_name = folder_id, property_name
        self.left: list[str] = []

    def _leave(self, node: Restriction, why: str, within: str, negated: bool) -> None:
        """Leaving a test out of an AND widens what the folder lists, out of an OR narrows it; under a NOT the
        other way round."""
        wider = (within == "and") != negated
        self.left.append(f"{describe(node)}: {why} (left out: the folder lists {'more' if wider else 'less'})")

    def _keywords(self, tag: int | None) -> bool:
        prop_id = (tag or 0) >> 16
        return prop_id >= 0x8000 and self.property_name(prop_id) == (PS_PUBLIC_STRINGS, "Keywords")

    def node(self, node: Restriction, within: str, negated: bool = False) -> str | None:
        kind = node.kind
        if kind in ("and", "or"):
            parts = [p for p in (self.node(c, kind, negated) for c in node.children) if p is not None]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else "(" + f" {kind} ".join(parts) + ")"
        if kind == "not":
            inner = self.node(node.children[0], within, not negated) if node.children else None
            return None if inner is None else f"not {inner}" if inner.startswith("(") else f"not ({inner})"
        prop_id = (node.tag or 0) >> 16
        if kind == "exist" and self._keywords(node.tag):
            return "categories/any(c:c ne '')"
        if kind == "bitmask" and prop_id == PR_MESSAGE_FLAGS and node.value == MSGFLAG_READ:
            return "isRead eq " + ("false" if node.op == BMR_EQZ else "true")
        if kind == "property" and prop_id == PR_PARENT_ENTRYID and node.op in (RELOP_EQ, RELOP_NE):
            found = self.folder_id(node.value) if isinstance(node.value, bytes) else None
            if found is None:
                self._leave(node, "the folder is not in this file, or was not rebuilt", within, negated)
                return None
            return f"parentFolderId {'eq' if node.op == RELOP_EQ else 'ne'} {_literal(found)}"
        if kind == "property" and prop_id == PR_IMPORTANCE and node.op in (RELOP_EQ, RELOP_NE):
            if node.value in IMPORTANCE:
                return f"importance {'eq' if node.op == RELOP_EQ else 'ne'} {_literal(IMPORTANCE[node.value])}"
        if kind == "property" and prop_id == PR_FLAG_STATUS and node.op in (RELOP_EQ, RELOP_NE):
            if node.value in FLAG_STATUS:
                return f"flag/flagStatus {'eq' if node.op == RELOP_EQ else 'ne'} {_literal(FLAG_STATUS[node.value])}"
        if kind == "property" and prop_id == PR_HASATTACH and node.op in (RELOP_EQ, RELOP_NE):
            value = bool(node.value) == (node.op == RELOP_EQ)
            return f"hasAttachments eq {'true' if value else 'false'}"
        if kind == "property" and self._keywords(node.tag) and node.op == RELOP_EQ and isinstance(node.value, str):
            return f"categories/any(c:c eq {_literal(node.value)})"
        if kind == "content" and isinstance(node.value, str):
            fuzzy = (node.op or 0) & 0xFFFF
            if prop_id == PR_MESSAGE_CLASS and fuzzy == FL_FULLSTRING:
                return (
                    "singleValueExtendedProperties/any(ep:ep/id eq 'String 0x001A' and ep/value eq "
                    f"{_literal(node.value)})"
                )
            if prop_id in (PR_SUBJECT, PR_BODY) and fuzzy == FL_SUBSTRING:
                field = "subject" if prop_id == PR_SUBJECT else "body/content"
                return f"contains({field},{_literal(node.value)})"
            if self._keywords(node.tag) and fuzzy == FL_FULLSTRING:
                return f"categories/any(c:c eq {_literal(node.value)})"
        self._leave(node, "Graph's filter has no way to say it", within, negated)
        return None


def to_filter(
    restriction: Restriction | None,
    folder_id: Callable[[bytes], str | None],
    property_name: Callable[[int], tuple[str, int | str] | None],
) -> SearchFilter:
    """The filterQuery of a restriction: folder_id gives the rebuilt folder's Graph id for a folder entry id
    of the source store; property_name the (set, name) of a named property id of the source store."""
    if restriction is None:
        return SearchFilter(None, ("no restriction could be read from the definition",))
    mapper = _Mapper(folder_id, property_name)
    query = mapper.node(restriction, "and")
    if query is not None and query.startswith("(") and query.endswith(")") and _balanced(query[1:-1]):
        query = query[1:-1]
    return SearchFilter(query, tuple(mapper.left))


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
