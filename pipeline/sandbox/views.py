"""Read-only views of a mailbox for tests and `rebuild sandbox ls`: the folder tree with paths and counts, and
every item with its MIME, properties, attachments and (for calendar series) a summary of the recurrence.

A reader of what either face stored, through the store's own queries (no face's request handling); a
series' summary comes from the stored EWS fields, as `ews/series.py` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.sandbox import ids, props
from pipeline.sandbox.ews import series
from pipeline.sandbox.rows import FolderRow
from pipeline.sandbox.store import SandboxStore


def _paths(folders: list[FolderRow]) -> dict[int, tuple[str, ...]]:
    """Folder id -> path of names below msgfolderroot (folders outside it get a path from the root)."""
    by_id = {f.id: f for f in folders}
    paths: dict[int, tuple[str, ...]] = {}

    def path_of(folder: FolderRow) -> tuple[str, ...]:
        if folder.id in paths:
            return paths[folder.id]
        if folder.distinguished_id in ("msgfolderroot", "root") or folder.parent_id is None:
            result: tuple[str, ...] = ()
        else:
            parent = by_id.get(folder.parent_id)
            if parent is None:
                result = (folder.name,)
            elif parent.distinguished_id == "root":
                result = ("..", folder.name)
            else:
                result = (*path_of(parent), folder.name)
        paths[folder.id] = result
        return result

    for folder in folders:
        path_of(folder)
    return paths


def folder_tree(store: SandboxStore, address: str) -> list[dict[str, Any]]:
    """Every folder: {path (names from msgfolderroot; outside it starts with '..'), folder_class,
    distinguished_id, item_count}; the root and msgfolderroot both have path ()."""
    mailbox = store.mailbox(address)
    if mailbox is None:
        raise KeyError(address)
    with store.connection() as conn:
        folders = store.all_folders(conn, mailbox.id)
        counts = store.counts(conn, mailbox.id)
    paths = _paths(folders)
    return [
        dict(
            path=paths[f.id],
            folder_class=f.folder_class,
            distinguished_id=f.distinguished_id,
            item_count=counts.get(f.id, (0, 0))[0],
        )
        for f in folders
        if f.distinguished_id != "root"
    ]


def items(
    store: SandboxStore, address: str, path: Sequence[str] | None = None, associated: bool = False
) -> list[dict[str, Any]]:
    """Every item of the mailbox (or of the folder at `path`) with MIME, properties and attachments;
    calendar series add `recurrence` (a summary), `deleted_occurrences` and `modified_occurrences`. A folder's
    associated (FAI) messages — configurations, shortcuts — are no contents: listed only with associated=True."""
    mailbox = store.mailbox(address)
    if mailbox is None:
        raise KeyError(address)
    with store.connection() as conn:
        folders = store.all_folders(conn, mailbox.id)
        paths = _paths(folders)
        if path is None:
            row_ids = [r[0] for r in conn.execute("SELECT id FROM items WHERE mailbox_id=? ORDER BY id", (mailbox.id,))]
        else:
            wanted = tuple(path)
            folder_ids = [fid for fid, p in paths.items() if p == wanted]
            if not folder_ids:
                raise KeyError(f"{address}: no folder {wanted!r}")
            row_ids = [
                r[0] for r in conn.execute("SELECT id FROM items WHERE folder_id=? ORDER BY id", (folder_ids[0],))
            ]
        if not associated:
            hidden = {r[0] for r in conn.execute("SELECT item_id FROM associated_items")}
            row_ids = [row_id for row_id in row_ids if row_id not in hidden]
        rows = store.load_items(conn, row_ids, with_mime=True, ext_keys=None, with_attachments=True)
    result = []
    for row_id in row_ids:
        item = rows[row_id]
        result.append(
            dict(
                item_id=ids.item_id(mailbox.id, item.id),
                folder_path=paths.get(item.folder_id, ()),
                item_class=item.item_class,
                subject=item.subject,
                is_draft=item.is_draft,
                is_read=item.is_read,
                datetime_sent=item.sent,
                datetime_received=item.received,
                size=item.size,
                mime=item.mime,
                extended_properties={k: props.python_value(v.ptype, v.value) for k, v in item.ext.items()},
                attachments=[(a.name, a.sha256) for a in item.attachments],
                **series.summary(item),
            )
        )
    return result
