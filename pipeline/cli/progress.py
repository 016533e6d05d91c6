"""Progress display: rich bars per mailbox and overall on a terminal, plain periodic lines otherwise.

Fed by MailboxRun's progress events (pipeline/execution/base.py) from worker threads; only this module
writes to the terminal while a run goes, in words a person reads (log records go to the log file).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any


def counted(count: int, noun: str) -> str:
    """'1 item', '5 items'; a phrase with a parenthesis is made plural before it ('2 search folders (…)'),
    one already plural ('sync issues') is left as it is."""
    if count == 1:
        return f"{count} {noun}"
    head, paren, tail = noun.partition(" (")
    if not head.endswith("s"):
        head += "s"
    return f"{count} {head}{paren}{tail}"


def folder_line(data: dict[str, Any]) -> str:
    """What the run found in the folder it just entered, e.g. 'Inbox: 7 items, 3 already in the mailbox'."""
    items, present = int(data.get("items", 0)), int(data.get("present", 0))
    if not items:
        return f"{data['folder']}: empty"
    if present >= items:
        return f"{data['folder']}: {counted(items, 'item')}, all already in the mailbox"
    if present:
        return f"{data['folder']}: {counted(items, 'item')}, {present} already in the mailbox"
    return f"{data['folder']}: {counted(items, 'item')}"


class PlainProgress:
    """When the output is not a terminal (logs, CI): each folder as the run enters it (one mailbox), and one
    line per mailbox every `every` seconds."""

    def __init__(self, every: float = 10.0, stream: Any = None, per_folder: bool = True) -> None:
        self.every = every
        self.stream = stream or sys.stderr
        self.per_folder = per_folder
        self._state: dict[str, dict[str, Any]] = {}
        self._last = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._print(force=True)

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        from pipeline.logs.terminal import shown

        with self._lock:
            entry = self._state.setdefault(
                data["mailbox"], {"total": 0, "done": 0, "bytes": 0, "start": time.monotonic()}
            )
            if event == "start":
                if entry.get("started"):  # a site's second round of the mailbox (execution/rounds.py)
                    entry["total"] = data["total"]
                    return
                entry.update(total=data["total"], started=True)
                print(f"{shown(data['mailbox'])}: {counted(data['total'], 'item')} to read", file=self.stream)
                self._last = time.monotonic()
                return
            if event == "folder":
                if self.per_folder:
                    print(f"  {shown(folder_line(data))}", file=self.stream)
                return
            if event == "items":
                entry.update(done=data["done"], bytes=data["bytes"], failed=data.get("failed", 0))
        self._print()

    def _print(self, force: bool = False) -> None:
        from pipeline.logs.terminal import shown

        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        with self._lock:
            for mailbox, entry in self._state.items():
                rate = entry["done"] / max(now - entry["start"], 1e-6)
                left = max(entry["total"] - entry["done"], 0)
                eta = f", about {left / rate:.0f} s left" if rate > 0 and left else ""
                print(
                    f"{shown(mailbox)}: {entry['done']} of {counted(entry['total'], 'item')} done, "
                    f"{entry['bytes'] / 1e6:.1f} MB, {rate:.1f} items a second{eta}",
                    file=self.stream,
                )


class RichProgress:
    """rich progress bars: one per mailbox (named with the folder it is in) plus the overall total, with rate
    and time left."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            transient=False,
        )
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
        from rich.markup import escape

        from pipeline.logs.terminal import shown

        with self._lock:
            mailbox = data["mailbox"]
            if event == "start":
                if mailbox in self._tasks:  # a site's second round of the mailbox (execution/rounds.py)
                    self._progress.update(self._tasks[mailbox], total=data["total"])
                else:
                    self._tasks[mailbox] = self._progress.add_task(escape(shown(mailbox)), total=data["total"], rate="")
                total = sum(t.total or 0 for t in self._progress.tasks if t.id != self._overall)
                self._progress.update(self._overall, total=total)
                return
            task = self._tasks.get(mailbox)
            if task is None or event not in ("folder", "items"):
                return
            if event == "folder":
                where = shown(str(data["folder"]))
                where = where if len(where) <= 40 else "…" + where[-39:]  # the deepest part is the one to see
                self._progress.update(task, description=escape(f"{shown(mailbox)} · {where}"))
                return
            self._done[mailbox] = data["done"]
            elapsed = max(time.monotonic() - self._start, 1e-6)
            self._progress.update(task, completed=data["done"], rate=f"{data['done'] / elapsed:.0f} items/s")
            overall = sum(self._done.values())
            self._progress.update(self._overall, completed=overall, rate=f"{overall / elapsed:.0f} items/s")


def make_progress(enabled: bool = True, per_folder: bool = True) -> Any:
    if enabled and sys.stderr.isatty():
        return RichProgress()
    return PlainProgress(per_folder=per_folder)
