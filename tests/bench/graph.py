"""Graph vs EWS on the same sandbox: the same bulk OST rebuilt over each face into its own mailbox, with
the Graph face's documented budgets on (4 requests in flight per mailbox, 10,000 requests per 10 minutes,
150 MB per 5 minutes), and with simulated server latency as a second pair of figures.

`python -m tests.bench.graph [--items N] [--latency SECONDS]`; also `python -m tests.bench --only graph`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from tests.bench.common import PYTHON, Results, cli_env, rebuild_cmd, run_timed, sandbox
from tests.bench.data import built, bulk_spec
from tests.e2e.connection import graph_args, graph_env

CLIENT_ID, SECRET, TENANT = "bench-app", "bench-app-Secret", "bench"


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    measured = run_timed(cmd, env=env)
    if measured.returncode != 0:
        raise RuntimeError(f"run failed ({measured.returncode}): {measured.stderr[-1500:]}")
    return measured.wall, json.loads(measured.stdout)


def run(results: Results, work: Path, items: int, latency: float = 0.05) -> None:
    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore

    try:
        import httpx  # noqa: F401
        import msal  # noqa: F401
    except ImportError:
        results.note("graph bench skipped: the graph extra is not installed (pip install -e '.[graph]')")
        return
    work.mkdir(parents=True, exist_ok=True)
    ost = built(bulk_spec(items), label=f"bulk{items}")
    mailboxes = ["ews0@bench.local", "graph0@bench.local", "ews1@bench.local", "graph1@bench.local"]
    with sandbox(work, mailboxes) as handle:
        store = SandboxStore(handle.data_dir)
        add_app(store, CLIENT_ID, SECRET)
        store.close()
        handle.set_graph(
            {
                "concurrency": 4,
                "requests": 10_000,
                "request_window": 600,
                "upload_bytes": 150 * 1024 * 1024,
                "upload_window": 300,
            }
        )
        for round_, delay in enumerate((0.0, latency)):
            for state in (work / f"ews-state{round_}", work / f"graph-state{round_}"):
                shutil.rmtree(state, ignore_errors=True)  # a fresh journal: every item is uploaded
            handle.set_faults({"rules": [{"kind": "delay", "seconds": delay}]} if delay else {})
            ews_state, graph_state = work / f"ews-state{round_}", work / f"graph-state{round_}"
            ews_cmd = rebuild_cmd(handle, ews_state, "--ost", str(ost), "--mailbox", mailboxes[2 * round_], "--json")
            graph_cmd = [
                *[PYTHON, "-m", "pipeline", "run"],
                *graph_args(handle, graph_state, tenant=TENANT, client_id=CLIENT_ID),
                *["--log-level", "warning", "--ost", str(ost), "--mailbox", mailboxes[2 * round_ + 1], "--json"],
            ]
            ews_wall, ews = _run(ews_cmd, cli_env())
            graph_wall, graph = _run(graph_cmd, graph_env(SECRET))
            what = f"{items} items, server latency {delay * 1000:.0f} ms"
            results.add(
                "graph",
                f"upload over Graph, {what}",
                graph["uploaded"] / graph_wall,
                "items/s",
                "over EWS, same sandbox",
                ews["uploaded"] / ews_wall,
                note=f"Graph {graph_wall:.1f} s, EWS {ews_wall:.1f} s",
            )
        counters = handle.stats()["counters"]
        results.note(
            f"Graph face: {sum(v for k, v in counters.items() if k.startswith('graph:429'))} answers 429, "
            f"{counters.get('graph:batch', 0)} $batch requests, {counters.get('graph:imported', 0)} importMime"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.graph", description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="simulated server latency per request")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rebuild-bench-graph")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = Results()
    run(results, args.work, args.items, args.latency)
    print(results.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
