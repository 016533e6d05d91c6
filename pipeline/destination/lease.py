"""Taking the mailbox lease, for any destination: the protocol over a folder that only one run can create.

A destination says how its lease folder is found, created, written, read and deleted (LeaseStore); take()
is the one algorithm both EWS and Graph follow. Whether a held lease is watched or taken is pipeline/lease.py's judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from pipeline.destination.base import MailboxBusy, MailboxFatalError
from pipeline.lease import LeaseHolder, Verdict, judge, steady

log = structlog.get_logger(__name__)

#: The lease folder's name, in every destination.
LEASE_FOLDER = "Mailbox rebuild lease"
#: How long a lease folder may stay empty (its creator writes the holder right after) before it is void.
EMPTY_GRACE = 5.0
#: Rounds of find / create / read before giving up (another run keeps taking it).
ATTEMPTS = 12
#: How often a watched lease is read again (at most; a short lease period is read more often).
WATCH_POLL = 5.0


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


def take(
    store: LeaseStore,
    me: LeaseHolder,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = steady,
) -> Any:
    """Take the mailbox's lease for `me` (the store's held lease), or raise MailboxBusy naming the live
    holder. A held lease is watched (pipeline/lease.py's judge says when): renewed while we watch, its holder
    is alive (MailboxBusy); unchanged for the holder's full period on our own clock, it is dead, and its
    folder is deleted and created anew, as is one left empty past EMPTY_GRACE; only one of two runs doing so
    at once can create it. No wall clock of another machine is consulted."""
    empty_since: float | None = None
    watched: tuple[tuple[str, int], float] | None = None  # (the record's version, when first seen)
    rounds = 0
    look = False  # the first round creates before it looks: a free mailbox (the usual case) needs no listing
    while rounds < ATTEMPTS:
        folder = store.find() if look else None
        look = True
        if folder is None:
            rounds += 1
            folder = store.create()
            held = store.write(folder, me) if folder is not None else None
            if held is not None:
                return held
            continue  # another run created it, or deleted ours as void: read what the mailbox says now
        current = store.read(folder)
        if isinstance(current, Empty):
            empty_since = empty_since or clock()
            if clock() - empty_since < EMPTY_GRACE and not force:
                sleep(0.5)  # its creator is writing the holder now
                continue
            rounds += 1
            store.delete(folder)
            continue
        if current is not None and judge(current, me, force) is Verdict.WATCH:
            if watched is not None and watched[0] != current.version:
                raise MailboxBusy(current.describe(), current.expires)  # it renewed while we watched: alive
            if watched is None:
                watched = (current.version, clock())
                log.info(
                    "lease held: watching whether its holder renews it",
                    holder=current.describe(),
                    up_to_s=current.seconds,
                )
            if clock() - watched[1] < current.seconds:
                sleep(min(WATCH_POLL, max(0.2, current.seconds / 10)))
                continue
            log.warning(
                "lease unrenewed for a full period: taking it over", holder=current.describe(), period_s=current.seconds
            )
        rounds += 1
        watched = None
        store.delete(folder)
    raise MailboxFatalError(
        f"could not take the mailbox lease after {ATTEMPTS} attempts (another run keeps taking it?)"
    )
