"""The folder recreator: mirrors the OST's folder tree in the target mailbox, idempotently.

Roles map to the server's distinguished folders; other folders are found by case-insensitive name
under their parent before anything is created, so a rerun creates nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exchangelib import Account
from exchangelib.errors import ErrorFolderExists, ErrorFolderNotFound
from exchangelib.folders import SHALLOW, Folder, FolderCollection
from exchangelib.folders.known_folders import WellknownFolder

from pipeline.model import FolderRole, SourceFolder
from pipeline.target.names import folder_key

#: Roles whose folders hold Outlook's own sync logs: skipped unless asked for (--include-sync-issues).
SYNC_ROLES = frozenset({FolderRole.SYNC_ISSUES, FolderRole.CONFLICTS, FolderRole.LOCAL_FAILURES,
                        FolderRole.SERVER_FAILURES})
#: Default folder class by role when the OST's folder carries none (Outlook leaves Inbox without one).
ROLE_CLASS = {
    FolderRole.CALENDAR: "IPF.Appointment", FolderRole.CONTACTS: "IPF.Contact", FolderRole.TASKS: "IPF.Task",
    FolderRole.NOTES: "IPF.StickyNote", FolderRole.JOURNAL: "IPF.Journal",
}
#: What a folder class is called in a disambiguated name ('Notes (sticky notes)').
KIND_LABEL = {"IPF.Appointment": "calendar", "IPF.Contact": "contacts", "IPF.Task": "tasks",
              "IPF.StickyNote": "notes", "IPF.Journal": "journal", "IPF.Note": "mail"}


def skip_reason(folder: SourceFolder, include_sync_issues: bool = False) -> str | None:
    """Why a source folder is not mirrored, or None when it is."""
    if folder.role is FolderRole.SEARCH:
        return "search folder"
    if folder.role in (FolderRole.SYSTEM, FolderRole.ROOT) or folder.outside_ipm:
        return "system folder"
    if folder.role in SYNC_ROLES and not include_sync_issues:
        return "sync issues (Outlook's own logs)"
    return None


def folder_class(folder: SourceFolder) -> str:
    return folder.container_class or ROLE_CLASS.get(folder.role, "IPF.Note")


def _base_class(cls: str) -> str:
    """Classes that can share a folder: 'IPF.Note.OutlookHomepage' holds mail like 'IPF.Note'."""
    return ".".join((cls or "IPF.Note").split(".")[:2])


def _distinguished_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    stack = list(WellknownFolder.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        ident = getattr(cls, "DISTINGUISHED_FOLDER_ID", None)
        if ident and ident not in found:
            found[ident] = cls
    return found


@dataclass
class FolderStats:
    mapped: int = 0  # roles mapped onto the server's distinguished folders
    created: int = 0
    found: int = 0  # existing folders reused (rerun, or a folder the user had)
    renamed: int = 0  # created under a disambiguated name (class conflict)
    skipped: dict[str, int] = field(default_factory=dict)


class FolderMirror:
    """Maps each uploadable source folder to a server folder, creating what is missing.

    With target_root, the whole tree goes under one new folder below the message folder root
    ('Recovered 2026-11-24/Inbox/...') and nothing is merged into the live special folders.
    """

    def __init__(self, account: Account, target_root: str | None = None, create: bool = True) -> None:
        self.account = account
        self.target_root = target_root
        self.create = create  # False: look up only (verify), a missing folder maps to None
        self.stats = FolderStats()
        self._by_path: dict[tuple[str, ...], Any] = {}
        self._children: dict[str, dict[str, list[Any]]] = {}
        self._distinguished = _distinguished_classes()
        self._base: Any = None

    # -- server look-ups --------------------------------------------------------------------------
    def _children_of(self, parent: Any) -> dict[str, list[Any]]:
        key = parent.id
        if key not in self._children:
            listing: dict[str, list[Any]] = {}
            for child in FolderCollection(account=self.account, folders=[parent]).find_folders(depth=SHALLOW):
                if isinstance(child, Exception):
                    raise child
                listing.setdefault(folder_key(child.name or ""), []).append(child)
            self._children[key] = listing
        return self._children[key]

    def _find_or_create(self, parent: Any, name: str, cls: str) -> Any:
        """The child named name with a compatible class, created if absent; conflicts get a suffix."""
        label = KIND_LABEL.get(_base_class(cls), cls)
        for candidate_name in (name, f"{name} ({label})", f"{name} ({cls})"):
            existing = self._children_of(parent).get(folder_key(candidate_name), [])
            compatible = [f for f in existing if _base_class(f.folder_class or "IPF.Note") == _base_class(cls)]
            if compatible:
                self.stats.found += 1
                return compatible[0]
            if existing:
                continue  # same name, another class: try the disambiguated name
            if not self.create:
                return None
            if candidate_name != name:
                self.stats.renamed += 1
            return self._create(parent, candidate_name, cls)
        raise RuntimeError(f"no free folder name for {name!r} under {parent.name!r}")

    def _create(self, parent: Any, name: str, cls: str) -> Any:
        folder = Folder(parent=parent, name=name, folder_class=cls)
        try:
            folder.save()
        except ErrorFolderExists:
            # Created meanwhile (a crash between the server's commit and our bookkeeping): look again.
            self._children.pop(parent.id, None)
            existing = self._children_of(parent).get(folder_key(name), [])
            if not existing:
                raise
            self.stats.found += 1
            return existing[0]
        self.stats.created += 1
        self._children.setdefault(parent.id, {}).setdefault(folder_key(name), []).append(folder)
        return folder

    def base(self) -> Any:
        """The folder that stands for the IPM subtree: the message folder root, or the target root."""
        if self._base is None:
            root = self.account.msg_folder_root
            if not self.target_root:
                return root
            self._base = self._find_or_create(root, self.target_root, "IPF.Note")
        return self._base

    def distinguished(self, role: FolderRole) -> Any | None:
        cls = self._distinguished.get(role.value)
        if cls is None:
            return None
        try:
            return self.account.root.get_default_folder(cls)
        except ErrorFolderNotFound:
            return None  # this server has no such well-known folder: the folder is created by name

    # -- the mapping ------------------------------------------------------------------------------
    def ensure(self, folder: SourceFolder) -> Any:
        """The server folder for an uploadable source folder (parents are ensured first)."""
        path = folder.path
        if path in self._by_path:
            return self._by_path[path]
        if folder.role is FolderRole.IPM_SUBTREE or not path:
            target = self.base()
        elif (not self.target_root and folder.role is not FolderRole.NONE
              and (special := self.distinguished(folder.role)) is not None):
            target = special
            self.stats.mapped += 1
        else:
            parent = self._by_path.get(path[:-1])
            if parent is None:
                parent = self.base() if len(path) == 1 else self._ensure_path(path[:-1])
            target = None if parent is None else self._find_or_create(
                parent, folder.display_name or "(unnamed)", folder_class(folder))
        self._by_path[path] = target
        return target

    def _ensure_path(self, path: tuple[str, ...]) -> Any:
        """A parent the walk has not mapped yet (e.g. it was skipped): ensure it as a plain folder."""
        if path in self._by_path:
            return self._by_path[path]
        parent = self.base() if len(path) == 1 else self._ensure_path(path[:-1])
        target = None if parent is None else self._find_or_create(parent, path[-1], "IPF.Note")
        self._by_path[path] = target
        return target

    def skip(self, reason: str) -> None:
        self.stats.skipped[reason] = self.stats.skipped.get(reason, 0) + 1
