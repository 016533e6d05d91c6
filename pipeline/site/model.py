"""The site page's data: a row per mailbox and a snapshot of them all, made from the journal (`rebuild status
--serve`) or from a run's own progress (live.py), plus the rate of items over time.
"""

from __future__ import annotations

import csv
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: What the "usable" column says when nothing tells (a Temporal mailbox without a heartbeat saying so yet).
USABLE_UNKNOWN = None
#: Rate samples kept (one a second at most: ten minutes of a live run, or the whole run thinned).
RATE_SAMPLES = 600


@dataclass
class MailboxRow:
    """One mailbox on the page."""

    mailbox: str
    state: str = "waiting"  # waiting, running, or how its run ended (ok, failed-items, fatal, crashed, ...)
    done: int = 0  # items on the server: uploaded or already present
    total: int | None = None  # items to do, when known
    failed: int = 0
    reason: str = ""  # why a mailbox stopped (a fatal or crashed run)
    failures_file: str | None = None  # the failures CSV naming its failed items, a name in reports/
    usable: bool | None = False  # its usable phases answered (pipeline/rebuild/order.py); None: unknown


@dataclass
class Snapshot:
    """Everything the page shows at one moment."""

    title: str
    rows: list[MailboxRow]
    rate: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, items a second)
    generated: str = ""
    finished: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "generated": self.generated or _now(),
            "finished": self.finished,
            "rows": [asdict(r) for r in self.rows],
            "rate": [list(p) for p in self.rate],
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class RateSeries:
    """Items a second over time, from running totals sampled at most once per `every` seconds."""

    def __init__(self, every: float = 1.0, clock: Any = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self.start = clock()
        self._last: tuple[float, int] | None = None
        self._points: deque[tuple[float, float]] = deque(maxlen=RATE_SAMPLES)
        self._lock = threading.Lock()

    def sample(self, done: int, force: bool = False) -> None:
        with self._lock:
            now = self.clock()
            if self._last is None:
                self._last = (now, done)
                return
            then, before = self._last
            if not force and now - then < self.every:
                return
            if now > then:
                self._points.append((round(now - self.start, 1), round(max(done - before, 0) / (now - then), 1)))
            self._last = (now, done)

    def points(self) -> list[tuple[float, float]]:
        with self._lock:
            return list(self._points)


def failure_files(reports: Path) -> dict[str, str]:
    """For each mailbox, the newest failures CSV in `reports` that names it (file name only)."""
    found: dict[str, str] = {}
    try:
        files = sorted(reports.glob("failed-*.csv"), reverse=True)  # the stamp sorts by time
    except OSError:
        return found
    for path in files:
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    found.setdefault(row.get("mailbox") or "", path.name)
        except (OSError, csv.Error, UnicodeDecodeError):
            continue
    return found


def rows_from_status(status: list[dict[str, Any]], failures: dict[str, str]) -> list[MailboxRow]:
    """The page's rows from `Journal.status()`: the last run's state and counts, the journal's items."""
    rows = []
    for entry in status:
        last = entry.get("last_run", {})
        items = entry.get("items", {})
        done = int(items.get("uploaded", 0)) + int(items.get("present", 0))
        state = str(last.get("status") or "waiting")
        total = last.get("found") if state != "running" else None
        rows.append(
            MailboxRow(
                mailbox=entry["mailbox"],
                state=state,
                done=done,
                total=int(total) if isinstance(total, int) else None,
                failed=int(items.get("failed", 0)),
                reason=str(last.get("fatal") or ""),
                failures_file=failures.get(entry["mailbox"]),
                usable=entry.get("usable_since") is not None,
            )
        )
    return rows


def rows_from_temporal(states: list[Any]) -> list[MailboxRow]:
    """The page's rows from Temporal's mailbox states (pipeline/execution/temporal.py: the workflows'
    heartbeats while they run, their summaries once closed); a failure's list is on its worker (the reason
    says which), so no file is linked."""
    rows = []
    for s in states:
        summary = s.summary
        state = str(summary.status) if summary is not None else str(s.state)
        reason = (summary.fatal if summary is not None and summary.fatal else "") or (
            f"attempt {s.attempt}, retrying: {s.retrying}" if s.retrying else ""
        )
        usable = (
            getattr(summary, "usable_after", None) is not None or str(state) == "ok"
            if summary is not None
            else (True if getattr(s, "usable_after", None) is not None else USABLE_UNKNOWN)
        )
        rows.append(
            MailboxRow(
                mailbox=s.mailbox,
                state=state,
                done=int(s.done),
                total=int(s.total) or None,
                failed=int(s.failed),
                reason=str(reason),
                usable=usable,
            )
        )
    return rows
