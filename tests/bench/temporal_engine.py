"""Benchmark 6: the Temporal engine's overhead. 8 mailboxes through `--map --workers 2` (local) against
`--map --engine temporal --wait` with 2 `rebuild worker` processes on a dev server (loopback), same OSTs.

The workers are started (and connected) before the clock starts, as they are on a site; the figure is
submit-to-last-summary wall time, best of alternating rounds (the machine is shared). Needs the
temporal extra; without it the bench prints a note.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.bench.common import (
    PYTHON,
    REPO,
    Results,
    cli_env,
    proc_cpu_seconds,
    rebuild_cmd,
    run_timed,
    sandbox,
)
from tests.bench.concurrency import users_csv


def _workers(address: str, folder: Path, count: int, env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "pipeline",
                "worker",
                "--temporal",
                address,
                "--state",
                str(folder / f"worker-{n}"),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **cli_env(), **(env or {})},
            stdout=(folder / f"worker-{n}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(count)
    ]


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run(results: Results, work: Path, items: int, rounds: int = 2) -> None:
    from tests.temporal_server import dev_server, temporal_missing

    print(
        f"\n== temporal: 8 mailboxes of {items} items, local --workers 2 vs Temporal with 2 workers, "
        f"{rounds} rounds alternating",
        flush=True,
    )
    missing = temporal_missing()
    if missing:
        results.note(f"temporal bench skipped: {missing}")
        return
    work = work / "temporal"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    mapping, addresses = users_csv(work, items)
    total = items * len(addresses)
    local_walls: list[float] = []
    engine_walls: list[float] = []
    engine_cpu: list[float] = []
    with dev_server(work / "server") as server:
        address = server.address
        for n in range(rounds):  # alternating, each on a fresh sandbox and fresh state dirs
            folder = work / f"round-{n}"
            folder.mkdir()
            with sandbox(folder / "local", addresses) as handle:
                local = run_timed(
                    rebuild_cmd(handle, folder / "local" / "state", "--map", str(mapping), "--workers", "2"),
                    env=cli_env(),
                )
            if local.returncode != 0:
                results.note(f"local run failed (rc {local.returncode}): {local.stderr[-800:]}")
                return
            local_walls.append(local.wall)
            with sandbox(folder / "engine", addresses) as handle:
                workers = _workers(address, folder, 2)
                try:
                    time.sleep(3)  # the workers start and poll before the clock starts, as on a site
                    cpu = [proc_cpu_seconds(p) for p in (server.pid, *(w.pid for w in workers))]
                    engine = run_timed(
                        rebuild_cmd(
                            handle,
                            folder / "submitter",
                            "--map",
                            str(mapping),
                            "--engine",
                            "temporal",
                            "--temporal",
                            address,
                            "--wait",
                        ),
                        env=cli_env(),
                    )
                    cpu = [
                        proc_cpu_seconds(p) - c
                        for p, c in zip((server.pid, *(w.pid for w in workers)), cpu, strict=True)
                    ]
                finally:
                    _stop(workers)
            if engine.returncode != 0:
                results.note(f"temporal run failed (rc {engine.returncode}): {engine.stderr[-800:]}")
                return
            engine_walls.append(engine.wall)
            engine_cpu.append(cpu[0] / max(sum(cpu[1:]), 1e-6))
            print(
                f"  round {n + 1}: local {local.wall:.1f} s, Temporal {engine.wall:.1f} s; CPU seconds: dev server "
                f"{cpu[0]:.1f}, workers {sum(cpu[1:]):.1f}",
                flush=True,
            )
    best_local, best_engine = min(local_walls), min(engine_walls)
    results.add(
        "temporal",
        f"8 mailboxes, {total} items, Temporal (2 workers), best of {rounds}",
        best_engine,
        "s",
        "local --workers 2",
        best_local,
        target="<= 1.10",
        note=f"{total / best_engine:.0f} items/s vs {total / best_local:.0f} items/s local; the server's CPU "
        f"is {min(engine_cpu):.0%} of the workers'",
    )
