"""Benchmarks 2 and 4: upload to a sandbox (pipeline beside plain exchangelib bulk_create), then rerun cost.

Both sides read and convert with the same functions and send the same EWS items in the same batches;
figures are given with read+convert counted on both sides and with it excluded on both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.bench.common import (
    PYTHON,
    SERVICE,
    Measured,
    Results,
    cli_env,
    mb,
    proc_cpu_seconds,
    rebuild_cmd,
    run_timed,
    sandbox,
)

SOURCE_SIDE = ("read", "convert")


def bench_json(measured: Measured) -> dict[str, Any]:
    for line in reversed(measured.stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise RuntimeError(f"no BENCH_JSON line (rc {measured.returncode}): {measured.stderr[-1500:]}")


def run_pipeline(
    handle: Any, state: Path, ost: Path, mailbox: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[Measured, dict[str, Any]]:
    cmd = rebuild_cmd(handle, state, "--ost", str(ost), "--mailbox", mailbox, *extra)
    cmd[1:3] = ["-m", "tests.bench.pipeline_run"]  # the same CLI, in-process with stage timers
    cmd.remove("run")
    measured = run_timed(cmd, env={**cli_env(), **(env or {})})
    return measured, bench_json(measured)


def _excluded(wall: float, buckets: dict[str, Any]) -> float:
    return wall - sum(buckets.get(k, 0.0) for k in SOURCE_SIDE)


def run(results: Results, ost: Path, work: Path, items: int, cprofile: Path | None = None) -> dict[str, Any]:
    print(f"\n== upload to the sandbox: {ost.name}, {items} items, {mb(ost):.0f} MB", flush=True)
    shutil.rmtree(work / "upload", ignore_errors=True)
    work = work / "upload"
    work.mkdir(parents=True)
    with sandbox(work / "plain", ["plain@bench.example"]) as handle:
        cpu0 = proc_cpu_seconds(handle.pid)
        plain = run_timed(
            [
                PYTHON,
                "-m",
                "tests.bench.plain_upload",
                "--ost",
                str(ost),
                "--server",
                handle.url,
                "--username",
                SERVICE,
                "--mailbox",
                "plain@bench.example",
            ],
            env=cli_env(),
        )
        plain_sandbox_cpu = proc_cpu_seconds(handle.pid) - cpu0
    plain_b = bench_json(plain)
    print(f"  plain exchangelib: {plain.wall:.1f}s, {plain_b}", flush=True)
    state = work / "state"
    with sandbox(work / "pipe", ["pipe@bench.example"]) as handle:
        cpu0 = proc_cpu_seconds(handle.pid)
        first, pipe_b = run_pipeline(handle, state, ost, "pipe@bench.example")
        pipe_sandbox_cpu = proc_cpu_seconds(handle.pid) - cpu0
        print(f"  pipeline: {first.wall:.1f}s rc {first.returncode}, {pipe_b}", flush=True)
        cpu0 = proc_cpu_seconds(handle.pid)
        again, again_b = run_pipeline(handle, state, ost, "pipe@bench.example")
        again_sandbox_cpu = proc_cpu_seconds(handle.pid) - cpu0
        print(f"  rerun: {again.wall:.1f}s rc {again.returncode}, {again_b}", flush=True)
        for path in state.glob("journal.sqlite*"):
            path.unlink()
        lost, lost_b = run_pipeline(handle, state, ost, "pipe@bench.example")
        print(f"  rerun without journal: {lost.wall:.1f}s rc {lost.returncode}, {lost_b}", flush=True)
    # Stage timers only add up when stages do not overlap: the read+convert-excluded figure comes from a run
    # with one request in flight (the default sends batches while the next ones are read and converted).
    with sandbox(work / "sequential", ["seq@bench.example"]) as handle:
        sequential, seq_b = run_pipeline(
            handle, work / "seq-state", ost, "seq@bench.example", env={"REBUILD_REQUESTS_IN_FLIGHT": "1"}
        )
    if cprofile:
        with sandbox(work / "prof", ["prof@bench.example"]) as prof_handle:
            run_pipeline(
                prof_handle,
                work / "prof-state",
                cprofile,
                "prof@bench.example",
                env={"BENCH_CPROFILE": str(work.parent / "profile-upload.pstats")},
            )
        print_profile(work.parent / "profile-upload.pstats")
    results.add(
        "upload",
        "wall, read+convert counted on both",
        first.wall,
        "s",
        "plain bulk_create",
        plain.wall,
        "<= 1.15",
        note=f"{items / first.wall:.0f} vs {items / plain.wall:.0f} items/s",
    )
    results.add(
        "upload",
        "wall, read+convert counted, one request in flight",
        sequential.wall,
        "s",
        "plain bulk_create",
        plain.wall,
        "<= 1.15",
    )
    results.add(
        "upload",
        "wall, read+convert excluded on both (one request in flight)",
        _excluded(sequential.wall, seq_b),
        "s",
        "plain bulk_create",
        _excluded(plain.wall, plain_b),
        "<= 1.15",
    )
    for key in sorted((set(pipe_b) | set(plain_b)) - {"code", "wall_inside", "uploaded"}):
        results.add(
            "upload",
            f"stage: {key}",
            float(pipe_b.get(key, 0.0)),
            "s",
            "plain bulk_create",
            float(plain_b.get(key, 0.0)) or None,
        )
    for label, measured, data in (("pipeline", first, pipe_b), ("plain", plain, plain_b)):
        accounted = sum(v for k, v in data.items() if k not in ("code", "wall_inside", "uploaded"))
        results.add(
            "upload",
            f"stage: unaccounted ({label}: start-up, imports, logging, account)",
            measured.wall - accounted,
            "s",
        )
    results.add(
        "upload",
        "sandbox CPU seconds during the run",
        pipe_sandbox_cpu,
        "s",
        "plain bulk_create",
        plain_sandbox_cpu,
        note=f"sandbox busy {100 * pipe_sandbox_cpu / first.wall:.0f}% of the "
        f"pipeline's wall (client is the bottleneck when well below 100%)",
    )
    results.add("upload", "client peak RSS", first.peak_rss_mb, "MB", "plain bulk_create", plain.peak_rss_mb)
    results.add(
        "rerun",
        f"second run on the completed {items}-item mailbox",
        again.wall,
        "s",
        "first run",
        first.wall,
        "< 0.05",
        note=f"sandbox CPU {again_sandbox_cpu:.1f}s; {again_b}",
    )
    results.add(
        "rerun",
        "rerun without the journal (server read-back)",
        lost.wall,
        "s",
        "first run",
        first.wall,
        note="informational: reads and fingerprints every item, converts none",
    )
    return {"first": first.wall, "pipeline": pipe_b, "plain": plain_b}


def print_profile(path: Path, top: int = 30) -> None:
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(path), stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    path.with_suffix(".txt").write_text(text, encoding="utf-8")
    print(f"  cProfile of the pipeline run written to {path.with_suffix('.txt')}", flush=True)
