"""Runs stopped at random moments, one after another: the loop the kill, integrity and stop trials share.

Each run is started, given a moment drawn from the trial's seeded random source, and stopped then (SIGKILL,
SIGTERM, whatever the trial's `stop` does) unless it has ended by itself before; the trial reads each run's
end and counts the ones that make its fixed number of trials. Never a timed assertion: the moments only
decide where in its work a run is stopped.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


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
