"""The Graph destination: base.Destination and base.Mailbox over Microsoft Graph.

Identities are read back per folder (the stamp properties through $expand, pages of 1000 by
@odata.nextLink; To Do tasks through their open extension); an imported message whose finishing PATCH
never happened (a killed run) is remembered and finished by the next send instead of imported again, and a
JSON message whose large attachments never all arrived is deleted and made again. A merge run's newer
state is applied by state_update.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pipeline import fingerprint
from pipeline.convert.user_settings.records import SettingsMessage
from pipeline.destination.base import FolderStats, Outcome, ServerFolder, SettingsLinks, StateChange
from pipeline.destination.graph import items, lease, state_update
from pipeline.destination.graph.connect import GraphTarget, require_extra
from pipeline.destination.graph.folders import MAIL, TODO, GraphFolders, Ref
from pipeline.destination.graph.sender import GraphSender, Imports, Leftovers, item_path, items_path
from pipeline.destination.graph.transport import GraphError, GraphHttp, RetryPolicy
from pipeline.destination.graph.user_settings import GraphSettingOutcome, GraphSettings
from pipeline.destination.series import finished
from pipeline.fingerprint import Stamp, read_stamp
from pipeline.folder_plan import PlannedFolder
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.lease import LeaseHolder
from pipeline.model import UploadItem

PAGE = "1000"


class GraphDestination:
    """Exchange Online (or the sandbox's Graph face) as GraphTarget says."""

    name = "graph"

    def __init__(self, target: GraphTarget, policy: RetryPolicy | None = None) -> None:
        require_extra()
        self.target = target
        self.policy = policy or RetryPolicy()

    def open(self, mailbox: str, target_root: str | None = None) -> GraphMailbox:
        return GraphMailbox(GraphHttp(self.target, mailbox, self.policy), target_root, self.target.import_mime)


class GraphMailbox:
    def __init__(self, http: GraphHttp, target_root: str | None, import_mime: bool = True) -> None:
        self.http = http
        self._folders = GraphFolders(http, target_root)
        self._lookup = GraphFolders(http, target_root, create=False)
        self._lease: lease.HeldLease | None = None
        self._imports = Imports(import_mime)
        self._leftovers = Leftovers()
        #: The folder of each event, contact and task whose stamp was read (a merge run's update needs the
        #: item's own kind; any other item is a message: only these are kept, so mail costs no memory), and
        #: the folders seen, by id (a folder named by id alone, as run.py's removal of extra copies does).
        self._typed: dict[str, Ref] = {}
        self._seen: dict[str, Ref] = {}

    @property
    def folder_stats(self) -> FolderStats:
        return self._folders.stats

    def check_access(self) -> None:
        self.http.call("GET", "/mailFolders/inbox", params={"$select": "id"})

    def take_lease(self, holder: LeaseHolder, force: bool = False) -> None:
        self._lease = lease.take(self.http, holder, force)

    def renew_lease(self, holder: LeaseHolder) -> None:
        if self._lease is not None:
            lease.renew(self.http, self._lease, holder)

    def release_lease(self) -> None:
        if self._lease is not None:
            held, self._lease = self._lease, None
            lease.release(self.http, held)

    def folder(self, planned: PlannedFolder, parent: ServerFolder | None, create: bool = True) -> ServerFolder | None:
        found = (self._folders if create else self._lookup).resolve(planned, parent)
        if found is not None:
            self._seen[found.id] = found.handle
        return found

    def folders_below(self) -> list[ServerFolder]:
        found = self._lookup.below()
        self._seen.update((f.id, f.handle) for f in found)
        return found

    def _ref(self, folder: ServerFolder) -> Ref:
        """The folder's Graph reference (a folder named by id alone: one seen before, else a mail folder)."""
        return folder.handle or self._seen.get(folder.id) or Ref(MAIL, folder.id)

    # -- identities -------------------------------------------------------------------------------
    def _stamped(self, folder: ServerFolder) -> list[tuple[str, dict[str, str]]]:
        """(server id, {property id: value}) of every item of the folder, the stamp properties only."""
        ref: Ref = folder.handle
        if ref.kind == TODO:
            out = []
            for entry in self.http.pages(items_path(ref), {"$top": PAGE, "$expand": "extensions"}):
                values: dict[str, str] = {}
                for extension in entry.get("extensions") or []:
                    if extension.get("extensionName") == items.EXTENSION_NAME:
                        values[_canonical(items.FINGERPRINT_PROPERTY)] = str(extension.get("identity"))
                out.append((str(entry["id"]), values))
            return out
        wanted = [items.FINGERPRINT_PROPERTY, items.PENDING_PROPERTY]
        if ref.kind == "mail":
            wanted.append(items.HEADER_PROPERTY)
        if ref.kind in ("mail", "contacts"):
            wanted.append(items.ATTACHMENTS_PENDING)
        expand = "singleValueExtendedProperties($filter=" + " or ".join(f"id eq '{w}'" for w in wanted) + ")"
        out = []
        for entry in self.http.pages(items_path(ref), {"$select": "id", "$expand": expand, "$top": PAGE}):
            values = {
                _canonical(p["id"]): str(p.get("value")) for p in entry.get("singleValueExtendedProperties") or []
            }
            out.append((str(entry["id"]), values))
        return out

    def stamps(self, folder: ServerFolder) -> list[Stamp]:
        found: list[Stamp] = []
        unfinished: dict[str, list[str]] = {}
        half_made: dict[str, list[str]] = {}
        for server_id, values in self._stamped(folder):
            if folder.handle.kind != MAIL:
                self._typed[server_id] = folder.handle
            identity = values.get(_canonical(items.FINGERPRINT_PROPERTY))
            if identity and values.get(_canonical(items.ATTACHMENTS_PENDING)) == "true":
                half_made.setdefault(identity, []).append(server_id)  # made again by the next send
                continue
            if identity:
                pending = values.get(_canonical(items.PENDING_PROPERTY)) == "true"
                found.append(read_stamp(identity, pending, server_id))
                continue
            header = values.get(_canonical(items.HEADER_PROPERTY))
            if header:  # imported, never finished: the next send of that identity finishes it
                unfinished.setdefault(header, []).append(server_id)
        self._leftovers.imported[folder.id] = unfinished
        self._leftovers.half_made[folder.id] = half_made
        return found

    def delete_items(self, folder: ServerFolder, server_ids: list[str]) -> None:
        """Delete these items (copies reconciliation removes); already gone is fine."""
        ref = self._ref(folder)
        for server_id in server_ids:
            try:
                self.http.call("DELETE", item_path(ref, server_id))
            except GraphError as exc:
                if exc.status != 404:
                    raise

    def cannot_carry(self, upload: UploadItem) -> list[ItemWarning]:
        return items.cannot_carry(upload)

    def sender(self, handle: Callable[[list[Outcome]], None], in_flight: int) -> GraphSender:
        return GraphSender(self.http, self._imports, self._leftovers, handle, in_flight, self.complete_series)

    def find_stamped(self, folder: ServerFolder, identity: str) -> list[str]:
        wanted = {identity, identity + fingerprint.LEGACY_PENDING_SUFFIX}
        return [
            server_id
            for server_id, values in self._stamped(folder)
            if values.get(_canonical(items.FINGERPRINT_PROPERTY)) in wanted
        ]

    def update_state(self, change: StateChange) -> str:
        """The newer state PATCHed, and the message moved when asked (destination/graph/state_update.py);
        StateNotApplied when Graph refuses, or has no move for such an item."""
        where = self._typed.get(change.server_id, Ref(MAIL, None))
        return state_update.update_state(self.http, change, where)

    def complete_series(self, folder: ServerFolder, server_id: str, upload: UploadItem) -> Outcome:
        """Delete and change the series' occurrences through its instances, then clear the pending flag."""
        from pipeline.destination.graph.occurrences import apply_exceptions

        def apply() -> list[ItemWarning]:
            warnings = apply_exceptions(self.http, server_id, upload)
            props = [
                {"id": items.FINGERPRINT_PROPERTY, "value": upload.identity},
                {"id": items.PENDING_PROPERTY, "value": "false"},
            ]
            self.http.call(
                "PATCH", item_path(folder.handle, server_id), json_body={"singleValueExtendedProperties": props}
            )
            return warnings

        return finished(upload, server_id, apply)

    def restore_settings(
        self, messages: list[SettingsMessage], selected: tuple[str, ...], links: SettingsLinks
    ) -> Iterator[GraphSettingOutcome]:
        """The user's settings (categories, work hours, search folders, rules) over Graph, one outcome each
        (destination/graph/user_settings.py)."""
        return GraphSettings(self.http).restore(messages, selected, links)

    def close(self) -> None:
        self.http.close()

    @property
    def requests(self) -> int:
        return self.http.requests


def _canonical(property_id: str) -> str:
    """Property ids compared as Graph compares them: case and spacing aside."""
    return " ".join(property_id.lower().replace("{", "").replace("}", "").split())
