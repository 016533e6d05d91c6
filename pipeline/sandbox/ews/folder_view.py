"""Rendering folders with their item and child counts, computed once per mailbox per request.

Shared by GetFolder, FindFolder and CreateFolder, which all answer with folder elements.
"""

from __future__ import annotations

import json
import sqlite3

from pipeline.sandbox.ews import computed, shapes
from pipeline.sandbox.rows import FolderRow
from pipeline.sandbox.store import SandboxStore


class FolderView:
    def __init__(self, store: SandboxStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self._counts: dict[int, dict[int, tuple[int, int]]] = {}
        self._children: dict[int, dict[int, int]] = {}
        self._kept: dict[int, dict[int, dict[str, tuple[str, list[str] | str]]]] = {}
        self._addresses: dict[int, str] = {}

    def _load(self, mailbox_id: int) -> None:
        if mailbox_id in self._counts:
            return
        self._counts[mailbox_id] = self._store.counts(self._conn, mailbox_id)
        rows = self._conn.execute(
            "SELECT parent_id, COUNT(*) FROM folders WHERE mailbox_id=? GROUP BY parent_id", (mailbox_id,)
        ).fetchall()
        self._children[mailbox_id] = {r[0]: r[1] for r in rows}
        kept: dict[int, dict[str, tuple[str, list[str] | str]]] = {}
        for folder_id, key, ptype, value in self._conn.execute(
            "SELECT folder_id, key, ptype, value FROM folder_props WHERE folder_id IN "
            "(SELECT id FROM folders WHERE mailbox_id=?)",
            (mailbox_id,),
        ):
            kept.setdefault(folder_id, {})[key] = (ptype, json.loads(value) if ptype.endswith("Array") else value)
        self._kept[mailbox_id] = kept
        found = self._conn.execute("SELECT address FROM mailboxes WHERE id=?", (mailbox_id,)).fetchone()
        self._addresses[mailbox_id] = found[0] if found else ""

    def facts(self, folder: FolderRow) -> computed.FolderFacts:
        """Item, unread and child counts of a folder (its computed properties are made of them)."""
        self._load(folder.mailbox_id)
        total, unread = self._counts[folder.mailbox_id].get(folder.id, (0, 0))
        return computed.FolderFacts(
            total,
            unread,
            self._children[folder.mailbox_id].get(folder.id, 0),
            self._kept[folder.mailbox_id].get(folder.id, {}),
            self._addresses[folder.mailbox_id],
        )

    def render(self, folder: FolderRow, shape: shapes.Shape) -> str:
        if (
            shape.base == "IdOnly"
            and not shape.ext
            and not shape.fields.intersection({"TotalCount", "ChildFolderCount", "UnreadCount"})
        ):
            return shapes.folder_xml(folder, shape, computed.FolderFacts(0, 0, 0))
        return shapes.folder_xml(folder, shape, self.facts(folder))
