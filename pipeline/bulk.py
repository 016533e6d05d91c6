"""Many mailboxes at once: the CSV mapping checked whole, then a worker pool across mailboxes.

One mailbox's failure never stops the others; Ctrl-C lets batches in flight finish, then says how to resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import queue
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import structlog

from pipeline.journal import Journal
from pipeline.mapping import MappingRow, load_mapping
from pipeline.report import render_table, write_reports
from pipeline.run import MailboxRun, RunOptions, Summary, parse_since
from pipeline.settings import Settings
from pipeline.sigint import children_ignore_sigint
from pipeline.target.connect import Target

log = structlog.get_logger(__name__)
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def _options(row: MappingRow, args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        ost=row.ost, mailbox=row.mailbox, target_root=row.target_root or getattr(args, "target_root", None),
        dry_run=getattr(args, "dry_run", False), only=row.only or tuple(getattr(args, "only", ()) or ()),
        exclude=row.exclude or tuple(getattr(args, "exclude", ()) or ()),
        since=parse_since(getattr(args, "since", None)), recover=getattr(args, "recover", False),
        include_sync_issues=getattr(args, "include_sync_issues", False))


def _row_target(target: Target | None, row: MappingRow) -> Target | None:
    """A row asking for impersonation acts for its mailbox as the service account."""
    if target is None or not row.impersonate or target.impersonate:
        return target
    return dataclasses.replace(target, impersonate=True)


def _rebuild_one(row: MappingRow, args: argparse.Namespace, settings: Settings, target: Target | None,
                 progress: Any, should_stop: Any) -> Summary:
    """One mailbox, start to end; a crash becomes that mailbox's fatal summary, never the run's."""
    with Journal(settings.journal_path) as journal:
        try:
            run = MailboxRun(_options(row, args), settings, _row_target(target, row), journal, progress, should_stop)
            return run.run()
        except Exception as exc:  # noqa: BLE001 - one mailbox's crash must not stop the others
            log.exception("mailbox crashed", mailbox=row.mailbox)
            return Summary(row.mailbox, str(row.ost), status="fatal", fatal=f"{type(exc).__name__}: {exc}")


# -- in a mailbox worker process --------------------------------------------------------------------------
_child: dict[str, Any] = {}


def _init_child(stop: Any, events: Any, settings: Settings) -> None:
    """Ctrl-C belongs to the parent, which tells the children through `stop`; logs go to the same file."""
    from pipeline import logs

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.configure(settings.log_dir, "error")
    _child.update(stop=stop, events=events)


def _child_rebuild(row: MappingRow, args: argparse.Namespace, settings: Settings, target: Target | None) -> Summary:
    events = _child["events"]
    return _rebuild_one(row, args, settings, target, lambda event, data: events.put((event, data)),
                        _child["stop"].is_set)


def run_rows(rows: list[MappingRow], args: argparse.Namespace, settings: Settings, target: Target | None,
             workers: int, progress: Any) -> list[Summary]:
    """Rebuild every row with up to `workers` mailboxes at a time; Ctrl-C stops cleanly.

    One mailbox runs in a thread of this process; several run in worker processes, because reading and
    converting are CPU-bound Python and threads would share one core (measured: x1.2 at most with threads).
    """
    if workers <= 1 or len(rows) <= 1:
        stop = threading.Event()
        pool: Any = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbox")
        futures = {pool.submit(_rebuild_one, row, args, settings, target, progress, stop.is_set): row
                   for row in rows}
        drain = None
    else:
        Journal(settings.journal_path).close()  # schema and WAL mode set up once, before the workers start
        ctx = multiprocessing.get_context("spawn")
        stop, events = ctx.Event(), ctx.Queue()
        # Each mailbox process converts in-process: the parallelism is across mailboxes.
        child_settings = dataclasses.replace(settings, convert_workers=1)
        if target is not None:  # the account's concurrent requests are shared out among the processes
            target = dataclasses.replace(target, max_connections=max(1, target.max_connections // workers))
        with children_ignore_sigint():  # the workers are spawned by the submits below
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_child,
                                       initargs=(stop, events, child_settings))
            futures = {pool.submit(_child_rebuild, row, args, child_settings, target): row for row in rows}

        def drain() -> None:
            while True:
                try:
                    event, data = events.get_nowait()
                except queue.Empty:
                    return
                progress(event, data)
    try:
        while wait(futures, timeout=0.2).not_done:
            if drain:
                drain()
    except KeyboardInterrupt:
        stop.set()
        print("\nrebuild: stopping: finishing the batches in flight (Ctrl-C again to abort at once)...",
              file=sys.stderr)
        while wait(futures, timeout=0.2).not_done:
            if drain:
                drain()
    pool.shutdown(wait=True, cancel_futures=True)
    if drain:
        drain()
    results: dict[str, Summary] = {}
    for future, row in futures.items():
        try:
            results[row.mailbox] = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker process that died takes only its mailbox
            results[row.mailbox] = Summary(row.mailbox, str(row.ost), status="fatal",
                                           fatal=f"worker process: {type(exc).__name__}: {exc}")
    ordered = [results.get(row.mailbox) or Summary(row.mailbox, str(row.ost), status="interrupted")
               for row in rows]
    if stop.is_set():
        print("rebuild: interrupted; the journal is consistent. Run the same command again to resume.",
              file=sys.stderr)
    return ordered


def checked_rows(path: Path, skip_invalid: bool) -> list[MappingRow]:
    """The mapping's rows, or UsageError after listing every error (unless skip_invalid keeps the good rows)."""
    from pipeline.errors import UsageError

    rows, errors = load_mapping(path)
    if not errors:
        return rows
    for error in errors:
        print(f"rebuild: {error.render(path)}", file=sys.stderr)
    if not skip_invalid or not rows:
        raise UsageError(f"{path}: {len(errors)} error(s); nothing was uploaded"
                         + ("" if skip_invalid else " (fix them, or --skip-invalid)"))
    print(f"rebuild: --skip-invalid: going on with the {len(rows)} valid row(s)", file=sys.stderr)
    return rows


def run_map(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.commands import target_for
    from pipeline.progress import make_progress

    rows = checked_rows(Path(args.map), getattr(args, "skip_invalid", False))
    workers = getattr(args, "workers", None) or settings.workers
    with make_progress(not args.json) as progress:
        if args.dry_run:
            summaries = run_rows(rows, args, settings, None, workers, progress)
        else:
            with target_for(settings, args, [r.mailbox for r in rows]) as target:
                summaries = run_rows(rows, args, settings, target, workers, progress)
    report_paths = write_reports(settings.state_dir / "reports", summaries)
    if args.json:
        json.dump([s.as_dict() for s in summaries], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(render_table(summaries))
        print(f"reports: {', '.join(str(p) for p in report_paths)}")
    bad = [s for s in summaries if s.status in ("fatal", "interrupted") or s.failed_total]
    return EXIT_FAILURES if bad else EXIT_OK


def verify_map(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.commands import target_for
    from pipeline.verify import render, verify_mailbox

    rows = checked_rows(Path(args.map), skip_invalid=False)
    results = []
    with target_for(settings, args, []) as target:
        for row in rows:
            results.append(verify_mailbox(_options(row, args), _row_target(target, row),
                                          getattr(args, "include_sync_issues", False)))
    if args.json:
        json.dump([r.as_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            print(render(result))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURES
