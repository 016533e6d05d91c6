"""The folder recreator: mirrors the folder plan (pipeline/folder_plan.py) in the mailbox, idempotently.

Roles map to the server's distinguished folders; other folders are found by their planned name
(case-insensitively, as Exchange compares) under their parent's server folder before anything is
created, so a rerun creates nothing twice.
"""

from __future__ import annotations

from typing import Any

from exchangelib import Account
from exchangelib.errors import ErrorFolderExists
from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.folders.known_folders import WellknownFolder
from exchangelib.folders.queryset import MISSING_FOLDER_ERRORS
from exchangelib.properties import DistinguishedFolderId
from exchangelib.properties import Mailbox as ExchangeMailbox
from exchangelib.util import safe_xml_value

from pipeline.destination.base import FolderStats
from pipeline.destination.ews.folder_calls import create_folder
from pipeline.folder_plan import PlannedFolder, name_key
from pipeline.model import FolderRole, SourceFolder

#: Default folder class by role when the OST's folder carries none (Outlook leaves Inbox without one).
ROLE_CLASS = {
    FolderRole.CALENDAR: "IPF.Appointment",
    FolderRole.CONTACTS: "IPF.Contact",
    FolderRole.TASKS: "IPF.Task",
    FolderRole.NOTES: "IPF.StickyNote",
    FolderRole.JOURNAL: "IPF.Journal",
}
#: The roles whose well-known folder a store's folder maps onto (the others are never uploaded as such).
WELL_KNOWN_ROLES = frozenset(
    role.value for role in FolderRole if role.is_uploadable and role not in (FolderRole.IPM_SUBTREE, FolderRole.NONE)
)
#: What a folder class is called in a disambiguated name ('Notes (sticky notes)').
KIND_LABEL = {
    "IPF.Appointment": "calendar",
    "IPF.Contact": "contacts",
    "IPF.Task": "tasks",
    "IPF.StickyNote": "notes",
    "IPF.Journal": "journal",
    "IPF.Note": "mail",
}


def folder_class(folder: SourceFolder) -> str:
    return folder.container_class or ROLE_CLASS.get(folder.role, "IPF.Note")


def _base_class(cls: str) -> str:
    """Classes that can share a folder: 'IPF.Note.OutlookHomepage' holds mail like 'IPF.Note'."""
    return ".".join((cls or "IPF.Note").split(".")[:2])


def _distinguished_classes() -> dict[str, Any]:
    found: dict[str, Any] = {}
    stack = list(WellknownFolder.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        ident = getattr(cls, "DISTINGUISHED_FOLDER_ID", None)
        if ident and ident not in found:
            found[ident] = cls
    return found


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
        self._by_node: dict[tuple[int, str], Any] = {}
        self._children: dict[str, dict[str, list[Any]]] = {}
        self._distinguished = _distinguished_classes()
        self._base: Any = None
        self._well_known: dict[str, Any] | None = None  # role -> folder, None, or the error it answered
        self.created_ids: set[str] = set()  # the folders this mirror created (empty when created)

    # -- server look-ups --------------------------------------------------------------------------
    def _children_of(self, parent: Any) -> dict[str, list[Any]]:
        key = parent.id
        if key not in self._children:
            listing: dict[str, list[Any]] = {}
            for child in FolderCollection(account=self.account, folders=[parent]).find_folders(depth=SHALLOW):
                if isinstance(child, Exception):
                    raise child
                listing.setdefault(name_key(child.name or ""), []).append(child)
            self._children[key] = listing
        return self._children[key]

    def _find_or_create(self, parent: Any, name: str, cls: str) -> Any:
        """The child named name with a compatible class, created if absent; conflicts get a suffix."""
        name = safe_xml_value(name)  # as exchangelib will send it ('?' for controls XML cannot carry)
        label = KIND_LABEL.get(_base_class(cls), cls)
        for candidate_name in (name, f"{name} ({label})", f"{name} ({cls})"):
            existing = self._children_of(parent).get(name_key(candidate_name), [])
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
        try:
            folder = create_folder(parent, name, cls)
        except ErrorFolderExists:
            # Created meanwhile (a crash between the server's commit and our bookkeeping): look again.
            self._children.pop(parent.id, None)
            existing = self._children_of(parent).get(name_key(name), [])
            if not existing:
                raise
            self.stats.found += 1
            return existing[0]
        self.stats.created += 1
        self.created_ids.add(str(folder.id))
        self._children.setdefault(parent.id, {}).setdefault(name_key(name), []).append(folder)
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
        """The server's well-known folder for role, or None (this server has none: created by name). The
        first call asks for every well-known folder a store's role can name, in one GetFolder."""
        if role.value not in self._distinguished:
            return None
        if self._well_known is None:
            self._well_known = self._resolve_well_known()
        found = self._well_known.get(role.value)
        if isinstance(found, Exception):
            raise found
        return found

    def _resolve_well_known(self) -> dict[str, Any]:
        account = self.account
        root = account.root
        classes = [
            self._distinguished[role.value]
            for role in FolderRole
            if role.value in self._distinguished and role.value in WELL_KNOWN_ROLES
        ]
        classes = [cls for cls in classes if cls.get_folder_allowed and cls.supports_version(account.version)]
        asked = [
            cls(
                _distinguished_id=DistinguishedFolderId(
                    id=cls.DISTINGUISHED_FOLDER_ID, mailbox=ExchangeMailbox(email_address=account.primary_smtp_address)
                ),
                root=root,
            )
            for cls in classes
        ]
        found: dict[str, Any] = {}
        answers = FolderCollection(account=account, folders=asked).resolve()
        for cls, answer in zip(classes, answers, strict=True):
            found[cls.DISTINGUISHED_FOLDER_ID] = None if isinstance(answer, MISSING_FOLDER_ERRORS) else answer
        return found

    # -- the mapping ------------------------------------------------------------------------------
    def resolve(self, planned: PlannedFolder, parent: Any | None) -> Any | None:
        """The server folder for a planned folder whose parent is already resolved (None: at the top)."""
        key = (planned.node_id, planned.folder_key)  # a merge run's files reuse node ids for other folders
        if key in self._by_node:
            return self._by_node[key]
        if planned.role is FolderRole.IPM_SUBTREE or not planned.source.path:
            target = self.base()
            if planned.holds_top_items and not self.target_root and target is not None:
                target = self._find_or_create(target, planned.name, "IPF.Note")
        elif (
            not self.target_root
            and planned.role is not FolderRole.NONE
            and (special := self.distinguished(planned.server_role)) is not None
        ):
            target = special
            self.stats.mapped += 1
        else:
            parent = parent if parent is not None else self.base()
            target = (
                None if parent is None else self._find_or_create(parent, planned.name, folder_class(planned.source))
            )
        self._by_node[key] = target
        return target
