"""`rebuild sandbox ls --mailbox ADDR`: a mailbox as a person reads it.

Folders in Outlook's order (Inbox, Drafts, Sent Items, Deleted Items, ... then the user's own folders by
name, then Exchange's system folders), one line per item (subject, from, date, read, draft, size, class);
`--props` adds every extended property with a readable name. Text from the mailbox is shown with control
characters escaped.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from typing import Any

from pipeline.logs.terminal import shown
from pipeline.sandbox.default_folders import DEFAULT_TREE

#: Outlook's order of the well-known folders in the folder pane.
WELL_KNOWN_ORDER = (
    "inbox",
    "drafts",
    "sentitems",
    "deleteditems",
    "junkemail",
    "outbox",
    "archive",
    "calendar",
    "contacts",
    "tasks",
    "notes",
    "journal",
)
#: Folders of a new mailbox that hold Exchange's or Outlook's own data, not the user's.
SYSTEM_IDS = frozenset(
    {
        "syncissues",
        "conflicts",
        "localfailures",
        "serverfailures",
        "recipientcache",
        "quickcontacts",
        "imcontactlist",
        "conversationhistory",
    }
)
_DEFAULT_UNNAMED = frozenset(
    path[1:]
    for path, _cls, ident, _search in DEFAULT_TREE
    if ident is None and path[:1] == ("Top of Information Store",)
)

#: Readable names of the property tags the pipeline and Outlook set most (anything else: its tag).
TAG_NAMES = {
    "tag:0x0e07": "PR_MESSAGE_FLAGS",
    "tag:0x0e06": "PR_MESSAGE_DELIVERY_TIME",
    "tag:0x0039": "PR_CLIENT_SUBMIT_TIME",
    "tag:0x001a": "PR_MESSAGE_CLASS",
    "tag:0x0037": "PR_SUBJECT",
    "tag:0x0017": "PR_IMPORTANCE",
    "tag:0x0036": "PR_SENSITIVITY",
    "tag:0x1090": "PR_FLAG_STATUS",
    "tag:0x1091": "PR_FLAG_COMPLETE_TIME",
    "tag:0x3007": "PR_CREATION_TIME",
    "tag:0x3008": "PR_LAST_MODIFICATION_TIME",
    "tag:0x0e1b": "PR_HASATTACH",
    "tag:0x1000": "PR_BODY",
    "tag:0x007d": "PR_TRANSPORT_MESSAGE_HEADERS",
    "tag:0x0c1a": "PR_SENDER_NAME",
    "tag:0x0042": "PR_SENT_REPRESENTING_NAME",
    "tag:0x0e08": "PR_MESSAGE_SIZE",
    "tag:0x0e2b": "PR_TODO_ITEM_FLAGS",
    "tag:0x1081": "PR_LAST_VERB_EXECUTED",
    "tag:0x3fde": "PR_INTERNET_CPID",
}
#: Numbered named properties by (property set, id), as Outlook names them.
ID_NAMES = {
    ("00062008-0000-0000-c000-000000000046", "0x8530"): "FlagRequest",
    ("00062008-0000-0000-c000-000000000046", "0x8503"): "ReminderSet",
    ("00062008-0000-0000-c000-000000000046", "0x8502"): "ReminderTime",
    ("00062008-0000-0000-c000-000000000046", "0x8560"): "ReminderSignalTime",
    ("00062003-0000-0000-c000-000000000046", "0x8104"): "TaskStartDate",
    ("00062003-0000-0000-c000-000000000046", "0x8105"): "TaskDueDate",
    ("00062003-0000-0000-c000-000000000046", "0x8101"): "TaskStatus",
    ("00062003-0000-0000-c000-000000000046", "0x8102"): "PercentComplete",
    ("00062003-0000-0000-c000-000000000046", "0x811c"): "TaskComplete",
}
_GUID_NAMES = {
    "00020329-0000-0000-c000-000000000046": "PS_PUBLIC_STRINGS",
    "00062008-0000-0000-c000-000000000046": "PSETID_Common",
    "00062002-0000-0000-c000-000000000046": "PSETID_Appointment",
    "00062003-0000-0000-c000-000000000046": "PSETID_Task",
    "00062004-0000-0000-c000-000000000046": "PSETID_Address",
    "0006200e-0000-0000-c000-000000000046": "PSETID_Note",
    "0006200a-0000-0000-c000-000000000046": "PSETID_Log",
}


def property_name(key: str) -> str:
    """'tag:0x0e07' -> 'PR_MESSAGE_FLAGS (0x0e07)'; 'name:<guid>:Name' -> 'Name {PSETID_x or guid}'."""
    if key in TAG_NAMES:
        return f"{TAG_NAMES[key]} ({key[4:]})"
    kind, _, rest = key.partition(":")
    if kind in ("name", "id"):
        guid, _, name = rest.rpartition(":")
        name = ID_NAMES.get((guid.lower(), name.lower()), name)
        return f"{name} {{{_GUID_NAMES.get(guid.lower(), guid)}}}"
    return key


def _rank(folder: dict[str, Any]) -> tuple[int, int, str]:
    path, ident = folder["path"], folder["distinguished_id"]
    name = path[-1].casefold() if path else ""
    if path[:1] == ("..",) or ident in SYSTEM_IDS or path in _DEFAULT_UNNAMED:
        return (2, 0, name)
    if ident in WELL_KNOWN_ORDER:
        return (0, WELL_KNOWN_ORDER.index(ident), name)
    return (1, 0, name)


def ordered(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The folders depth-first, siblings in Outlook's order: well-known, the user's by name, system."""
    children: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for folder in tree:
        if folder["path"]:
            children.setdefault(folder["path"][:-1], []).append(folder)

    def walk(parent: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        for folder in sorted(children.get(parent, []), key=_rank):
            yield folder
            yield from walk(folder["path"])

    outside = [f for f in tree if f["path"][:1] == ("..",) and len(f["path"]) == 2]
    top = [f for f in walk(()) if f["path"][:1] != ("..",)]
    rest = [g for f in sorted(outside, key=_rank) for g in (f, *walk(f["path"]))]
    return top + rest


def sender_of(mime: bytes | None) -> str:
    """The From header of an item's MIME (decoded), '-' for items without MIME."""
    if not mime:
        return "-"
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(mime)
        return str(headers.get("From") or "-")
    except Exception:  # noqa: BLE001 - a header the parser refuses is shown as unknown
        return "?"


def _size(size: int | None) -> str:
    if not size:
        return "0 B"
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} kB"


def render(tree: list[dict[str, Any]], items: list[dict[str, Any]], with_props: bool = False) -> list[str]:
    """The lines of `sandbox ls --mailbox` (a tree; items under their folder)."""
    by_folder: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in items:
        by_folder.setdefault(tuple(item["folder_path"]), []).append(item)
    lines = ["(Top of Information Store)"]
    shown_outside = False
    for folder in ordered(tree):
        path = folder["path"]
        if path[:1] == ("..",) and not shown_outside:
            lines.append("(outside the mailbox tree)")
            shown_outside = True
        depth = len(path) - (1 if path[:1] == ("..",) else 0)
        indent = "  " * depth
        system = "  (system)" if _rank(folder)[0] == 2 else ""
        role = f" [{folder['distinguished_id']}]" if folder["distinguished_id"] else ""
        lines.append(f"{indent}{shown(path[-1])}{role}  {folder['item_count']} item(s){system}")
        for item in by_folder.get(path, []):
            when = item.get("datetime_received") or item.get("datetime_sent") or "-"
            flags = ["read" if item["is_read"] else "unread"] + (["draft"] if item["is_draft"] else [])
            lines.append(
                f"{indent}  - {shown(item['subject'] or '(no subject)')} | from {shown(item.get('sender') or '-')} | "
                f"{shown(when)} | {', '.join(flags)} | {_size(item['size'])} | {shown(item['item_class'])}"
            )
            lines.extend(f"{indent}      {line}" for line in _series_lines(item))
            if with_props:
                for key, value in sorted(item["extended_properties"].items()):
                    lines.append(f"{indent}      {property_name(key)} = {shown(repr(value))}")
    return lines


def _series_lines(item: dict[str, Any]) -> list[str]:
    """A recurring master's pattern and its deleted and modified occurrences, one line each."""
    recurrence = item.get("recurrence")
    if not recurrence:
        return []
    lines = ["recurrence: " + ", ".join(f"{k}={shown(v)}" for k, v in recurrence.items())]
    lines.extend(f"deleted occurrence {start}" for start in item.get("deleted_occurrences") or [])
    for change in item.get("modified_occurrences") or []:
        rest = ", ".join(
            f"{k}={shown(repr(v))}" for k, v in change.items() if k not in ("original_start", "start", "end")
        )
        lines.append(
            f"modified occurrence {change['original_start']} -> {change['start']}..{change['end']}"
            + (f"  {rest}" if rest else "")
        )
    return lines
