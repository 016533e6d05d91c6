"""Taking the mailbox lease, for any destination: the protocol over a folder that only one run can create.

A destination says how its lease folder is found, created, written, read and deleted (LeaseStore); take()
is the one algorithm both EWS and Graph follow. Who may take a held lease is pipeline/lease.py's may_take.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from pipeline.destination.base import MailboxBusy, MailboxFatalError
from pipeline.lease import LeaseHolder, may_take

#: The lease folder's name, in every destination.
LEASE_FOLDER = "Mailbox rebuild lease"
#: How long a lease folder may stay empty (its creator writes the holder right after) before it is void.
EMPTY_GRACE = 5.0
#: Rounds of find / create / read before giving up (another run keeps taking it).
ATTEMPTS = 12


class Empty:
    """What read() says of a lease folder its creator has not written yet."""


EMPTY = Empty()


class LeaseStore(Protocol):
    """Where a destination keeps the lease: a folder whose creation succeeds for one run only."""

    def find(self) -> Any | None:
        """The lease folder, or None when there is none."""

    def create(self) -> Any | None:
        """A new lease folder, or None when another run created one a moment ago."""

    def write(self, folder: Any, me: LeaseHolder) -> Any | None:
        """The held lease once `me` is written in, or None when the folder was deleted as void meanwhile."""

    def read(self, folder: Any) -> LeaseHolder | Empty | None:
        """The holder the folder names (None: an unreadable record), or EMPTY."""

    def delete(self, folder: Any) -> None:
        """Delete the folder (already gone is fine: another taker deleted it first)."""


def take(store: LeaseStore, me: LeaseHolder, force: bool = False,
         sleep: Callable[[float], None] = time.sleep) -> Any:
    """Take the mailbox's lease for `me` (the store's held lease), or raise MailboxBusy naming the live
    holder. An expired or dead holder's folder, or one left empty past EMPTY_GRACE, is deleted and created
    anew; only one of two runs doing so at once can create it."""
    empty_since: float | None = None
    for _ in range(ATTEMPTS):
        folder = store.find()
        if folder is None:
            folder = store.create()
            held = store.write(folder, me) if folder is not None else None
            if held is not None:
                return held
            continue  # another run created it, or deleted ours as void: read what the mailbox says now
        current = store.read(folder)
        if isinstance(current, Empty):
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since < EMPTY_GRACE and not force:
                sleep(0.5)  # its creator is writing the holder now
                continue
            store.delete(folder)
            continue
        if not may_take(current, me, force):
            assert current is not None
            raise MailboxBusy(current.describe(), current.expires)
        store.delete(folder)
    raise MailboxFatalError(f"could not take the mailbox lease after {ATTEMPTS} attempts (another run keeps "
                            f"taking it?)")
