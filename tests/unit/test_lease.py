"""The lease's fence and verdicts (pipeline/lease.py), on an injected clock: no wall clock is ever compared."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from pipeline.lease import Fence, LeaseExpired, LeaseHolder, LeaseLost, Verdict, judge


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fence_lets_requests_through_until_lease_minus_margin_after_the_renewal_was_sent():
    clock = Clock()
    fence = Fence(seconds=60, margin=21, clock=clock)
    with pytest.raises(LeaseExpired):
        fence.check()  # nothing acknowledged yet: no right to write
    fence.acknowledged(sent_at=clock.now)
    clock.now += 38.9
    fence.check()
    clock.now += 0.2  # 39.1 s after the renewal was sent: the margin for a request in flight is reached
    with pytest.raises(LeaseExpired, match="within 39 s"):
        fence.check()
    fence.acknowledged(sent_at=clock.now)  # a late acknowledgement does not revive it
    with pytest.raises(LeaseExpired):
        fence.check()


def test_fence_counts_from_when_the_renewal_was_sent_not_when_it_was_answered():
    clock = Clock()
    fence = Fence(seconds=60, margin=21, clock=clock)
    sent = clock.now
    clock.now += 30  # a slow answer
    fence.acknowledged(sent)
    assert fence.remaining() == pytest.approx(9)


def test_a_lease_taken_over_stays_lost():
    clock = Clock()
    fence = Fence(seconds=60, margin=21, clock=clock)
    fence.acknowledged(clock.now)
    fence.lose("taken over by bob@pc2 pid 7")
    with pytest.raises(LeaseLost, match="taken over") as lost:
        fence.check()
    assert not isinstance(lost.value, LeaseExpired)


def test_a_margin_longer_than_the_lease_is_refused():
    with pytest.raises(ValueError):
        Fence(seconds=10, margin=10)


def test_verdicts_never_read_the_record_expiry():
    me = LeaseHolder.me()
    elsewhere = dataclasses.replace(me, token="x", host="elsewhere")
    assert judge(None, me) is Verdict.TAKE
    assert judge(elsewhere, me) is Verdict.WATCH
    assert judge(elsewhere, me, force=True) is Verdict.TAKE
    assert judge(dataclasses.replace(me, token="x", pid=2**22 + 99), me) is Verdict.TAKE  # this host, gone
    assert judge(dataclasses.replace(me, token="x"), me) is Verdict.WATCH  # this host, alive (or paused)


def test_a_renewal_changes_the_version_a_taker_watches():
    holder = LeaseHolder.me(seconds=30)
    assert holder.renewed().version != holder.version
    restored = LeaseHolder.from_json(holder.to_json())
    assert restored is not None and restored.seconds == 30 and restored.version == holder.version
    old_record = '{"user": "u", "host": "h", "pid": 1, "token": "t", "expires": "2026-01-01T00:00:00+00:00"}'
    assert LeaseHolder.from_json(old_record).seconds == 300  # records of earlier releases still read


def test_a_renewal_that_retried_before_its_write_counts_from_the_write_that_succeeded():
    """The keeper acknowledges a renewal from when its successful write was sent (note_lease_write), not from
    when the renewal began: back-offs spent before it (an EWS storm, a Graph Retry-After) are not lost."""
    from pipeline.lease import LeaseKeeper, note_lease_write

    now = [100.0]
    fence = Fence(10, 1, clock=lambda: now[0])
    fence.acknowledged(100.0)
    renewed = threading.Event()

    def renew(holder: LeaseHolder) -> None:
        now[0] += 3.0  # two refused attempts and their back-off
        note_lease_write()
        now[0] += 0.5  # the write's round trip
        renewed.set()

    keeper = LeaseKeeper(renew, LeaseHolder.me(10), fence, every=0.01).start()
    try:
        assert renewed.wait(5)
    finally:
        keeper.stop()
    assert fence.remaining() == pytest.approx(9 - 0.5)  # from the write, not from the start (9 - 3.5)
