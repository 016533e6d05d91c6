"""Where the user's settings point, on the new mailbox: a folder entry id of the source store (a search
folder's scope, a folder it excludes, a rule's move target) → the server folder rebuilt from that folder,
and the store's named property ids → their names. Wires the source and the run's folder plan for a
destination that restores the settings itself (Graph); never creates a folder: one this run did not carry
is looked up, and a folder that is not on the server is None.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.destination.base import Mailbox, ServerFolder
from pipeline.folder_plan import PlannedFolder, chain
from pipeline.model import FolderRole
from pipeline.source import Source


def folder_lookup(
    source: Source, plan: dict[int, PlannedFolder], server: dict[int, ServerFolder | None], mailbox: Mailbox
) -> Callable[[bytes], str | None]:
    by_entry_id = getattr(source, "folder_by_entry_id", None)

    def folder_id(entry_id: bytes) -> str | None:
        node_id = by_entry_id(entry_id) if by_entry_id is not None else None
        if node_id is None or node_id not in plan:
            return None
        parent: ServerFolder | None = None
        for step in chain(plan, node_id):
            parent = server[step.node_id] if step.node_id in server else mailbox.folder(step, parent, create=False)
            if parent is None:
                return None
        return parent.id if parent is not None else None

    return folder_id


def property_lookup(source: Source) -> Callable[[int], tuple[str, int | str] | None]:
    resolve = getattr(source, "property_name", None)
    return resolve if resolve is not None else (lambda _prop_id: None)


def subtree_id(plan: dict[int, PlannedFolder], server: dict[int, ServerFolder | None], mailbox: Mailbox) -> str | None:
    """The rebuilt IPM subtree (the top of the mailbox, or the target root), looked up when this run did not
    resolve it (top-level folders are planned without a parent)."""
    for node_id, planned in plan.items():
        if planned.role is FolderRole.IPM_SUBTREE:
            found = server[node_id] if node_id in server else mailbox.folder(planned, None, create=False)
            return found.id if found is not None else None
    return None
