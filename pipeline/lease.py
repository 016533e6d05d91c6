"""The mailbox lease: one writer per mailbox, across state dirs and machines, judged on each run's own clock.

The lease is stored in the mailbox itself (each destination says where: EWS keeps it in a hidden folder
of the non-IPM root), so it holds whatever state dir or machine a second run starts from. It names its
holder (user, host, pid, a per-run token), the lease period and a renewal count; the holder renews it while
it runs. No decision compares two machines' wall clocks:

- The holder's right to write is its Fence: valid until (the moment the last acknowledged renewal was
  *sent*) + period - margin, on this machine's steady clock (one that keeps counting while the machine
  sleeps), where the margin covers the request timeout. Every request the run makes checks the fence
  first (check_fence), from any of the run's threads; once it has passed the run stops for good.
- A taker sees the holder alive when the record changes while it watches (a renewal), and dead when the
  record stays unchanged for a full period on the taker's own steady clock; a holder on this host whose
  process is gone is dead at once; `--break-lease` takes it regardless (destination/lease.py watches).

The expiry written in the record is the holder's own estimate, shown to people; nobody decides by it.
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

log = structlog.get_logger(__name__)

#: How long a lease lasts without renewal (setting lease_seconds): a taker waits this long watching an
#: unrenewed lease before it takes it over.
LEASE_SECONDS = 300
#: Seconds added to the request timeout to make the fence's margin.
MARGIN_EXTRA = 1.0
#: Tests only: seconds added to this process's wall clock where the lease writes it (a machine whose clock
#: is wrong), to show that no decision depends on it (tests/e2e/test_fencing_trials.py).
SKEW_ENV = "REBUILD_TEST_CLOCK_SKEW_S"


def wall_now() -> datetime:
    """This machine's wall clock as the lease writes it (for people only; see SKEW_ENV)."""
    return datetime.now(UTC) + timedelta(seconds=float(os.environ.get(SKEW_ENV) or 0))


class LeaseLost(Exception):
    """The lease was taken over or broken while this run held it: the run must stop writing."""


class LeaseExpired(LeaseLost):
    """This run could not renew its lease in time: another run may hold it now, so nothing more is sent."""


def steady() -> float:
    """Seconds on a clock that never goes back and keeps counting while the machine sleeps (a suspended
    laptop or VM must find its lease gone on waking): CLOCK_BOOTTIME on Linux, GetTickCount64 on Windows
    (it counts sleep), time.monotonic elsewhere (macOS's counts sleep too)."""
    if sys.platform == "win32":
        return _tick_count() / 1000.0
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


def _tick_count() -> int:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    kernel32.GetTickCount64.restype = ctypes.c_ulonglong
    return int(kernel32.GetTickCount64())


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    user: str
    host: str
    pid: int
    token: str
    expires: datetime  # the holder's own estimate (its wall clock), for people; never compared by a taker
    seconds: int = LEASE_SECONDS  # the lease period this holder keeps to
    renewals: int = 0  # changes at every renewal: what a watching taker looks for

    @classmethod
    def me(cls, seconds: int = LEASE_SECONDS) -> LeaseHolder:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name on this platform: the host and pid still tell
            user = "unknown"
        return cls(
            user,
            socket.gethostname(),
            os.getpid(),
            secrets.token_hex(8),
            wall_now() + timedelta(seconds=seconds),
            seconds,
        )

    def renewed(self) -> LeaseHolder:
        return replace(self, expires=wall_now() + timedelta(seconds=self.seconds), renewals=self.renewals + 1)

    def to_json(self) -> str:
        data = asdict(self)
        data["expires"] = self.expires.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LeaseHolder | None:
        """The holder written by to_json(); None when the text is not one (then the lease is void)."""
        try:
            data = json.loads(text)
            return cls(
                str(data["user"]),
                str(data["host"]),
                int(data["pid"]),
                str(data["token"]),
                datetime.fromisoformat(data["expires"]),
                int(data.get("seconds", LEASE_SECONDS)),
                int(data.get("renewals", 0)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @property
    def version(self) -> tuple[str, int]:
        """What changes when the record is renewed or taken over."""
        return self.token, self.renewals

    def describe(self) -> str:
        return f"{self.user}@{self.host} pid {self.pid}"


class Verdict(enum.Enum):
    TAKE = "take"  # free, ours, forced, or a holder on this host whose process is gone
    WATCH = "watch"  # alive or dead: only watching it for a full period tells


def judge(current: LeaseHolder | None, me: LeaseHolder, force: bool = False) -> Verdict:
    """What `me` may do about a lease that `current` holds (None: nobody, or an unreadable record)."""
    if current is None or force or current.token == me.token:
        return Verdict.TAKE
    if current.host == me.host and not pid_alive(current.pid):
        return Verdict.TAKE
    return Verdict.WATCH


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (Windows through OpenProcess, else signal 0)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class Fence:
    """This run's right to write to its mailbox, on its own steady clock.

    Valid until sent_at + seconds - margin, where sent_at is when the last renewal the server acknowledged
    was sent (the server wrote it no earlier) and the margin covers the longest a request may take: a
    request sent before the fence passes is over before a taker that watched the record for a full period
    can act. Once passed or lost it stays so."""

    def __init__(self, seconds: float, margin: float, clock: Callable[[], float] | None = None) -> None:
        if seconds <= margin:
            raise ValueError(f"a lease of {seconds} s cannot cover a request margin of {margin} s")
        self.seconds = seconds
        self.margin = margin
        self.clock = clock or (lambda: steady())  # looked up at each call: tests replace the module's clock
        self._until = float("-inf")
        self._lost: LeaseLost | None = None
        self._lock = threading.Lock()

    @property
    def window(self) -> float:
        """How long one acknowledged renewal lets the run write."""
        return self.seconds - self.margin

    def acknowledged(self, sent_at: float) -> None:
        """The server acknowledged a take or renewal sent at sent_at (this clock)."""
        with self._lock:
            if self._lost is None:
                self._until = max(self._until, sent_at + self.window)

    def lose(self, reason: str) -> None:
        """Another run took the lease over or broke it."""
        with self._lock:
            if self._lost is None:
                self._lost = LeaseLost(reason)

    def remaining(self) -> float:
        return self._until - self.clock()

    def _ended(self) -> LeaseLost | None:
        with self._lock:
            if self._lost is None and self._until == float("-inf"):
                return LeaseExpired("no lease renewal acknowledged yet")  # not latched: the take is under way
            if self._lost is None and self.clock() >= self._until:
                self._lost = LeaseExpired(
                    f"the lease could not be renewed within {self.window:.0f} s of its last "
                    f"renewal (another run may hold the mailbox now)"
                )
            return self._lost

    @property
    def lost(self) -> str | None:
        """Why the run may write no more, or None while it may."""
        ended = self._ended()
        return str(ended) if ended is not None else None

    def check(self) -> None:
        """Raise LeaseExpired (or LeaseLost) unless the run may still send a request."""
        ended = self._ended()
        if ended is not None:
            raise type(ended)(str(ended))


_bound = threading.local()


@contextmanager
def bound(fence: Fence | None) -> Iterator[None]:
    """Make `fence` the one check_fence() consults in this thread (each of a run's threads binds it)."""
    previous = getattr(_bound, "fence", None)
    _bound.fence = fence
    try:
        yield
    finally:
        _bound.fence = previous


def bind(fence: Fence | None) -> None:
    """Bind for the rest of this thread's life (a pool thread's initializer)."""
    _bound.fence = fence


def current_fence() -> Fence | None:
    return getattr(_bound, "fence", None)


def note_lease_write() -> None:
    """Called by a destination right before it sends the write that renews the lease (from the keeper's
    thread): the fence then counts from when the write that succeeded was sent, not from when the renewal
    began, so time spent in back-offs and retries before it is not lost from the lease's window."""
    fence = current_fence()
    if fence is not None:
        _bound.lease_sent = fence.clock()


def check_fence() -> None:
    """Called by every destination before it sends a request: raises once this thread's run may not write."""
    fence = getattr(_bound, "fence", None)
    if fence is not None:
        fence.check()


class LeaseKeeper:
    """Renews a held lease on a thread until stopped, well inside the fence's window (several tries fit in
    it, so throttling or a slow server does not end the run); the fence tells the run when to stop."""

    def __init__(
        self, renew: Callable[[LeaseHolder], None], holder: LeaseHolder, fence: Fence, every: float | None = None
    ) -> None:
        self._renew = renew
        self.holder = holder
        self.fence = fence
        self.every = every if every is not None else max(0.5, fence.window / 6)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    @property
    def lost(self) -> str | None:
        return self.fence.lost

    def _loop(self) -> None:
        bind(self.fence)  # a renewal is a request like any other: never sent once the fence has passed
        wait = self.every
        while not self._stop.wait(wait):
            if self.fence.lost:
                return
            sent_at = self.fence.clock()
            _bound.lease_sent = None
            try:
                holder = self.holder.renewed()
                self._renew(holder)
            except LeaseExpired:
                return
            except LeaseLost as exc:
                self.fence.lose(str(exc) or "the lease was taken over")
                return
            except Exception as exc:  # noqa: BLE001 - a failed renewal is tried again until the fence passes
                log.warning(
                    "lease renewal failed",
                    reason=f"{type(exc).__name__}: {exc}",
                    left_s=round(self.fence.remaining(), 1),
                )
                wait = min(self.every, max(0.2, self.fence.remaining() / 4))
                continue
            self.holder = holder
            noted = getattr(_bound, "lease_sent", None)  # when the write that succeeded was sent
            self.fence.acknowledged(noted if noted is not None and noted >= sent_at else sent_at)
            wait = self.every

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
