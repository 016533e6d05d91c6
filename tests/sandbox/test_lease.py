"""The EWS mailbox lease (pipeline/destination/ews/lease.py) against the sandbox: one holder at a time.

The lease folders in the mailbox's non-IPM root are counted with plain exchangelib calls written here."""

from __future__ import annotations

import dataclasses
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
    first = other()
    held = lease.take(alice, first)
    try:
        with pytest.raises(MailboxBusy, match="other-machine") as refused:
            lease.take(alice, LeaseHolder.me())
        assert refused.value.holder.endswith(f"pid {first.pid}")
        assert len(lease_folders(alice)) == 1
        lease.renew(held, first.renewed())
    finally:
        lease.release(held)
    assert lease_folders(alice) == []
    mine = LeaseHolder.me()
    lease.release(lease.take(alice, mine))


def test_expired_lease_is_taken_over_and_its_holder_learns_it(alice):
    stale = other(expires=datetime.now(UTC) - timedelta(seconds=5))
    old = lease.take(alice, stale)
    mine = LeaseHolder.me()
    new = lease.take(alice, mine)
    try:
        assert len(lease_folders(alice)) == 1
        with pytest.raises(LeaseLost):
            lease.renew(old, stale.renewed())
        lease.renew(new, mine.renewed())
    finally:
        lease.release(new)
