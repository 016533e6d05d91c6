"""The kill loop the SIGKILL trials share: start a run, let it go a random while, kill it if it is still
running; until a given number of runs were killed (or a bound of runs were started)."""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable


def kill_runs(
    start: Callable[[], subprocess.Popen],
    kills: int,
    window: tuple[float, float],
    rng: random.Random,
    max_runs: int | None = None,
) -> int:
    """Runs started one after another, each killed (Popen.kill: SIGKILL, TerminateProcess on Windows) at a
    moment drawn from `window` seconds unless it ended first; returns how many were killed."""
    killed = 0
    for _run in range(max_runs if max_runs is not None else 2 * kills):
        if killed == kills:
            break
        process = start()
        deadline = time.monotonic() + rng.uniform(*window)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
            killed += 1
        process.communicate(timeout=120)
    return killed
