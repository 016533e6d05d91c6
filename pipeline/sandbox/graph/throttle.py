"""Graph's per-app, per-mailbox limits (Microsoft's Outlook service limits), each configurable:
requests per window, requests in flight, and bytes uploaded per window. Beyond any of them the face
answers 429 with Retry-After, as Exchange Online does ('MailboxConcurrency' for requests in flight).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields

from pipeline.sandbox.graph.wire import GraphError, GraphReply, error_reply


@dataclass(frozen=True, slots=True)
class GraphLimits:
    concurrency: int = 4  # requests in flight per app and mailbox
    requests: int = 10_000  # requests per window per app and mailbox
    request_window: float = 600.0
    upload_bytes: int = 150 * 1024 * 1024  # bytes uploaded per window per app and mailbox
    upload_window: float = 300.0
    batch_size: int = 20  # requests in one $batch
    page_max: int = 1000  # largest $top
    concurrency_retry_after: float = 1.0  # Retry-After answered to a MailboxConcurrency 429

    @classmethod
    def from_dict(cls, data: dict) -> GraphLimits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Graph limits: {', '.join(unknown)}")
        return cls(**data)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Throttled:
    reason: str  # MailboxConcurrency | ApplicationRequests | UploadBytes
    retry_after: float

    def reply(self) -> GraphReply:
        """The 429 Graph answers beyond this limit, with its Retry-After."""
        return error_reply(
            GraphError(
                429,
                "ApplicationThrottled",
                f"Application is over its {self.reason} limit.",
                [("Retry-After", str(int(self.retry_after)))],
            )
        )


@dataclass
class _Budget:
    in_flight: int = 0
    requests: deque = field(default_factory=deque)  # monotonic times
    uploads: deque = field(default_factory=deque)  # (monotonic time, bytes)


class Throttle:
    def __init__(self, limits: GraphLimits | None = None) -> None:
        self.limits = limits or GraphLimits()
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _Budget] = {}

    def configure(self, limits: GraphLimits) -> None:
        with self._lock:
            self.limits = limits
            self._budgets.clear()

    def enter(self, app: str, mailbox: str, upload: int = 0) -> Throttled | None:
        """Admit one request (None), or say why not; an admitted request must call leave()."""
        now = time.monotonic()
        limits = self.limits
        with self._lock:
            budget = self._budgets.setdefault((app, mailbox.lower()), _Budget())
            while budget.requests and budget.requests[0] <= now - limits.request_window:
                budget.requests.popleft()
            while budget.uploads and budget.uploads[0][0] <= now - limits.upload_window:
                budget.uploads.popleft()
            if budget.in_flight >= limits.concurrency:
                return Throttled("MailboxConcurrency", limits.concurrency_retry_after)
            if len(budget.requests) >= limits.requests:
                wait = budget.requests[0] + limits.request_window - now
                return Throttled("ApplicationRequests", max(1.0, math.ceil(wait)))
            if upload and sum(b for _, b in budget.uploads) + upload > limits.upload_bytes:
                oldest = budget.uploads[0][0] if budget.uploads else now
                return Throttled("UploadBytes", max(1.0, math.ceil(oldest + limits.upload_window - now)))
            budget.in_flight += 1
            budget.requests.append(now)
            if upload:
                budget.uploads.append((now, upload))
            return None

    def count(self, app: str, mailbox: str) -> Throttled | None:
        """A sub-request of a $batch: counts against the request budget, not the concurrency."""
        now = time.monotonic()
        with self._lock:
            budget = self._budgets.setdefault((app, mailbox.lower()), _Budget())
            while budget.requests and budget.requests[0] <= now - self.limits.request_window:
                budget.requests.popleft()
            if len(budget.requests) >= self.limits.requests:
                wait = budget.requests[0] + self.limits.request_window - now
                return Throttled("ApplicationRequests", max(1.0, math.ceil(wait)))
            budget.requests.append(now)
            return None

    def leave(self, app: str, mailbox: str) -> None:
        with self._lock:
            budget = self._budgets.get((app, mailbox.lower()))
            if budget is not None and budget.in_flight > 0:
                budget.in_flight -= 1
