"""Benchmark: usable first (issue 25). When can people work, against when is everything there.

- single: one mailbox of two years of mail (12 folders, a calendar with series, contacts) over the sandbox's
  Graph face with its upload budget scaled to Graph's shape (150 MB / 5 min -> 15 MB / 30 s, the same
  rate; quick mode 5 MB / 10 s) and its request budget to 10,000 per 60 s (20 s quick: 10 times Graph's
  rate, not what binds here), the client's pacing set alike. `--order usable-first` against `--order folders` (the
  baseline), each on a fresh sandbox: the time until every usable item is stored (phases 1-4: contacts,
  the calendar's series and last 30 days on, mail of the last 30 days) and the whole run.
- site: 8 mailboxes of different sizes over EWS, `--map --workers 2` (the baseline) against Temporal with
  2 `rebuild worker`s on a dev server (started before the clock, as on a site), alternating paired rounds
  on fresh sandboxes: the time until all 8 are usable, and the whole site; medians.

The times come from outside the runs: the sandbox store's own `touched` time of each item, from the
moment the command was started, and the command's wall time. Which item is usable is written in the
spec (its subject starts "R " or "P "; "O " is the rest). Prints figures, asserts nothing.
`python -m tests.bench --only usable [--quick]`, `--only usable-site`.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench.common import PYTHON, REPO, Results, cli_env, rebuild_cmd, run_timed, sandbox
from tests.bench.data import built
from tests.store_oracle import stored_times

NEWEST = datetime(2026, 6, 30, 9, 0)  # the newest item of every spec: the anchor of its "last 30 days"
DAY = 86400
CLIENT_ID, SECRET, TENANT = "bench-app", "bench-app-Secret", "bench"


def two_years(items: int, seed: int, name: str, mean_bytes: int = 12_000, people: int = 50) -> dict[str, Any]:
    """A store of `items` mails spread over two years in 12 folders (Inbox, Sent Items, 10 more), a calendar
    (single appointments old and recent, weekly series) and contacts (one per `people` mails, at least 3).
    Subjects: "R " usable, "O " the rest."""
    rng = random.Random(seed)
    words = "report budget meeting review project status update invoice schedule plan draft notes".split()
    folders: list[dict[str, Any]] = [
        {"name": "Inbox", "role": "inbox", "items": []},
        {"name": "Sent Items", "role": "sentitems", "items": []},
        *({"name": f"Projects {n:02d}", "items": []} for n in range(1, 11)),
    ]
    for n in range(items):
        when = NEWEST if n == 0 else NEWEST - timedelta(seconds=rng.uniform(0, 730 * DAY))
        recent = NEWEST - when <= timedelta(days=29)
        size = max(200, int(rng.expovariate(1 / mean_bytes)))
        text = " ".join(rng.choice(words) for _ in range(size // 7))
        folder = folders[0 if rng.random() < 0.4 else 1 if rng.random() < 0.2 else rng.randrange(2, 12)]
        folder["items"].append(
            {
                "kind": "mail",
                "subject": f"{'R' if recent else 'O'} {name} {n}",
                "body": text,
                "sender": f"sender{rng.randrange(200)}@example.com",
                "to": [f"{name}@example.com"],
                "sent": when.isoformat(),
                "received": (when + timedelta(seconds=30)).isoformat(),
            }
        )
    calendar = []
    for n in range(max(4, items // 100)):
        start = NEWEST - timedelta(days=rng.uniform(-60, 700))
        usable = start + timedelta(hours=1) >= NEWEST - timedelta(days=29)
        calendar.append(
            {
                "kind": "appointment",
                "subject": f"{'R' if usable else 'O'} {name} appointment {n}",
                "start": start.replace(microsecond=0).isoformat(),
                "end": (start + timedelta(hours=1)).replace(microsecond=0).isoformat(),
            }
        )
    for n in range(2 if items < 500 else 5):
        start = (NEWEST - timedelta(days=400 - 30 * n)).replace(hour=9, minute=0, second=0)
        calendar.append(
            {
                "kind": "appointment",
                "subject": f"R {name} series {n}",
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=30)).isoformat(),
                "recurrence": {"pattern": "weekly", "days": ["mo"], "count": 60},
            }
        )
    contacts = [{"kind": "contact", "subject": f"P {name} contact {n}"} for n in range(max(3, items // people))]
    folders += [
        {"name": "Calendar", "role": "calendar", "items": calendar},
        {"name": "Contacts", "role": "contacts", "items": contacts},
    ]
    return {"store": {"name": f"{name}'s mailbox", "seed": seed}, "folders": folders}


def _usable(subject: str | None) -> bool:
    return bool(subject) and subject.startswith(("R ", "P "))


def _moments(rows: list[tuple[str, str, float]], started: float) -> tuple[float, float]:
    """(seconds until every usable item was stored, until the last item was) after `started`."""
    ours = [(s, at) for _m, s, at in rows if s and s[:2] in ("R ", "P ", "O ")]
    usable = max(at for s, at in ours if _usable(s))
    return usable - started, max(at for _s, at in ours) - started


# -- single mailbox over Graph ---------------------------------------------------------------------------
def single(results: Results, work: Path, items: int, budget_mb: int, window: int) -> None:
    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore

    print(
        f"\n== usable: one mailbox, {items} mails over two years, Graph with {budget_mb} MB / {window} s, "
        "usable-first vs --order folders",
        flush=True,
    )
    try:
        import httpx  # noqa: F401
        import msal  # noqa: F401
    except ImportError:
        results.note("usable bench skipped: the graph extra is not installed (pip install -e '.[graph]')")
        return
    ost = built(two_years(items, 25, "pat"), label=f"usable{items}")
    mailbox = "pat@bench.local"
    env = {
        **cli_env(),
        "REBUILD_GRAPH_SECRET": SECRET,
        "REBUILD_GRAPH_UPLOAD_BUDGET_MB": str(budget_mb),
        "REBUILD_GRAPH_UPLOAD_WINDOW": str(window),
        "REBUILD_GRAPH_REQUESTS_PER_WINDOW": "10000",
        "REBUILD_GRAPH_REQUEST_WINDOW": str(2 * window),
    }
    figures: dict[str, tuple[float, float, float]] = {}
    for order in ("usable-first", "folders"):
        folder = work / "usable-single" / order
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with sandbox(folder, [mailbox]) as handle:
            store = SandboxStore(handle.data_dir)
            add_app(store, CLIENT_ID, SECRET)
            store.close()
            handle.set_graph(
                {
                    "upload_bytes": budget_mb * 1024 * 1024,
                    "upload_window": window,
                    "requests": 10_000,
                    "request_window": 2 * window,
                }
            )
            cmd = [PYTHON, "-m", "pipeline", "run", "--destination", "graph", "--graph-url", handle.graph_url]
            cmd += ["--tenant", TENANT, "--client-id", CLIENT_ID, "--state", str(folder / "state")]
            cmd += ["--log-level", "warning", "--ost", str(ost), "--mailbox", mailbox, "--order", order, "--json"]
            started = time.time()
            measured = run_timed(cmd, env=env)
            rows = stored_times(handle.data_dir)
            throttled = sum(v for k, v in handle.stats()["counters"].items() if k.startswith("graph:429"))
        if measured.returncode != 0:
            results.note(f"usable bench: {order} run failed (rc {measured.returncode}): {measured.stderr[-800:]}")
            return
        summary = json.loads(measured.stdout)
        summary = summary[0] if isinstance(summary, list) else summary
        usable_at, last = _moments(rows, started)
        figures[order] = (usable_at, measured.wall, last)
        print(
            f"  {order}: usable after {usable_at:.1f} s, last item {last:.1f} s, wall {measured.wall:.1f} s "
            f"({summary['uploaded']} uploaded, {throttled} answers 429; the run's own usable_after "
            f"{summary.get('usable_after')})",
            flush=True,
        )
    (u_usable, u_wall, _), (f_usable, f_wall, _) = figures["usable-first"], figures["folders"]
    results.add(
        "usable",
        f"usable-first: time to usable / whole run ({items} mails, {budget_mb} MB/{window} s)",
        u_usable / u_wall,
        "",
        "--order folders, same point",
        f_usable / f_wall,
        target="<= 0.10 (folders >= 0.60)",
        note=f"usable after {u_usable:.1f} s of {u_wall:.1f} s; folders: {f_usable:.1f} s of {f_wall:.1f} s",
    )
    results.add(
        "usable",
        "usable-first: whole run",
        u_wall,
        "s",
        "--order folders",
        f_wall,
        target="<= 1.05",
    )


# -- a site: local --map against Temporal -----------------------------------------------------------------
SITE_SIZES = (1, 2, 3, 4, 5, 6, 7, 8)  # mailbox i holds SITE_SIZES[i] x the base count


def _site_csv(work: Path, base: int) -> tuple[Path, list[str]]:
    addresses = [f"site{i}@bench.example" for i in range(len(SITE_SIZES))]
    mapping = work / "users.csv"
    with mapping.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ost", "mailbox", "impersonate"])
        for i, (address, size) in enumerate(zip(addresses, SITE_SIZES, strict=True)):
            spec = two_years(base * size, 300 + i, f"site{i}", mean_bytes=4000, people=100)
            writer.writerow([str(built(spec, label=f"usable-site{i}-{base * size}")), address, "yes"])
    return mapping, addresses


def site(results: Results, work: Path, base: int, rounds: int) -> None:
    from tests.bench.temporal_engine import _stop, _workers
    from tests.temporal_server import dev_server, temporal_missing

    print(
        f"\n== usable-site: 8 mailboxes of {base}-{base * SITE_SIZES[-1]} mails, --map --workers 2 vs Temporal "
        f"(2 workers), {rounds} paired rounds alternating",
        flush=True,
    )
    missing = temporal_missing()
    if missing:
        results.note(f"usable-site bench skipped: {missing}")
        return
    work = work / "usable-site"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    mapping, addresses = _site_csv(work, base)
    local: list[tuple[float, float]] = []
    engine: list[tuple[float, float]] = []
    with dev_server(work / "server") as server:
        for n in range(rounds):
            folder = work / f"round-{n}"
            folder.mkdir()
            # alternating which goes first, so a trend in the machine's load falls on both alike
            for which in ("local", "temporal") if n % 2 == 0 else ("temporal", "local"):
                # a task queue of the round's own: a poll the last round's stopped workers left on the server
                # may still take a task, which then waits out a heartbeat timeout (30 s) before its retry
                env = {**cli_env(), "REBUILD_TEMPORAL_TASK_QUEUE": f"bench-usable-{n}"}
                with sandbox(folder / which, addresses) as handle:
                    workers = _workers(server.address, folder / which, 2, env) if which == "temporal" else []
                    try:
                        if workers:
                            time.sleep(3)  # the workers start and poll before the clock starts, as on a site
                        args = ["--map", str(mapping)]
                        if workers:
                            args += ["--engine", "temporal", "--temporal", server.address, "--wait"]
                        else:
                            args += ["--workers", "2"]
                        started = time.time()
                        measured = run_timed(rebuild_cmd(handle, folder / which / "state", *args), env=env)
                        rows = stored_times(handle.data_dir)
                    finally:
                        _stop(workers)
                if measured.returncode != 0:
                    results.note(f"usable-site: {which} failed (rc {measured.returncode}): {measured.stderr[-800:]}")
                    return
                usable_at, _last = _moments(rows, started)
                (engine if workers else local).append((usable_at, measured.wall))
                print(f"  round {n + 1} {which}: all usable {usable_at:.1f} s, whole {measured.wall:.1f} s", flush=True)
    for name, series in (("--map --workers 2", local), ("Temporal, 2 workers", engine)):
        share = statistics.median(u / w for u, w in series)
        results.add(
            "usable-site",
            f"{name}: all 8 usable / whole site (median of {rounds})",
            share,
            "",
            target="<= 0.25",
            note="; ".join(f"{u:.1f}/{w:.1f} s" for u, w in series),
        )
    ratios = [e[1] / lo[1] for e, lo in zip(engine, local, strict=True)]
    results.add(
        "usable-site",
        f"Temporal whole site / --map --workers 2, median of {rounds} paired rounds",
        statistics.median(ratios),
        "x",
        target="<= 1.10",
        note=f"pairs {min(ratios):.2f}-{max(ratios):.2f}; whole site medians: Temporal "
        f"{statistics.median(w for _u, w in engine):.1f} s, local {statistics.median(w for _u, w in local):.1f} s; "
        f"load {os.getloadavg()[0]:.1f}",
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m tests.bench.usable", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("single", "site"))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rebuild-bench-usable")
    args = parser.parse_args(argv)
    results = Results()
    run(results, args.work, args.quick, args.only)
    print(results.table())
    return 0


def run(results: Results, work: Path, quick: bool, only: str | None = None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if only in (None, "single"):
        single(results, work, *((1500, 5, 10) if quick else (5000, 15, 30)))
    if only in (None, "site"):
        site(results, work, *((25, 3) if quick else (150, 5)))


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
