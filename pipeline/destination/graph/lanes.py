"""Who sends next to one mailbox over Graph: at most `limit` requests in flight (Graph's 4 per app and
mailbox), none while a Retry-After the server answered still holds, and the lease's requests ahead of all
others: a waiting lease request takes the next free slot and no other request starts meanwhile, so a
renewal is never queued behind item uploads, their retries or their pacing.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Seconds between looks at the fence while a Retry-After holds.
CHECK_EVERY = 1.0


class Lane(enum.Enum):
    ITEMS = "items"  # everything but the lease
    LEASE = "lease"  # taking, renewing and releasing the mailbox lease


class ScriptedTime:
    """A clock that moves only by sleep(): what a transport given a scripted sleep (tests) waits on."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self.now = 0.0
        self._sleep = sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self._sleep(seconds)


class Lanes:
    def __init__(
        self, limit: int, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.sleep = sleep
        self._in_flight = 0
        self._lease_waiting = 0
        self._hold_until = float("-inf")
        self._cond = threading.Condition()

    def hold(self, seconds: float) -> None:
        """The server answered Retry-After: no request of this mailbox starts before it has passed."""
        with self._cond:
            self._hold_until = max(self._hold_until, self.clock() + seconds)

    def held_for(self) -> float:
        """Seconds the current Retry-After still holds (0 when none)."""
        with self._cond:
            return max(0.0, self._hold_until - self.clock())

    def _enter(self, lane: Lane, check: Callable[[], None], width: int) -> None:
        while True:
            check()
            with self._cond:
                held = self._hold_until - self.clock()
                if held <= 0:
                    if self._in_flight + width <= self.limit and not (lane is Lane.ITEMS and self._lease_waiting):
                        self._in_flight += width
                        return
                    self._cond.wait(1.0)  # woken by a request leaving, or the lease taking its slot
                    continue
            self.sleep(min(held, CHECK_EVERY))  # the Retry-After, outside the lock, looking at `check` now and then

    @contextmanager
    def slot(self, lane: Lane = Lane.ITEMS, check: Callable[[], None] = lambda: None, width: int = 1) -> Iterator[None]:
        """One request in flight, once its lane may send; `check` (the lease fence) is called while waiting
        and may raise to give up the wait. `width`: the mailbox's concurrent requests it takes (a $batch whose
        parts Graph runs several at once counts as that many: Graph's per-mailbox limit counts the parts)."""
        width = max(1, min(width, self.limit))
        if lane is Lane.LEASE:
            with self._cond:
                self._lease_waiting += 1
        try:
            self._enter(lane, check, width)
        finally:
            if lane is Lane.LEASE:
                with self._cond:
                    self._lease_waiting -= 1
                    self._cond.notify_all()  # the other lane looks again
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= width
                self._cond.notify_all()
