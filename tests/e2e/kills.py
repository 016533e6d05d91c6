"""Runs stopped at random moments, one after another: the loop the kill, integrity and stop trials share.

Each run is started, given a moment drawn from the trial's seeded random source, and stopped then (SIGKILL,
SIGTERM, whatever the trial's `stop` does) unless it has ended by itself before; the trial reads each run's
end and counts the ones that make its fixed number of trials. Never a timed assertion: the moments only
decide where in its work a run is stopped. A moment counts from the start, or from when the run first
stored an item (`when_it_stores`, read from the sandbox's own database): then the stop lands mid-upload
however slow the machine is to start a run.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

LEASE_FOLDER = "Mailbox rebuild lease"  # where a run keeps its lease (README): not an item of the mailbox


@dataclass(frozen=True)
class StoppedRun:
    """How one run of a trial ended."""

    signalled: bool  # it was still running at its moment, so it was stopped (else it had ended by itself)
    returncode: int
    out: str
    err: str
    began: float  # time.monotonic() when it was started


def stopped_runs(
    start: Callable[[], subprocess.Popen[str]],
    stop: Callable[[subprocess.Popen[str]], None],
    rng: random.Random,
    window: tuple[float, float],
    most: int,
    ready: Callable[[subprocess.Popen[str]], None] | None = None,
    timeout: float = 120,
) -> Iterator[StoppedRun]:
    """At most `most` runs, one after another, each stopped `rng.uniform(*window)` seconds after it started
    (after `ready(process)` returned, when given) unless it ended before; yields each one's end. The caller
    counts the runs that make a trial and stops iterating when it has its number."""
    for _ in range(most):
        began = time.monotonic()
        process = start()
        if ready is not None:
            ready(process)
        deadline = time.monotonic() + rng.uniform(*window)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        signalled = process.poll() is None
        if signalled:
            stop(process)
        out, err = process.communicate(timeout=timeout)
        yield StoppedRun(signalled, process.returncode, out or "", err or "", began)


def kill(process: subprocess.Popen[str]) -> None:
    """No clean-up at all: SIGKILL on POSIX, TerminateProcess on Windows."""
    process.kill()


def stored_items(data: Path, mailbox: str) -> int:
    """How many items the sandbox holds for the mailbox outside the lease folder (its database, read only)."""
    db = sqlite3.connect(f"{(data / 'sandbox.sqlite').as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM items i JOIN folders f ON f.id = i.folder_id JOIN mailboxes m ON m.id = i.mailbox_id"
            " WHERE m.address = ? AND f.name <> ?",
            (mailbox, LEASE_FOLDER),
        ).fetchone()
    finally:
        db.close()
    return int(count)


def when_it_stores(data: Path, mailbox: str, limit: float = 60) -> Callable[[subprocess.Popen[str]], None]:
    """A `ready` for `stopped_runs`: returns once the mailbox holds an item more than just after the run was
    started (a Python process stores nothing in its first 0.3 s), or the run has ended, or after `limit` s."""

    def ready(process: subprocess.Popen[str]) -> None:
        time.sleep(0.3)  # a request the previous run left in flight has landed by now; this run stores nothing so soon
        before = stored_items(data, mailbox)
        deadline = time.monotonic() + limit
        while process.poll() is None and time.monotonic() < deadline and stored_items(data, mailbox) <= before:
            time.sleep(0.05)

    return ready
