"""Probe: what one mailbox's round costs, and where. A local `--map --workers 1` run of the usable-site
bench's 8 mailboxes, every mailbox's round run in this thread under a profiler of its own (cProfile, wall
clock): each round's wall time, then the pipeline's own functions over all usable rounds by cumulative time.

`python -m tests.bench.round_cost [--span usable|rest] [--top N]` (builds the site's OSTs first if needed;
prints figures, asserts nothing). The numbers in tests/bench/README.md "Current figures" came from it.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import shutil
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from tests.bench.common import REPO, cli_env, rebuild_cmd, sandbox


class _InThisThread:
    """A ThreadPoolExecutor stand-in that runs each job at once in the caller's thread (so the profiler
    sees it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.round_cost", description=__doc__)
    parser.add_argument("--span", choices=("usable", "rest"), default="usable")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rebuild-round-cost")
    args = parser.parse_args(argv)
    import pipeline.execution.local as local
    from pipeline.cli.main import main as cli
    from tests.bench.usable import _site_csv

    os.environ.update(cli_env())
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    mapping, addresses = _site_csv(args.work, 150)
    rows = list(csv.DictReader(mapping.open(encoding="utf-8")))
    assert [r["mailbox"] for r in rows] == addresses
    profiles: dict[str, list[cProfile.Profile]] = {}
    times: list[tuple[str, str, float]] = []
    rebuild_one = local.rebuild_one

    def profiled(job: Any, *rest: Any, **kwargs: Any) -> Any:
        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        try:
            return rebuild_one(job, *rest, **kwargs)
        finally:
            profile.disable()
            times.append((job.mailbox, str(job.options.span), time.perf_counter() - began))
            profiles.setdefault(str(job.options.span), []).append(profile)

    local.ThreadPoolExecutor = _InThisThread  # type: ignore[misc,assignment]
    local.rebuild_one = profiled  # type: ignore[assignment]
    with sandbox(args.work, addresses) as handle:
        cmd = rebuild_cmd(handle, args.work / "state", "--map", str(mapping), "--workers", "1")
        began = time.perf_counter()
        code = cli(cmd[cmd.index("run") :])
        print(f"\nexit {code}, whole site in one thread {time.perf_counter() - began:.2f} s")
    for mailbox, span, seconds in times:
        print(f"  {mailbox:24s} {span:7s} {seconds:6.2f} s")
    chosen = profiles.get(args.span) or []
    if chosen:
        stats = pstats.Stats(chosen[0])
        for profile in chosen[1:]:
            stats.add(profile)
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats("cumulative").print_stats("pipeline/", args.top)
        print(f"\n== the pipeline's functions over every {args.span} round, by cumulative time\n{out.getvalue()}")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
