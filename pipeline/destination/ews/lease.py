"""The mailbox lease over EWS: a hidden folder under the non-IPM root holding one item with the holder.

Only one CreateFolder of a name can succeed under a parent (ErrorFolderExists for the others), so taking a
free lease is atomic without relying on search consistency or ChangeKeys. An expired or dead holder's
folder is deleted by its id (a second taker's delete of the same id fails harmlessly) and created anew.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exchangelib import Body, Message
from exchangelib.errors import ErrorFolderExists, ErrorFolderNotFound, ErrorItemNotFound
from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.items import ALWAYS_OVERWRITE, HARD_DELETE

from pipeline.destination import lease as protocol
from pipeline.destination.ews.folder_calls import create_folder, delete_folder
from pipeline.destination.lease import EMPTY, LEASE_FOLDER, Empty
from pipeline.lease import LeaseHolder, LeaseLost, note_lease_write

LEASE_SUBJECT = "mailbox rebuild lease"


@dataclass
class HeldLease:
    folder: Any
    item: Any


class _Store:
    """The lease folder in the account's non-IPM root (destination/lease.py takes it); each step a request
    of its own under `call` (the mailbox's retry policy), as over Graph: a refused step is retried alone,
    not the whole taking (which would then find its own empty folder and wait out its grace)."""

    def __init__(self, account: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.account = account
        self.call = call

    def find(self) -> Any | None:
        def listing() -> list[Any]:
            root = self.account.root
            return list(FolderCollection(account=self.account, folders=[root]).find_folders(depth=SHALLOW))

        for child in self.call(listing):
            if not isinstance(child, Exception) and (child.name or "").lower() == LEASE_FOLDER.lower():
                return child
        return None

    def create(self) -> Any | None:
        try:
            return self.call(lambda: create_folder(self.account.root, LEASE_FOLDER, "IPF.Note"))
        except ErrorFolderExists:
            return None

    def write(self, folder: Any, me: LeaseHolder) -> HeldLease | None:
        """Our record written into the folder, once: a write that failed in transit may have been stored, as
        an upload whose answer was lost, so before it is sent again the folder is read and our record there
        is the lease (a second record beside it would be one that renewals never touch: a watcher reading it
        would call the live holder dead). None when the folder is gone (deleted as void meanwhile)."""
        sent = False

        def once() -> Any:
            nonlocal sent
            if sent:
                mine = self._mine(folder, me)
                if mine is not None:
                    return mine
            sent = True
            item = Message(account=self.account, folder=folder, subject=LEASE_SUBJECT, body=Body(me.to_json()))
            item.save()
            return item

        try:
            return HeldLease(folder, self.call(once))
        except (ErrorFolderNotFound, ErrorItemNotFound):
            return None

    @staticmethod
    def _records(folder: Any) -> list[Any]:
        """The records in the folder (one, or none while its creator writes it)."""
        return [item for item in folder.all().only("subject", "body") if not isinstance(item, Exception)]

    def _mine(self, folder: Any, me: LeaseHolder) -> Any | None:
        """Our record in the folder, if one is there."""
        for item in self._records(folder):
            holder = LeaseHolder.from_json(_text(item.body))
            if holder is not None and holder.token == me.token:
                return item
        return None

    def read(self, folder: Any) -> LeaseHolder | Empty | None:
        items = self.call(lambda: self._records(folder))
        return LeaseHolder.from_json(_text(items[0].body)) if items else EMPTY

    def delete(self, folder: Any) -> None:
        self.call(lambda: _delete(folder))


def _delete(folder: Any) -> None:
    try:
        delete_folder(folder, HARD_DELETE)
    except (ErrorFolderNotFound, ErrorItemNotFound):
        pass  # another taker deleted it first


def take(
    account: Any,
    me: LeaseHolder,
    force: bool = False,
    sleep: Any = time.sleep,
    call: Callable[[Callable[[], Any]], Any] = lambda step: step(),
) -> HeldLease:
    """Take the mailbox's lease for `me`, or raise MailboxBusy naming the live holder; each request under
    `call` (the mailbox's retry policy)."""
    return protocol.take(_Store(account, call), me, force, sleep)


def renew(lease: HeldLease, me: LeaseHolder) -> None:
    """Write the new expiry; LeaseLost when the lease is no longer ours (deleted, taken over)."""
    try:
        lease.item.refresh()
        current = LeaseHolder.from_json(_text(lease.item.body))
        if current is None or current.token != me.token:
            raise LeaseLost(f"taken over by {current.describe() if current else 'another run'}")
        lease.item.body = Body(me.to_json())
        note_lease_write()  # the fence counts from this write's sending (pipeline/lease.py)
        lease.item.save(update_fields=["body"], conflict_resolution=ALWAYS_OVERWRITE)
    except (ErrorItemNotFound, ErrorFolderNotFound) as exc:
        raise LeaseLost("the lease was broken or taken over by another run") from exc


def release(lease: HeldLease) -> None:
    _delete(lease.folder)


def _text(body: Any) -> str:
    """The JSON the holder wrote (an HTML body may come back wrapped in markup)."""
    text = str(body or "")
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start >= 0 and end > start else text
