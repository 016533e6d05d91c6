"""The EWS destination: base.Destination and base.Mailbox over exchangelib, every call under one retry policy.

The run sees only the Protocol; folders are mirrored by folders.py, items sent by sender.py/upload.py,
recurring series finished by occurrences.py, the lease kept by lease.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchangelib.errors import ErrorItemNotFound
from exchangelib.folders import DEEP, FolderCollection
from exchangelib.items import ALL_OCCURRENCES, HARD_DELETE, SEND_TO_NONE
from exchangelib.properties import ItemId

from pipeline.destination.base import FolderStats, Outcome, ServerFolder, StateChange
from pipeline.destination.ews import lease, occurrences, retry
from pipeline.destination.ews.connect import Target, open_account
from pipeline.destination.ews.folders import FolderMirror
from pipeline.destination.ews.items import too_long_fields, unsupported_fields
from pipeline.destination.ews.properties import register_fingerprint
from pipeline.destination.ews.retry import RetryPolicy
from pipeline.destination.ews.rules import EwsInboxRules
from pipeline.destination.ews.search_folders import EwsSearchFolders
from pipeline.destination.ews.sender import Sender
from pipeline.destination.ews.shortcuts import EwsShortcuts
from pipeline.destination.ews.state_update import update_state
from pipeline.destination.ews.upload import ids_stamped, stamps
from pipeline.destination.ews.user_settings import EwsConfigurations
from pipeline.destination.series import finished
from pipeline.fingerprint import Stamp
from pipeline.folder_plan import PlannedFolder
from pipeline.item_values.item_warnings import ItemWarning, fields_refused, text_cut
from pipeline.lease import LeaseHolder, check_fence
from pipeline.model import UploadItem

#: Items per DeleteItem request when reconciliation removes copies.
DELETE_BATCH = 100


class EwsDestination:
    """Exchange over EWS (on-premises, or the sandbox): opens mailboxes as target says."""

    name = "ews"

    def __init__(self, target: Target, policy: RetryPolicy | None = None) -> None:
        self.target = target
        self.policy = policy or RetryPolicy()

    def open(self, mailbox: str, target_root: str | None = None) -> EwsMailbox:
        register_fingerprint()
        return EwsMailbox(open_account(self.target, mailbox), self.policy, target_root)


class EwsMailbox:
    def __init__(self, account: Any, policy: RetryPolicy, target_root: str | None = None) -> None:
        self.account = account
        self.policy = policy
        self._mirror = FolderMirror(account, target_root)
        self._lookup = FolderMirror(account, target_root, create=False)
        self._lease: lease.HeldLease | None = None

    @property
    def folder_stats(self) -> FolderStats:
        return self._mirror.stats

    def _call(self, fn: Callable[[], Any]) -> Any:
        """fn under the retry policy; each attempt first checks the run's lease fence (pipeline/lease.py)."""

        def attempt() -> Any:
            check_fence()
            return fn()

        return retry.call(attempt, self.policy)

    def check_access(self) -> None:
        self._call(lambda: self.account.msg_folder_root)

    def take_lease(self, holder: LeaseHolder, force: bool = False) -> None:
        self._lease = lease.take(self.account, holder, force, call=self._call)

    def renew_lease(self, holder: LeaseHolder) -> None:
        if self._lease is not None:
            held = self._lease
            self._call(lambda: lease.renew(held, holder))

    def release_lease(self) -> None:
        if self._lease is not None:
            held, self._lease = self._lease, None
            self._call(lambda: lease.release(held))

    def folder(self, planned: PlannedFolder, parent: ServerFolder | None, create: bool = True) -> ServerFolder | None:
        mirror = self._mirror if create else self._lookup
        handle = self._call(lambda: mirror.resolve(planned, parent.handle if parent is not None else None))
        if handle is None:
            return None
        created = str(handle.id) in self._mirror.created_ids
        return ServerFolder(id=str(handle.id), name=handle.name or "", handle=handle, created=created)

    def folders_below(self) -> list[ServerFolder]:
        base = self._call(self._lookup.base)
        if base is None:
            return []
        found = self._call(
            lambda: list(FolderCollection(account=self.account, folders=[base]).find_folders(depth=DEEP))
        )
        return [ServerFolder(str(f.id), f.name or "", f) for f in found if not isinstance(f, Exception)]

    def stamps(self, folder: ServerFolder) -> list[Stamp]:
        return self._call(lambda: stamps(folder.handle))

    def delete_items(self, folder: ServerFolder, server_ids: list[str]) -> None:
        """Hard-delete these items (copies reconciliation removes: never to Deleted Items, where a later
        rebuild of that folder would meet them)."""
        for start in range(0, len(server_ids), DELETE_BATCH):
            chunk = [ItemId(id=i) for i in server_ids[start : start + DELETE_BATCH]]

            def delete(chunk: list[Any] = chunk) -> list[Any]:
                return list(
                    self.account.bulk_delete(
                        chunk,
                        delete_type=HARD_DELETE,
                        send_meeting_cancellations=SEND_TO_NONE,
                        affected_task_occurrences=ALL_OCCURRENCES,
                        suppress_read_receipts=True,
                    )
                )

            results = self._call(delete)
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, ErrorItemNotFound):
                    raise result  # already gone is fine: another reconciler removed it first

    def cannot_carry(self, upload: UploadItem) -> list[ItemWarning]:
        missing = unsupported_fields(upload)
        notes = [fields_refused(upload.kind, missing)] if missing else []
        return notes + [text_cut(name, limit, upload.kind, length) for name, length, limit in too_long_fields(upload)]

    def sender(self, handle: Callable[[list[Outcome]], None], in_flight: int) -> Sender:
        return Sender(self.account, self.policy, handle, in_flight, self.complete_series)

    def find_stamped(self, folder: ServerFolder, identity: str) -> list[str]:
        return self._call(lambda: ids_stamped(folder.handle, identity))  # no restricted search (search lag)

    def complete_series(self, folder: ServerFolder, server_id: str, upload: UploadItem) -> Outcome:
        def apply() -> list[ItemWarning]:
            warnings = self._call(lambda: occurrences.apply_exceptions(self.account, folder.handle, server_id, upload))
            self._call(lambda: occurrences.finish(self.account, folder.handle, server_id, upload.identity))
            return warnings

        return finished(upload, server_id, apply)

    def update_state(self, change: StateChange) -> str:
        """A merge run's newer state for an item already there (state_update.py), under the retry policy."""
        return self._call(lambda: update_state(self.account, change))

    def configurations(self) -> EwsConfigurations:
        """The mailbox's user configurations (the user's settings restore: category list, work hours)."""
        return EwsConfigurations(self.account, self._call)

    def search_folders(self) -> EwsSearchFolders:
        """The mailbox's search folders (the user's settings restore: search folder definitions)."""
        return EwsSearchFolders(self.account, self._call)

    def shortcuts(self) -> EwsShortcuts:
        """The mailbox's navigation shortcuts (the user's settings restore)."""
        return EwsShortcuts(self.account, self._call)

    def inbox_rules(self) -> EwsInboxRules:
        """The mailbox's inbox rules (the user's settings restore: rules, destination/ews/rules.py)."""
        return EwsInboxRules(self.account, self._call)

    def close(self) -> None:
        """exchangelib keeps a connection pool per protocol; nothing of ours to release."""
