"""The mailbox lease over EWS: a hidden folder under the non-IPM root holding one item with the holder.

Only one CreateFolder of a name can succeed under a parent (ErrorFolderExists for the others), so taking a
free lease is atomic without relying on search consistency or ChangeKeys. An expired or dead holder's
folder is deleted by its id (a second taker's delete of the same id fails harmlessly) and created anew.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from exchangelib import Body, Message
from exchangelib.errors import ErrorFolderExists, ErrorFolderNotFound, ErrorItemNotFound
from exchangelib.folders import SHALLOW, Folder, FolderCollection
from exchangelib.items import ALWAYS_OVERWRITE, HARD_DELETE

from pipeline.destination.base import MailboxBusy, MailboxFatalError
from pipeline.lease import LeaseHolder, LeaseLost, may_take

LEASE_FOLDER = "Mailbox rebuild lease"
LEASE_SUBJECT = "mailbox rebuild lease"
#: How long a lease folder may stay empty (its creator writes the holder right after) before it is void.
EMPTY_GRACE = 5.0
ATTEMPTS = 12


@dataclass
class HeldLease:
    folder: Any
    item: Any


def _find(account: Any) -> Any | None:
    for child in FolderCollection(account=account, folders=[account.root]).find_folders(depth=SHALLOW):
        if not isinstance(child, Exception) and (child.name or "").lower() == LEASE_FOLDER.lower():
            return child
    return None


def _holder_item(folder: Any) -> Any | None:
    items = [i for i in folder.all().only("subject", "body") if not isinstance(i, Exception)]
    return items[0] if items else None


def _delete(folder: Any) -> None:
    try:
        folder.delete(delete_type=HARD_DELETE)
    except (ErrorFolderNotFound, ErrorItemNotFound):
        pass  # another taker deleted it first


def take(account: Any, me: LeaseHolder, force: bool = False, sleep: Any = time.sleep) -> HeldLease:
    """Take the mailbox's lease for `me`, or raise MailboxBusy naming the live holder."""
    empty_since: float | None = None
    for _ in range(ATTEMPTS):
        folder = _find(account)
        if folder is None:
            try:
                folder = Folder(parent=account.root, name=LEASE_FOLDER, folder_class="IPF.Note")
                folder.save()
            except ErrorFolderExists:
                continue  # another run created it a moment ago: read what it says
            try:
                item = Message(account=account, folder=folder, subject=LEASE_SUBJECT, body=Body(me.to_json()))
                item.save()
            except (ErrorFolderNotFound, ErrorItemNotFound):
                continue  # deleted as void before we wrote ourselves in: start again
            return HeldLease(folder, item)
        item = _holder_item(folder)
        if item is None:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since < EMPTY_GRACE and not force:
                sleep(0.5)  # its creator is writing the holder now
                continue
            _delete(folder)
            continue
        current = LeaseHolder.from_json(_text(item.body))
        if not may_take(current, me, force):
            assert current is not None
            raise MailboxBusy(current.describe(), current.expires)
        _delete(folder)
    raise MailboxFatalError(f"could not take the mailbox lease after {ATTEMPTS} attempts (another run keeps "
                            f"taking it?)")


def renew(lease: HeldLease, me: LeaseHolder) -> None:
    """Write the new expiry; LeaseLost when the lease is no longer ours (deleted, taken over)."""
    try:
        lease.item.refresh()
        current = LeaseHolder.from_json(_text(lease.item.body))
        if current is None or current.token != me.token:
            raise LeaseLost(f"taken over by {current.describe() if current else 'another run'}")
        lease.item.body = Body(me.to_json())
        lease.item.save(update_fields=["body"], conflict_resolution=ALWAYS_OVERWRITE)
    except (ErrorItemNotFound, ErrorFolderNotFound) as exc:
        raise LeaseLost("the lease was broken or taken over by another run") from exc


def release(lease: HeldLease) -> None:
    _delete(lease.folder)


def _text(body: Any) -> str:
    """The JSON the holder wrote (an HTML body may come back wrapped in markup)."""
    text = str(body or "")
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if start >= 0 and end > start else text
