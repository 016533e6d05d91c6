"""The mailbox lease: one writer per mailbox, across state dirs and machines.

The lease is stored in the mailbox itself (each destination says where: EWS keeps it in a hidden folder
of the non-IPM root), so it holds whatever state dir or machine a second run starts from. It names its
holder (user, host, pid, a per-run token) and an expiry; the holder renews it while it runs. Another run
may take it over when it has expired, or when its holder ran on this host and is no longer alive (a
killed run's rerun starts at once); `--break-lease` takes it regardless.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

log = structlog.get_logger(__name__)

#: How long a lease lasts without renewal (a dead machine's lease frees itself after this), and how often
#: the holder renews it.
LEASE_SECONDS = 120
RENEW_EVERY = LEASE_SECONDS / 4


class LeaseLost(Exception):
    """The lease was taken over or broken while this run held it: the run must stop writing."""


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    user: str
    host: str
    pid: int
    token: str
    expires: datetime

    @classmethod
    def me(cls, seconds: int = LEASE_SECONDS) -> LeaseHolder:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name on this platform: the host and pid still tell
            user = "unknown"
        return cls(user, socket.gethostname(), os.getpid(), secrets.token_hex(8),
                   datetime.now(UTC) + timedelta(seconds=seconds))

    def renewed(self, seconds: int = LEASE_SECONDS) -> LeaseHolder:
        return replace(self, expires=datetime.now(UTC) + timedelta(seconds=seconds))

    def to_json(self) -> str:
        data = asdict(self)
        data["expires"] = self.expires.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LeaseHolder | None:
        """The holder written by to_json(); None when the text is not one (then the lease is void)."""
        try:
            data = json.loads(text)
            return cls(str(data["user"]), str(data["host"]), int(data["pid"]), str(data["token"]),
                       datetime.fromisoformat(data["expires"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"{self.user}@{self.host} pid {self.pid}"


def may_take(current: LeaseHolder | None, me: LeaseHolder, force: bool = False,
             now: datetime | None = None) -> bool:
    """Whether `me` may take a lease that `current` holds (None: nobody, or an unreadable record)."""
    if current is None or force or current.token == me.token:
        return True
    if current.expires <= (now or datetime.now(UTC)):
        return True
    return current.host == me.host and not pid_alive(current.pid)


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


class LeaseKeeper:
    """Renews a held lease on a thread until stopped; `lost` tells the run to stop writing."""

    def __init__(self, renew: Callable[[LeaseHolder], None], holder: LeaseHolder,
                 every: float = RENEW_EVERY) -> None:
        self._renew = renew
        self.holder = holder
        self.every = every
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                holder = self.holder.renewed()
                self._renew(holder)
                self.holder = holder
            except LeaseLost as exc:
                self.lost = str(exc) or "the lease was taken over"
                return
            except Exception as exc:  # noqa: BLE001 - a failed renewal is tried again; expiry ends it
                log.warning("lease renewal failed", reason=f"{type(exc).__name__}: {exc}")
                if datetime.now(UTC) >= self.holder.expires:
                    self.lost = "the lease expired: it could not be renewed"
                    return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
