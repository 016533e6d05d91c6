"""An in-memory destination for unit tests of the run, shipped in the package like structlog.testing.

FakeDestination satisfies destination/base.py's Protocol with plain dicts: folders by (parent id, name),
items with their stamps, and faults on demand (a folder whose items the server refuses, requests that
commit and then drop their answer). Tests read `store` directly to judge what landed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.destination import lease as protocol
from pipeline.destination.base import (
    Failure,
    FailureKind,
    FolderStats,
    MailboxFatalError,
    Outcome,
    OutcomeState,
    SendStats,
    ServerFolder,
    StateChange,
)
from pipeline.destination.lease import EMPTY, Empty
from pipeline.destination.series import finished, finishing
from pipeline.fingerprint import Stamp
from pipeline.folder_plan import PlannedFolder, name_key
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.lease import LeaseHolder, LeaseLost, check_fence
from pipeline.model import FolderRole, UploadItem

ROOT_ID = "msgfolderroot"


@dataclass
class FakeItem:
    id: str
    folder: str
    subject: str
    item_class: str
    stamp: Stamp
    exceptions_applied: bool = False
    upload: UploadItem | None = field(default=None, repr=False)  # what was sent, for assertions
    changes: list[StateChange] = field(default_factory=list)  # newer states a merge run applied, in order


@dataclass
class FakeStore:
    """What the fake server holds for every mailbox: folders {id: (parent id, name)} and items."""

    folders: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)
    items: dict[str, list[FakeItem]] = field(default_factory=dict)
    leases: dict[str, LeaseHolder] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=itertools.count)

    def mailbox(self, address: str) -> None:
        if address not in self.folders:
            roles: dict[str, tuple[str | None, str]] = {ROOT_ID: (None, "Top of Information Store")}
            roles.update(
                {
                    role.value: (ROOT_ID, role.name.title())
                    for role in (
                        FolderRole.INBOX,
                        FolderRole.SENT,
                        FolderRole.DELETED,
                        FolderRole.DRAFTS,
                        FolderRole.CALENDAR,
                        FolderRole.CONTACTS,
                        FolderRole.TASKS,
                        FolderRole.NOTES,
                        FolderRole.JOURNAL,
                        FolderRole.JUNK,
                        FolderRole.OUTBOX,
                    )
                }
            )
            self.folders[address] = roles
            self.items[address] = []

    def path(self, address: str, folder_id: str) -> str:
        """The folder's path from the root, names joined by '/' (for assertions)."""
        parts = []
        current: str | None = folder_id
        while current is not None and current != ROOT_ID:
            parent, name = self.folders[address][current]
            parts.append(name)
            current = parent
        return "/".join(reversed(parts))

    def listing(self, address: str) -> dict[str, list[str]]:
        """Subjects per folder path (sorted), for assertions."""
        out: dict[str, list[str]] = {}
        for item in self.items.get(address, []):
            out.setdefault(self.path(address, item.folder), []).append(item.subject)
        return {k: sorted(v) for k, v in out.items()}


@dataclass
class Faults:
    """refuse: item subjects the server refuses for good; drop_answers: the next N batches are stored but
    their answer is lost (the sender's retry must find them); fatal_after: requests until the mailbox's
    credentials stop working; series_fail: attempts to finish a series that fail."""

    refuse: set[str] = field(default_factory=set)
    drop_answers: int = 0
    fatal_after: int | None = None
    series_fail: int = 0  # the next N attempts to finish a recurring series fail (a run killed in between)


class FakeDestination:
    name = "fake"

    def __init__(self, store: FakeStore | None = None, faults: Faults | None = None) -> None:
        self.store = store or FakeStore()
        self.faults = faults or Faults()
        self.opened: list[str] = []
        self.now = 0.0  # the fake's own clock: a taker watching a lease sleeps on it, in no time

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def open(self, mailbox: str, target_root: str | None = None) -> FakeMailbox:
        self.store.mailbox(mailbox)
        self.opened.append(mailbox)
        return FakeMailbox(self, mailbox, target_root)


class FakeMailbox:
    def __init__(self, destination: FakeDestination, address: str, target_root: str | None) -> None:
        self.destination = destination
        self.store = destination.store
        self.address = address
        self.target_root = target_root
        self.folder_stats = FolderStats()
        self.requests = 0

    # -- folders ----------------------------------------------------------------------------------
    def _child(self, parent: str, name: str) -> str | None:
        for folder_id, (p, n) in self.store.folders[self.address].items():
            if p == parent and name_key(n) == name_key(name):
                return folder_id
        return None

    def _find_or_create(self, parent: str, name: str, create: bool) -> str | None:
        found = self._child(parent, name)
        if found is not None:
            self.folder_stats.found += 1
            return found
        if not create:
            return None
        folder_id = f"f{next(self.store.ids)}"
        self.store.folders[self.address][folder_id] = (parent, name)
        self.folder_stats.created += 1
        return folder_id

    def _base(self, create: bool) -> str | None:
        return self._find_or_create(ROOT_ID, self.target_root, create) if self.target_root else ROOT_ID

    def check_access(self) -> None:
        self._tick()

    def take_lease(self, holder: LeaseHolder, force: bool = False) -> None:
        protocol.take(_FakeLeaseStore(self), holder, force, self.destination.sleep, self.destination.clock)

    def renew_lease(self, holder: LeaseHolder) -> None:
        check_fence()
        current = self.store.leases.get(self.address)
        if current is None or current.token != holder.token:
            raise LeaseLost("taken over by another run")
        self.store.leases[self.address] = holder

    def release_lease(self) -> None:
        check_fence()
        self.store.leases.pop(self.address, None)

    def folder(self, planned: PlannedFolder, parent: ServerFolder | None, create: bool = True) -> ServerFolder | None:
        base = self._base(create)
        if base is None:
            return None
        folder_id: str | None
        if planned.role is FolderRole.IPM_SUBTREE or not planned.source.path:
            folder_id = base
            if planned.holds_top_items and not self.target_root:
                folder_id = self._find_or_create(base, planned.name, create)
        elif not self.target_root and planned.server_role.value in self.store.folders[self.address]:
            folder_id = planned.server_role.value
            self.folder_stats.mapped += 1
        else:
            folder_id = self._find_or_create(parent.id if parent else base, planned.name, create)
        return None if folder_id is None else ServerFolder(folder_id, self.store.folders[self.address][folder_id][1])

    def folders_below(self) -> list[ServerFolder]:
        base = self._base(create=False)
        below = []
        for folder_id in self.store.folders[self.address]:
            current = self.store.folders[self.address][folder_id][0]
            while current is not None and current != base:
                current = self.store.folders[self.address][current][0]
            if current == base and folder_id != base:
                below.append(ServerFolder(folder_id, self.store.folders[self.address][folder_id][1]))
        return below

    # -- items ------------------------------------------------------------------------------------
    def stamps(self, folder: ServerFolder) -> list[Stamp]:
        self._tick()
        return [
            dataclasses.replace(i.stamp, server_id=i.id)
            for i in self.store.items[self.address]
            if i.folder == folder.id
        ]

    def delete_items(self, folder: ServerFolder, server_ids: list[str]) -> None:
        self._tick()
        doomed = set(server_ids)
        self.store.items[self.address] = [i for i in self.store.items[self.address] if i.id not in doomed]

    def cannot_carry(self, upload: UploadItem) -> list[ItemWarning]:
        return []

    def sender(self, handle: Callable[[list[Outcome]], None], in_flight: int) -> FakeSender:
        return FakeSender(self, handle)

    def find_stamped(self, folder: ServerFolder, identity: str) -> list[str]:
        return [i.id for i in self.store.items[self.address] if i.folder == folder.id and i.stamp.identity == identity]

    def complete_series(self, folder: ServerFolder, server_id: str, upload: UploadItem) -> Outcome:
        def apply() -> list[ItemWarning]:
            self._tick()
            if self.destination.faults.series_fail > 0:
                self.destination.faults.series_fail -= 1
                raise ConnectionResetError("connection reset while applying the series' exceptions")
            for item in self.store.items[self.address]:
                if item.id == server_id:
                    item.exceptions_applied = True
                    item.stamp = Stamp(item.stamp.identity, False)
            return []

        return finished(upload, server_id, apply)

    def update_state(self, change: StateChange) -> str:
        self._tick()
        for item in self.store.items[self.address]:
            if item.id == change.server_id:
                item.changes.append(change)
                item.stamp = Stamp(change.stamp, item.stamp.pending)
                if change.move and item.folder != change.target.id:
                    item.folder = change.target.id
                    item.id = f"i{next(self.store.ids)}"  # as Exchange: a moved item has a new id
                return item.id
        raise LookupError(f"no item {change.server_id} in the fake mailbox")

    def _tick(self) -> None:
        check_fence()  # as every real destination does before a request
        self.requests += 1
        fatal_after = self.destination.faults.fatal_after
        if fatal_after is not None and self.requests > fatal_after:
            raise MailboxFatalError("UnauthorizedError: the fake server stopped accepting the credentials")

    def close(self) -> None:
        pass


class FakeSender:
    """Sends at once, in the caller's thread; a dropped answer is retried after an in-doubt check."""

    def __init__(self, mailbox: FakeMailbox, handle: Callable[[list[Outcome]], None]) -> None:
        self.mailbox = mailbox
        self.handle = handle
        self.stats = SendStats()

    def send(self, folder: ServerFolder, batch: list[UploadItem]) -> None:
        mailbox, faults = self.mailbox, self.mailbox.destination.faults
        mailbox._tick()
        self.stats.requests += 1
        outcomes: list[Outcome] = []
        stored: list[tuple[UploadItem, FakeItem]] = []
        for upload in batch:
            if upload.subject in faults.refuse:
                outcomes.append(
                    Outcome(
                        upload,
                        OutcomeState.FAILED,
                        failure=Failure(FailureKind.REFUSED, "ErrorItemSave: refused by the fake"),
                    )
                )
                continue
            item = FakeItem(
                f"i{next(mailbox.store.ids)}",
                folder.id,
                upload.subject,
                upload.item_class,
                Stamp(upload.identity, upload.series_pending),
                upload=upload,
            )
            mailbox.store.items[mailbox.address].append(item)
            stored.append((upload, item))
        if faults.drop_answers > 0 and stored:
            faults.drop_answers -= 1
            self.stats.retries += 1
            present = {s.identity for s in mailbox.stamps(folder)}  # the in-doubt check before a resend
            found = [u for u, _ in stored if u.identity in present]
            self.stats.in_doubt_found += len(found)
            outcomes.extend(Outcome(u, OutcomeState.PRESENT) for u in found)
        else:
            outcomes.extend(Outcome(u, OutcomeState.UPLOADED, server_id=i.id) for u, i in stored)
        self.handle([finishing(o, folder, mailbox.complete_series) for o in outcomes])

    def after(self, step: Callable[[], None]) -> None:
        step()  # batches are handled as they are sent

    def wait(self) -> None:
        pass

    def close(self) -> None:
        pass


class _FakeLeaseStore:
    """The lease 'folder' of the fake: the dict entry, created only when absent (destination/lease.py)."""

    def __init__(self, mailbox: FakeMailbox) -> None:
        self.leases = mailbox.store.leases
        self.address = mailbox.address

    def find(self) -> str | None:
        return self.address if self.address in self.leases else None

    def create(self) -> str | None:
        return None if self.address in self.leases else self.address

    def write(self, folder: str, me: LeaseHolder) -> str | None:
        self.leases[folder] = me
        return folder

    def read(self, folder: str) -> LeaseHolder | Empty | None:
        return self.leases.get(folder, EMPTY)

    def delete(self, folder: str) -> None:
        self.leases.pop(folder, None)
