"""The EWS mailbox lease (pipeline/destination/ews/lease.py) against the sandbox: one holder at a time.

The lease folders in the mailbox's non-IPM root are counted with plain exchangelib calls written here."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest
from exchangelib.folders import SHALLOW, FolderCollection

from pipeline.destination.base import MailboxBusy
from pipeline.destination.ews import lease
from pipeline.lease import LeaseHolder, LeaseLost


def lease_folders(account) -> list:
    found = FolderCollection(account=account, folders=[account.root]).find_folders(depth=SHALLOW)
    return [f for f in found if (f.name or "").lower() == lease.LEASE_FOLDER.lower()]


def other(**changes) -> LeaseHolder:
    return dataclasses.replace(LeaseHolder.me(), token="other-run", host="other-machine", **changes)


def test_one_holder_at_a_time(alice):
    """A holder that renews while a second run watches is alive: the second run is refused at once."""
    first = other()
    held = lease.take(alice, first)
    renewals = [first]

    def renewing(seconds: float) -> None:  # the first holder renews while the second one watches
        renewals.append(renewals[-1].renewed())
        lease.renew(held, renewals[-1])

    try:
        with pytest.raises(MailboxBusy, match="other-machine") as refused:
            lease.take(alice, LeaseHolder.me(), sleep=renewing)
        assert refused.value.holder.endswith(f"pid {first.pid}")
        assert len(lease_folders(alice)) == 1 and len(renewals) == 2  # one renewal seen was enough
    finally:
        lease.release(held)
    assert lease_folders(alice) == []
    mine = LeaseHolder.me()
    lease.release(lease.take(alice, mine))


def test_unrenewed_lease_is_taken_over_after_a_full_period_and_its_holder_learns_it(alice):
    """Whatever its record's wall-clock expiry says (a day ahead here, as a skewed clock would write it),
    a lease left unrenewed for its whole period, watched on the taker's clock, is taken over."""
    stale = other(expires=datetime.now(UTC) + timedelta(days=1), seconds=1)
    old = lease.take(alice, stale)
    mine = LeaseHolder.me()
    started = time.monotonic()
    new = lease.take(alice, mine)
    try:
        assert time.monotonic() - started >= 1.0  # it watched the holder's full period first
        assert len(lease_folders(alice)) == 1
        with pytest.raises(LeaseLost):
            lease.renew(old, stale.renewed())
        lease.renew(new, mine.renewed())
    finally:
        lease.release(new)
