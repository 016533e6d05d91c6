"""What an executor runs: a MailboxJob (plain, picklable data), and the Protocol every executor satisfies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.rebuild.run import RunOptions, Summary

#: Progress events: (event, data): ("start", {"mailbox", "total"}), ("folder", {"mailbox", "folder", "items",
#: "present": already in the mailbox}) as the run enters a folder, ("items", {"mailbox", "done", "failed", "bytes"}),
#: ("finished", {"mailbox", "status", "fatal", "done", "failed"}) when a mailbox's run has ended (local executor).
Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class MailboxJob:
    """One mailbox to rebuild: what (options) and where to (endpoint: the destination's connection data,
    e.g. destination.ews.connect.Target; None for a dry run)."""

    options: RunOptions
    endpoint: Any = None

    @property
    def mailbox(self) -> str:
        return self.options.mailbox


class Executor(Protocol):
    def submit(self, jobs: Sequence[MailboxJob], progress: Progress) -> list[Summary]:
        """Run every job; a summary per job, in the jobs' order (one mailbox's failure never stops the others)."""
