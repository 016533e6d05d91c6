"""Benchmark 5: 8 mailboxes through `rebuild --map users.csv --workers N` (N = 1, 2, 4, 8): the speed-up curve.

Each mailbox has its own fixture OST (different seeds); every N starts from a fresh sandbox and state.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from tests.bench.common import Results, cli_env, proc_cpu_seconds, rebuild_cmd, run_timed, sandbox
from tests.bench.data import built, bulk_spec

MAILBOXES = 8


def users_csv(folder: Path, items: int) -> tuple[Path, list[str]]:
    addresses = [f"user{i}@bench.example" for i in range(MAILBOXES)]
    mapping = folder / "users.csv"
    with mapping.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ost", "mailbox", "impersonate"])
        for i, address in enumerate(addresses):
            spec = bulk_spec(items, folders=5, seed=100 + i, name=f"User {i}")
            writer.writerow([str(built(spec, label=f"user{i}-{items}")), address, "yes"])
    return mapping, addresses


def run(results: Results, work: Path, items: int, workers: tuple[int, ...] = (1, 2, 4, 8)) -> None:
    print(f"\n== concurrency: {MAILBOXES} mailboxes of {items} items, --workers {workers}", flush=True)
    work = work / "concurrency"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    mapping, addresses = users_csv(work, items)
    base = 0.0
    for n in workers:
        folder = work / f"w{n}"
        with sandbox(folder, addresses) as handle:
            cpu0 = proc_cpu_seconds(handle.pid)
            measured = run_timed(
                rebuild_cmd(handle, folder / "state", "--map", str(mapping), "--workers", str(n)), env=cli_env()
            )
            sandbox_cpu = proc_cpu_seconds(handle.pid) - cpu0
        if measured.returncode != 0:
            results.note(f"--workers {n} failed (rc {measured.returncode}): {measured.stderr[-800:]}")
            continue
        base = base or measured.wall
        total = items * MAILBOXES
        results.add(
            "concurrency",
            f"--workers {n}: wall for {total} items",
            measured.wall,
            "s",
            "--workers 1",
            base,
            note=f"speed-up x{base / measured.wall:.2f}; {total / measured.wall:.0f} items/s; "
            f"client peak RSS {measured.peak_rss_mb:.0f} MB; sandbox CPU {sandbox_cpu:.0f}s",
        )
        shutil.rmtree(folder, ignore_errors=True)
