"""How a mailbox's run ended: one typed status for the summary, the journal, the reports and the exit code.

The values are the strings the JSON report, the journal's `runs.status` and `rebuild status` have always
shown (a StrEnum compares equal to them), so machines reading older reports read these the same way.
A run is RUNNING until it reaches its end; only a run that reached its end is OK.
"""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    RUNNING = "running"  # not ended (yet): never the status of a summary that was handed back
    OK = "ok"  # reached its end, every item on the server
    FAILED_ITEMS = "failed-items"  # reached its end, some items failed (listed in the report)
    USABLE = "usable"  # a site's first round reached its end: phases 1-4 done, the rest in its second round
    DRY_RUN = "dry-run"
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: the batches in flight finished, the lease was released
    BUSY = "busy"  # another run holds the mailbox's lease; nothing was written
    LEASE_LOST = "lease-lost"  # stopped writing when its lease could have run out (exit 3, as busy)
    FATAL = "fatal"  # stopped for a known cause (credentials, no such mailbox, the source), in one line
    CRASHED = "crashed"  # stopped by an unexpected error (a full disk, a bug); the counts are those so far
    SUBMITTED = "submitted"  # --engine temporal without --wait: handed to the workers
    ALREADY_RUNNING = "already running"  # --engine temporal without --wait: its workflow was already running


#: Statuses that make the run's exit code 1 (besides failed items).
FAILED = frozenset({RunStatus.FATAL, RunStatus.INTERRUPTED, RunStatus.CRASHED, RunStatus.RUNNING})
#: Statuses that make it 3 when nothing worse happened: another run holds, or took, the mailbox.
HELD_ELSEWHERE = frozenset({RunStatus.BUSY, RunStatus.LEASE_LOST})
