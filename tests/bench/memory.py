"""Benchmark 3: peak RSS of the rebuild process (and of the sandbox) on fixture OSTs of growing size.

Items of 0.5-1.5 MB, 25 per folder so upload batches reach their byte bound; flat: ratio to the smallest ~1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.bench.common import (
    Results,
    cli_env,
    mb,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    rebuild_cmd,
    run_timed,
    sandbox,
)
from tests.bench.data import built, bulk_spec

AVERAGE_ITEM = 1_000_000  # bytes on disk per item, 0.5-1.5 MB


def run(results: Results, work: Path, sizes_mb: tuple[int, ...]) -> None:
    print(f"\n== memory: rebuild of OSTs of {', '.join(f'{s} MB' for s in sizes_mb)}", flush=True)
    first_peak = 0.0
    first_size = 0.0
    for size in sizes_mb:
        items = max(10, size * 1_000_000 // AVERAGE_ITEM)
        spec = bulk_spec(
            items,
            AVERAGE_ITEM // 2,
            AVERAGE_ITEM * 3 // 2,
            folders=max(1, items // 25),
            seed=size,
            name=f"Memory {size}",
        )
        ost = built(spec, label=f"memory{size}mb")
        folder = work / f"memory-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with sandbox(folder, ["mem@bench.example"]) as handle:
            cpu0 = proc_cpu_seconds(handle.pid)
            measured = run_timed(
                rebuild_cmd(handle, folder / "state", "--ost", str(ost), "--mailbox", "mem@bench.example"),
                env=cli_env(),
            )
            sandbox_cpu = proc_cpu_seconds(handle.pid) - cpu0
            sandbox_rss = proc_peak_rss_mb(handle.pid)
        if measured.returncode != 0:
            results.note(f"memory run on {ost.name} failed: {measured.stderr[-800:]}")
            continue
        first_peak = first_peak or measured.peak_rss_mb
        first_size = first_size or mb(ost)
        results.add(
            "memory",
            f"peak RSS of rebuild, {mb(ost):.0f} MB OST ({items} items)",
            measured.peak_rss_mb,
            "MB",
            f"same at {first_size:.0f} MB",
            first_peak,
            "< 300 MB, flat",
            note=f"file x{mb(ost) / first_size:.1f}; wall {measured.wall:.0f}s; sandbox CPU "
            f"{sandbox_cpu:.0f}s ({100 * sandbox_cpu / measured.wall:.0f}% of wall), "
            f"sandbox peak RSS {sandbox_rss:.0f} MB",
        )
        shutil.rmtree(folder, ignore_errors=True)
