"""The folder plan (pipeline/folder_plan.py) mirrored over Graph, idempotently.

Mail folders: roles by Graph's well-known names (inbox, sentitems, …), others by their planned name
(case-insensitively) under their parent before anything is created. Calendars, contact folders and To Do
lists live in collections of their own: the default calendar, contact folder and task list stand for the
roles; other calendars and task lists are flat (Graph nests neither), contact folders nest under the
default one. Sticky notes and journal folders have no Graph form: they become mail folders by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.destination.base import FolderStats, ServerFolder
from pipeline.destination.graph.transport import GraphError, GraphHttp
from pipeline.folder_plan import PlannedFolder, name_key
from pipeline.model import FolderRole

MAIL, CALENDAR, CONTACTS, TODO = "mail", "calendar", "contacts", "todo"
#: Roles with a Graph well-known mail folder name (Microsoft's mailFolder resource).
WELL_KNOWN = {
    FolderRole.INBOX: "inbox",
    FolderRole.SENT: "sentitems",
    FolderRole.DELETED: "deleteditems",
    FolderRole.DRAFTS: "drafts",
    FolderRole.JUNK: "junkemail",
    FolderRole.OUTBOX: "outbox",
    FolderRole.CONVERSATION_HISTORY: "conversationhistory",
    FolderRole.SYNC_ISSUES: "syncissues",
    FolderRole.CONFLICTS: "conflicts",
    FolderRole.LOCAL_FAILURES: "localfailures",
    FolderRole.SERVER_FAILURES: "serverfailures",
}
_CLASS_KIND = {"IPF.Appointment": CALENDAR, "IPF.Contact": CONTACTS, "IPF.Task": TODO}
_ROLE_KIND = {FolderRole.CALENDAR: CALENDAR, FolderRole.CONTACTS: CONTACTS, FolderRole.TASKS: TODO}
PAGE = {"$top": "1000"}


@dataclass(frozen=True, slots=True)
class Ref:
    """A Graph folder: which collection it belongs to, and its id (None: the default contact folder)."""

    kind: str
    id: str | None


def kind_of(planned: PlannedFolder) -> str:
    cls = planned.source.container_class or ""
    for prefix, kind in _CLASS_KIND.items():
        if cls == prefix or cls.startswith(prefix + "."):
            return kind
    return _ROLE_KIND.get(planned.role, MAIL)


class GraphFolders:
    def __init__(self, http: GraphHttp, target_root: str | None = None, create: bool = True) -> None:
        self.http = http
        self.target_root = target_root
        self.create = create
        self.stats = FolderStats()
        self._by_node: dict[tuple[int, str], ServerFolder | None] = {}
        self._children: dict[tuple[str, str | None], dict[str, list[dict[str, Any]]]] = {}
        self._base: ServerFolder | None = None
        self._base_done = False

    # -- listings ---------------------------------------------------------------------------------
    def _list_path(self, kind: str, parent: str | None) -> tuple[str, str]:
        """(path, name property) of a collection's children."""
        if kind == MAIL:
            return (f"/mailFolders/{parent}/childFolders" if parent else "/mailFolders"), "displayName"
        if kind == CALENDAR:
            return "/calendars", "name"
        if kind == CONTACTS:
            return (f"/contactFolders/{parent}/childFolders" if parent else "/contactFolders"), "displayName"
        return "/todo/lists", "displayName"

    def children(self, kind: str, parent: str | None) -> dict[str, list[dict[str, Any]]]:
        key = (kind, parent)
        if key not in self._children:
            path, prop = self._list_path(kind, parent)
            params = {**PAGE, "includeHiddenFolders": "true"} if kind == MAIL else dict(PAGE)
            listing: dict[str, list[dict[str, Any]]] = {}
            for entry in self.http.pages(path, params):
                listing.setdefault(name_key(str(entry.get(prop) or "")), []).append(entry)
            self._children[key] = listing
        return self._children[key]

    def _find_or_create(self, kind: str, parent: str | None, name: str) -> ServerFolder | None:
        prop = "name" if kind == CALENDAR else "displayName"
        for candidate in (name, f"{name} ({kind})"):
            found = self.children(kind, parent).get(name_key(candidate))
            if found:
                self.stats.found += 1
                return ServerFolder(
                    str(found[0]["id"]), str(found[0].get(prop) or candidate), Ref(kind, found[0]["id"])
                )
            if not self.create:
                return None
            path, _ = self._list_path(kind, parent)
            try:
                made = self.http.call("POST", path, json_body={prop: candidate}, idempotent=True)
            except GraphError as exc:
                if exc.status != 409:
                    raise
                self._children.pop((kind, parent), None)
                found = self.children(kind, parent).get(name_key(candidate))
                if found:  # created meanwhile (an answer lost, another run)
                    self.stats.found += 1
                    return ServerFolder(str(found[0]["id"]), candidate, Ref(kind, found[0]["id"]))
                continue  # the name is taken by a folder of another kind: the disambiguated name
            if candidate != name:
                self.stats.renamed += 1
            self.stats.created += 1
            self._children.setdefault((kind, parent), {}).setdefault(name_key(candidate), []).append(made)
            return ServerFolder(str(made["id"]), candidate, Ref(kind, made["id"]), created=True)
        raise GraphError(409, "ErrorFolderExists", f"no free folder name for {name!r}")

    def _well_known(self, name: str) -> ServerFolder | None:
        try:
            found = self.http.call("GET", f"/mailFolders/{name}")
        except GraphError as exc:
            if exc.status == 404:
                return None  # this mailbox has no such folder: it is created by name
            raise
        return ServerFolder(str(found["id"]), str(found.get("displayName") or name), Ref(MAIL, found["id"]))

    def base(self) -> ServerFolder | None:
        """The mail folder standing for the IPM subtree: msgfolderroot, or the target root below it."""
        if not self._base_done:
            if self.target_root:
                self._base = self._find_or_create(MAIL, None, self.target_root)
            else:
                self._base = self._well_known("msgfolderroot")
            self._base_done = self._base is not None or not self.create
        return self._base

    def _prefixed(self, name: str) -> str:
        return f"{self.target_root} - {name}" if self.target_root else name

    def _default(self, kind: str) -> ServerFolder | None:
        if kind == CALENDAR:
            found = self.http.call("GET", "/calendar")
            return ServerFolder(str(found["id"]), str(found.get("name") or "Calendar"), Ref(CALENDAR, found["id"]))
        if kind == CONTACTS:
            return ServerFolder("contacts", "Contacts", Ref(CONTACTS, None))
        for entry in self.http.pages("/todo/lists", dict(PAGE)):
            if entry.get("wellknownListName") == "defaultList":
                return ServerFolder(str(entry["id"]), str(entry.get("displayName") or "Tasks"), Ref(TODO, entry["id"]))
        return None

    # -- the mapping ------------------------------------------------------------------------------
    def resolve(self, planned: PlannedFolder, parent: ServerFolder | None) -> ServerFolder | None:
        key = (planned.node_id, planned.folder_key)  # a merge run's files reuse node ids for other folders
        if key in self._by_node:
            return self._by_node[key]
        kind = kind_of(planned)
        target: ServerFolder | None
        if planned.role is FolderRole.IPM_SUBTREE or not planned.source.path:
            target = self.base()
            if planned.holds_top_items and not self.target_root and target is not None:
                target = self._find_or_create(MAIL, target.id, planned.name)
        elif (
            not self.target_root
            and planned.role in WELL_KNOWN
            and (known := self._well_known(WELL_KNOWN[planned.role])) is not None
        ):
            target = known
            self.stats.mapped += 1
        elif not self.target_root and kind != MAIL and planned.role in _ROLE_KIND and _ROLE_KIND[planned.role] == kind:
            target = self._default(kind)
            self.stats.mapped += 1 if target is not None else 0
        elif kind == MAIL:
            under = parent if parent is not None and parent.handle.kind == MAIL else self.base()
            target = None if under is None else self._find_or_create(MAIL, under.id, planned.name)
        elif kind == CONTACTS:
            under_id = parent.handle.id if parent is not None and parent.handle.kind == CONTACTS else None
            target = self._find_or_create(
                CONTACTS, under_id, self._prefixed(planned.name) if under_id is None else planned.name
            )
        else:
            target = self._find_or_create(kind, None, self._prefixed(planned.name))
        self._by_node[key] = target
        return target

    def below(self) -> list[ServerFolder]:
        """Every folder of the rebuilt tree: mail folders under the base, and the typed collections'
        folders (those named with the target root's prefix when there is one)."""
        base = self.base()
        out: list[ServerFolder] = []
        if base is not None:
            stack = [base.id]
            while stack:
                current = stack.pop()
                for entries in self.children(MAIL, current).values():
                    for entry in entries:
                        out.append(
                            ServerFolder(str(entry["id"]), str(entry.get("displayName") or ""), Ref(MAIL, entry["id"]))
                        )
                        if entry.get("childFolderCount"):
                            stack.append(str(entry["id"]))
        prefix = f"{self.target_root} - " if self.target_root else ""
        for kind in (CALENDAR, CONTACTS, TODO):
            for entries in self.children(kind, None).values():
                for entry in entries:
                    name = str(entry.get("name" if kind == CALENDAR else "displayName") or "")
                    if name.startswith(prefix):
                        out.append(ServerFolder(str(entry["id"]), name, Ref(kind, entry["id"])))
        if not self.target_root:
            out.append(ServerFolder("contacts", "Contacts", Ref(CONTACTS, None)))
        return out
