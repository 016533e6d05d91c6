"""The Graph face's log of requests, for tests that compare when writes happened with when a lease was
renewed: for each request (a $batch's parts each, upload PUTs too) when it arrived and was answered (this
machine's wall clock), method, path below the mailbox, status, and the display name of the folder it
touched. Bounded, in memory; never a body.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from pipeline.sandbox import ids
from pipeline.sandbox.graph import shapes
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import GraphReply

MAX_ENTRIES = 20_000


class WireLog:
    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


def folder_name(g: GraphState, mailbox_id: int | None, rest: list[str], reply: GraphReply) -> str | None:
    """The display name of the folder a request touched: the folder it names, the folder of the item it
    names, or the folder it created; None when it names none (or a broken id)."""
    if mailbox_id is None or len(rest) < 1:
        return None
    try:
        with g.store.connection() as conn:
            if rest[0] == "mailFolders" and len(rest) == 1 and reply.status == 201 and reply.body:
                return str(json.loads(reply.body).get("displayName"))
            if rest[0] == "mailFolders" and len(rest) >= 2:
                if rest[1].lower() in ("inbox", "drafts", "sentitems", "deleteditems", "msgfolderroot"):
                    found = g.store.distinguished(conn, mailbox_id, rest[1].lower())
                else:
                    found = g.store.folder(conn, ids.parse_folder_id(shapes.ews_id(rest[1])).row_id)
                return found.name if found is not None else None
            if rest[0] in ("messages", "events", "contacts") and len(rest) >= 2:
                row = ids.parse_item_id(shapes.ews_id(rest[1])).row_id
                item = g.store.load_items(conn, [row], ext_keys=(), with_fields=False).get(row)
                folder = g.store.folder(conn, item.folder_id) if item is not None else None
                return folder.name if folder is not None else None
    except (ids.MalformedId, ValueError, KeyError):
        return None
    return None
