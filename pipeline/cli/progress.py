"""Progress display: rich bars per mailbox and overall on a terminal, plain periodic lines otherwise.

Fed by MailboxRun's progress events from worker threads; only this module writes to the terminal live.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any


class PlainProgress:
    """One line per mailbox every `every` seconds, for logs and CI (output is not a terminal)."""

    def __init__(self, every: float = 10.0, stream: Any = None) -> None:
        self.every = every
        self.stream = stream or sys.stderr
        self._state: dict[str, dict[str, Any]] = {}
        self._last = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._print(force=True)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            entry = self._state.setdefault(data["mailbox"], {"total": 0, "done": 0, "bytes": 0,
                                                              "start": time.monotonic()})
            if event == "start":
                entry["total"] = data["total"]
            elif event == "items":
                entry.update(done=data["done"], bytes=data["bytes"], failed=data.get("failed", 0))
        self._print()

    def _print(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        with self._lock:
            for mailbox, entry in self._state.items():
                rate = entry["done"] / max(now - entry["start"], 1e-6)
                left = max(entry["total"] - entry["done"], 0)
                eta = f"{left / rate:.0f}s" if rate > 0 and left else "-"
                print(f"progress {mailbox}: {entry['done']}/{entry['total']} items, "
                      f"{entry['bytes'] / 1e6:.1f} MB, {rate:.1f} items/s, eta {eta}", file=self.stream)


class RichProgress:
    """rich progress bars: one per mailbox plus the overall total, with rate and ETA."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=False)
        self._tasks: dict[str, Any] = {}
        self._overall: Any = None  # rich's TaskID of the overall bar, once started
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()
        self._start = time.monotonic()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        self._overall = self._progress.add_task("all mailboxes", total=0, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            mailbox = data["mailbox"]
            if event == "start":
                self._tasks[mailbox] = self._progress.add_task(mailbox, total=data["total"], rate="")
                total = sum(t.total or 0 for t in self._progress.tasks if t.id != self._overall)
                self._progress.update(self._overall, total=total)
                return
            task = self._tasks.get(mailbox)
            if task is None or event != "items":
                return
            self._done[mailbox] = data["done"]
            elapsed = max(time.monotonic() - self._start, 1e-6)
            self._progress.update(task, completed=data["done"], rate=f"{data['done'] / elapsed:.0f} it/s")
            overall = sum(self._done.values())
            self._progress.update(self._overall, completed=overall, rate=f"{overall / elapsed:.0f} it/s")


def make_progress(enabled: bool = True) -> Any:
    if enabled and sys.stderr.isatty():
        return RichProgress()
    return PlainProgress()
