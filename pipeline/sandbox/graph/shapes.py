"""Store rows as Graph JSON (message, mailFolder, event, contact, todoTask), and Graph ids.

Graph ids are the EWS ids in URL-safe base64, so one item has the same identity on both faces (as
translateExchangeIds relates them on Exchange Online).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pipeline.sandbox import ids, props
from pipeline.sandbox.graph.extprops import PropertyId
from pipeline.sandbox.rows import FolderRow, ItemRow

KEYWORDS = "name:00020329-0000-0000-c000-000000000046:Keywords"
FLAG_STATUS = "tag:0x1090"
IMPORTANCE = "tag:0x0017"
#: PR_FLAG_STATUS values and Graph's followupFlag.flagStatus.
FLAG_NAMES = {2: "flagged", 1: "complete"}
IMPORTANCES = {0: "low", 1: "normal", 2: "high"}


def graph_id(ews_id: str) -> str:
    return ews_id.replace("+", "-").replace("/", "_")


def ews_id(graph: str) -> str:
    return graph.replace("-", "+").replace("_", "/")


def attachment_id(mailbox_id: int, row_id: int, position: int) -> str:
    """An attachment's Graph id: its message's id and its position, URL-safe."""
    return graph_id(base64.b64encode(f"{ids.item_id(mailbox_id, row_id)}:{position}".encode()).decode("ascii"))


def folder_json(
    mailbox_id: int, folder: FolderRow, counts: dict[int, tuple[int, int]], children: int, hidden: bool
) -> dict[str, Any]:
    total, unread = counts.get(folder.id, (0, 0))
    return {
        "id": graph_id(ids.folder_id(mailbox_id, folder.id)),
        "displayName": folder.name,
        "parentFolderId": graph_id(ids.folder_id(mailbox_id, folder.parent_id)) if folder.parent_id else None,
        "childFolderCount": children,
        "unreadItemCount": unread,
        "totalItemCount": total,
        "isHidden": hidden,
    }


def _time(value: str | None) -> str | None:
    return value if value else None


def extended(item: ItemRow, wanted: list[PropertyId] | None) -> list[dict[str, str]]:
    """singleValueExtendedProperties of the item: the wanted ones that it has (all single ones if None)."""
    out = []
    keys = [w.key for w in wanted] if wanted is not None else list(item.ext)
    for key in keys:
        stored = item.ext.get(key)
        if stored is None or isinstance(stored.value, list):
            continue
        out.append({"id": PropertyId(key, stored.ptype).graph_id, "value": stored.value})
    return out


def common(mailbox_id: int, item: ItemRow) -> dict[str, Any]:
    categories = item.ext.get(KEYWORDS)
    return {
        "id": graph_id(ids.item_id(mailbox_id, item.id)),
        "createdDateTime": item.created,
        "lastModifiedDateTime": item.modified,
        "changeKey": ids.change_key(item.version),
        "categories": list(categories.value) if categories and isinstance(categories.value, list) else [],
    }


def message_json(mailbox_id: int, item: ItemRow) -> dict[str, Any]:
    flag = item.ext.get(FLAG_STATUS)
    status = FLAG_NAMES.get(int(flag.value), "notFlagged") if flag and isinstance(flag.value, str) else "notFlagged"
    importance = item.ext.get(IMPORTANCE)
    out = common(mailbox_id, item)
    out.update(
        {
            "subject": item.subject or "",
            "receivedDateTime": _time(item.received),
            "sentDateTime": _time(item.sent),
            "isRead": item.is_read,
            "isDraft": item.is_draft,
            "hasAttachments": item.has_attachments,
            "internetMessageId": item.message_id,
            "parentFolderId": graph_id(ids.folder_id(mailbox_id, item.folder_id)),
            "importance": IMPORTANCES.get(int(importance.value), "normal")
            if importance and isinstance(importance.value, str)
            else "normal",
            "flag": {"flagStatus": status},
        }
    )
    return out


def typed_json(mailbox_id: int, item: ItemRow, stored: str | None) -> dict[str, Any]:
    """An event, contact or todoTask: what the client sent (kept beside the row), with the store's ids."""
    out = json.loads(stored) if stored else {}
    out.pop("singleValueExtendedProperties", None)
    out.pop("extensions", None)
    for private in [k for k in out if k.startswith("_")]:  # the face's own bookkeeping (series exceptions)
        out.pop(private)
    out.update(common(mailbox_id, item))
    if item.kind == "Task":
        out.pop("changeKey", None)
        out["title"] = item.subject or ""
        for name, default in task_defaults(item).items():  # the whole resource, as To Do answers it
            out.setdefault(name, default)
    else:
        out["subject" if item.kind == "CalendarItem" else "displayName"] = item.subject or ""
    return out


def task_defaults(item: ItemRow) -> dict[str, Any]:
    """What To Do fills in on a todoTask the client did not set (the response of
    learn.microsoft.com/graph/api/todotasklist-post-tasks answers every one of them)."""
    return {
        "importance": "normal",
        "isReminderOn": False,
        "status": "notStarted",
        "hasAttachments": False,
        "body": {"content": "", "contentType": "text"},
        "bodyLastModifiedDateTime": item.created,
    }


def python_value(ptype: str, value: str) -> Any:
    return props.python_value(ptype, value)
