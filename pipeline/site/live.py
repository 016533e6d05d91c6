"""A run's own progress as site-page rows: fed the same events as the console (pipeline/execution/base.py),
and the summaries and report files at the end.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pipeline.site.model import MailboxRow, RateSeries, Snapshot


class LiveSite:
    """The rows of a `--map` run as it goes: every mailbox waiting at first, then running with its counts,
    then as its summary says (with the reason of a mailbox that stopped)."""

    def __init__(self, title: str, mailboxes: list[str]) -> None:
        self.title = title
        self._rows = {m: MailboxRow(m) for m in mailboxes}
        self._lock = threading.Lock()
        self.rate = RateSeries()
        self._finished = False

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            row = self._rows.setdefault(data["mailbox"], MailboxRow(data["mailbox"]))
            if event == "start":
                row.state, row.total = "running", int(data["total"])
            elif event == "items":
                row.done, row.failed = int(data["done"]), int(data.get("failed", 0))
            elif event == "usable":
                row.usable = True
            elif event == "finished":
                row.state, row.reason = str(data["status"]), str(data.get("fatal") or "")
                row.done, row.failed = int(data.get("done", row.done)), int(data.get("failed", row.failed))
            done = sum(r.done for r in self._rows.values())
        self.rate.sample(done)

    def finish(self, summaries: list[Any], reports: list[Path]) -> None:
        """The final rows, from the summaries the run ends with and the failures CSV it wrote."""
        failures = next((p.name for p in reports if p.name.startswith("failed-")), None)
        with self._lock:
            for s in summaries:
                row = self._rows.setdefault(s.mailbox, MailboxRow(s.mailbox))
                row.state, row.reason = str(s.status), str(s.fatal or "")
                row.done, row.failed = s.uploaded + s.present, s.failed_total
                row.total = max(row.total or 0, s.found)
                row.failures_file = failures if (s.failed_total or s.fatal) else None
                row.usable = row.usable or s.usable_after is not None or str(s.status) == "ok"
            self._finished = True
            done = sum(r.done for r in self._rows.values())
        self.rate.sample(done, force=True)

    def snapshot(self) -> Snapshot:
        with self._lock:
            rows = [MailboxRow(**vars(r)) for r in self._rows.values()]
            finished = self._finished
        return Snapshot(self.title, rows, self.rate.points(), finished=finished)


def tee(*sinks: Any) -> Any:
    """One progress callable feeding several (the console and the site page)."""

    def both(event: str, data: dict[str, Any]) -> None:
        for sink in sinks:
            sink(event, data)

    return both
