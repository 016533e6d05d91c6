"""The folder plan: for every source folder, its parent and the exact name it gets on the server.

Pure and deterministic: the same store gives the same plan on every run, whatever was uploaded, skipped
or excluded before, so every source folder maps to exactly one server folder. Names are normalized on
our side (control characters, surrounding spaces, length) so the outcome never depends on what a server
would trim or refuse, and siblings whose names differ only in case get distinct names ("casetest (2)"),
because Exchange compares folder names case-insensitively. Among siblings, folders with a role name
themselves first, and two source folders with one path (two top-level folders of the same name) are
recorded by their planned paths, so they are never merged, on the server or in a run's bookkeeping.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline.model import FolderRole, SourceFolder

#: Exchange's limit for a folder's display name.
MAX_NAME = 255
UNNAMED = "(unnamed)"


@dataclass(frozen=True, slots=True)
class PlannedFolder:
    """One source folder as the destination must mirror it.

    parent is the node id of the planned parent, None for folders at the top (they go under the base:
    the message folder root, or --target-root). holds_top_items marks the store's top folder when it
    holds items itself: they go to a visible folder named `name` (or into --target-root), never into the
    mailbox root where Outlook shows nothing."""

    source: SourceFolder
    parent: int | None
    name: str
    original: str
    holds_top_items: bool = False
    #: The planned names from the top ('Inbox (2)/Sub') when another source folder has the same path: a run's
    #: journal and read-backs know a folder by this key (folder_key), never two folders by one path.
    unique_path: tuple[str, ...] | None = None

    @property
    def node_id(self) -> int:
        return self.source.node_id

    @property
    def role(self) -> FolderRole:
        return self.source.role

    @property
    def server_role(self) -> FolderRole:
        """The well-known server folder this folder's items go to: mail written offline and left in the
        Outbox goes to Drafts, where the user sees it and can send it (a rebuild never sends anything)."""
        return FolderRole.DRAFTS if self.source.role is FolderRole.OUTBOX else self.source.role

    @property
    def identity_scope(self) -> str:
        """Items of a folder that shares its server folder with another (the Outbox with Drafts) keep
        identities of their own, so an Outbox item and an identical draft stay two items."""
        return "outbox" if self.source.role is FolderRole.OUTBOX else ""

    @property
    def folder_path(self) -> tuple[str, ...]:
        """How a run records the folder and its items (journal, read-backs, report): its source path, unless
        two source folders share that path (two top-level 'Inbox'), then its planned path, unique by
        construction."""
        return self.unique_path if self.unique_path is not None else self.source.path

    @property
    def folder_key(self) -> str:
        return "/".join(self.folder_path)

    @property
    def renamed(self) -> bool:
        return self.name != self.original


def name_key(name: str) -> str:
    """How Exchange compares sibling folder names: it refuses one that differs only in case
    (ErrorFolderExists) but documents no folding rule, so compare one character at a time by its simple
    upper-case form ('Straße' and 'Strasse' stay apart, as Exchange keeps them; casefold would merge them)."""
    return "".join(c if len(c.upper()) != 1 else c.upper() for c in name)


def normalize_name(name: str | None) -> str:
    """Control characters become spaces, surrounding spaces go, the length is capped at MAX_NAME."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in (name or ""))
    text = text.strip()
    return text[:MAX_NAME].rstrip() or UNNAMED


#: The names Exchange gives its well-known folders in an English mailbox (a new mailbox made by an admin is
#: English until its user first logs on): a role folder goes to the server's folder of that name, whatever the
#: store calls it, so a plain folder at the top with that name would be found on the server as the same folder.
SERVER_NAMES = {
    FolderRole.INBOX: "Inbox",
    FolderRole.SENT: "Sent Items",
    FolderRole.DELETED: "Deleted Items",
    FolderRole.DRAFTS: "Drafts",
    FolderRole.CALENDAR: "Calendar",
    FolderRole.CONTACTS: "Contacts",
    FolderRole.TASKS: "Tasks",
    FolderRole.NOTES: "Notes",
    FolderRole.JOURNAL: "Journal",
    FolderRole.JUNK: "Junk Email",
    FolderRole.CONFLICTS: "Conflicts",
    FolderRole.SYNC_ISSUES: "Sync Issues",
    FolderRole.LOCAL_FAILURES: "Local Failures",
    FolderRole.SERVER_FAILURES: "Server Failures",
    FolderRole.RSS: "RSS Feeds",
    FolderRole.CONVERSATION_HISTORY: "Conversation History",
}


def _with_suffix(name: str, n: int) -> str:
    suffix = f" ({n})"
    return name[: MAX_NAME - len(suffix)].rstrip() + suffix


def plan_folders(folders: Iterable[SourceFolder]) -> dict[int, PlannedFolder]:
    """The plan for every folder of the IPM subtree, keyed by node id (folders in walk order, parents first)."""
    folders = list(folders)
    by_id = {f.node_id: f for f in folders}
    plan: dict[int, PlannedFolder] = {}
    # At the top, the server's own names of the well-known folders the store's role folders go to are taken
    # too: a German store's plain 'Inbox' beside its 'Posteingang' (the inbox) must not land in the server's
    # Inbox, where two source folders would share one server folder (and one another's identical items).
    reserved = {name_key(SERVER_NAMES[f.role]) for f in folders if f.role in SERVER_NAMES and not f.outside_ipm}
    taken: dict[int | None, set[str]] = {}
    for folder in _roles_first(folders):
        if folder.outside_ipm:
            continue
        if folder.role is FolderRole.IPM_SUBTREE or not folder.path:
            name = normalize_name(folder.display_name or "Top of Information Store")
            plan[folder.node_id] = PlannedFolder(
                folder, None, name, folder.display_name or "", holds_top_items=folder.item_count > 0
            )
            if folder.item_count:
                taken.setdefault(None, set()).add(name_key(name))
            continue
        parent_folder = by_id.get(folder.parent_node_id) if folder.parent_node_id is not None else None
        parent = None
        if parent_folder is not None and parent_folder.node_id in plan and parent_folder.path:
            parent = parent_folder.node_id
        siblings = taken.setdefault(parent, set())
        avoid = reserved if parent is None and folder.role not in SERVER_NAMES else set()
        base = normalize_name(folder.display_name or (folder.path[-1] if folder.path else ""))
        name, n = base, 1
        while name_key(name) in siblings or name_key(name) in avoid:
            n += 1
            name = _with_suffix(base, n)
        siblings.add(name_key(name))
        plan[folder.node_id] = PlannedFolder(folder, parent, name, folder.display_name or "")
    paths = Counter(p.source.path_str for p in plan.values())
    for node_id, planned in plan.items():
        if paths[planned.source.path_str] > 1 and planned.source.path:
            plan[node_id] = replace(planned, unique_path=tuple(step.name for step in chain(plan, node_id)))
    return {f.node_id: plan[f.node_id] for f in folders if f.node_id in plan}


def _roles_first(folders: list[SourceFolder]) -> list[SourceFolder]:
    """Walk order, but among siblings the folders with a role first: a role folder goes to the server's
    well-known folder under the name the server gives it, so a plain folder that shares its name (a second
    'Inbox' at the top) must get the suffix, whatever the walk order. Without this it kept the bare name and
    was found on the server as the well-known folder itself: two source folders merged into one."""
    order = {f.node_id: i for i, f in enumerate(folders)}
    plain = (FolderRole.NONE, FolderRole.IPM_SUBTREE)
    return sorted(folders, key=lambda f: (_depth(f), f.role in plain, order[f.node_id]))


def _depth(folder: SourceFolder) -> int:
    return len(folder.path)


def chain(plan: dict[int, PlannedFolder], node_id: int) -> list[PlannedFolder]:
    """The planned folder and its planned ancestors, top first."""
    out: list[PlannedFolder] = []
    current: int | None = node_id
    while current is not None and current in plan:
        out.append(plan[current])
        current = plan[current].parent
    return out[::-1]
