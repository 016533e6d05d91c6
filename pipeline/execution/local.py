"""The local executor: mailboxes rebuilt on this machine, one at a time in a thread or several in processes.

Reading and converting are CPU-bound Python, so parallel mailboxes run in worker processes (threads were
measured at x1.2 at most). Ctrl-C and SIGTERM (pipeline/processes/interrupts.py) let the batches in flight finish, then
say how to resume.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Any

import structlog

from pipeline.errors import StateError
from pipeline.execution.base import MailboxJob, Progress
from pipeline.processes.interrupts import children_ignore_sigint, ignore_stop_signals, stop_requested
from pipeline.rebuild.run import MailboxRun, Summary, crash_reason
from pipeline.rebuild.status import RunStatus
from pipeline.settings import Settings
from pipeline.state.journal import BUSY_TIMEOUT_MS, Journal

log = structlog.get_logger(__name__)


def rebuild_one(job: MailboxJob, settings: Settings, progress: Progress, should_stop: Callable[[], bool]) -> Summary:
    """One mailbox, start to end; a crash becomes that mailbox's summary (crashed, its counts so far: the run
    keeps them itself), never the run's."""
    from pipeline.destination import open_destination

    try:  # a foreign holder was ruled out when the executor was made: wait as long as for any write
        journal = Journal(settings.journal_path, lock_wait=BUSY_TIMEOUT_MS / 1000)
    except StateError as exc:  # another process took the lock since, or the disk filled up
        return Summary(job.mailbox, str(job.options.ost), status=RunStatus.FATAL, fatal=str(exc))
    with journal:
        try:
            destination = open_destination(job.endpoint, settings) if job.endpoint is not None else None
            summary = MailboxRun(job.options, settings, destination, journal, progress, should_stop).run()
        except Exception as exc:  # noqa: BLE001 - one mailbox's crash must not stop the others
            log.error("mailbox crashed", mailbox=job.mailbox, exc_info=True, file_only=True)
            summary = Summary(
                job.mailbox,
                str(job.options.ost),
                status=RunStatus.CRASHED,
                fatal=crash_reason(exc, settings.journal_path),
            )
    progress(
        "finished",
        {
            "mailbox": job.mailbox,
            "status": str(summary.status),
            "fatal": summary.fatal,
            "done": summary.uploaded + summary.present,
            "failed": summary.failed_total,
        },
    )
    return summary


def _share_connections(job: MailboxJob, processes: int) -> MailboxJob:
    """The job with its endpoint's connection budget divided among the processes that share the account."""
    budget = getattr(job.endpoint, "max_connections", None)
    if not isinstance(budget, int):
        return job
    return dataclasses.replace(
        job, endpoint=dataclasses.replace(job.endpoint, max_connections=max(1, budget // processes))
    )


# -- in a mailbox worker process --------------------------------------------------------------------------
_child: dict[str, Any] = {}


def _init_child(stop: Any, events: Any, settings: Settings) -> None:
    """Ctrl-C belongs to the parent, which tells the children through `stop`; logs go to the same file."""
    from pipeline import logs

    ignore_stop_signals()
    logs.configure(settings.log_dir, "error", max_bytes=settings.log_max_bytes, backups=settings.log_backups)
    _child.update(stop=stop, events=events)


def _child_rebuild(job: MailboxJob, settings: Settings) -> Summary:
    events = _child["events"]
    return rebuild_one(job, settings, lambda event, data: events.put((event, data)), _child["stop"].is_set)


class LocalExecutor:
    """Up to `mailbox_workers` mailboxes at a time on this machine."""

    def __init__(self, settings: Settings, mailbox_workers: int | None = None) -> None:
        self.settings = settings
        self.mailbox_workers = mailbox_workers or settings.mailbox_workers
        # a locked, damaged or unwritable journal stops everything here, in one line (StateError), before a
        # server is started or a lease taken; the schema and WAL mode are set up once, before any worker
        Journal(settings.journal_path).close()

    def submit(self, jobs: Sequence[MailboxJob], progress: Progress) -> list[Summary]:
        settings = self.settings
        if stop_requested():  # SIGTERM before any mailbox started: nothing to finish
            return [Summary(job.mailbox, str(job.options.ost), status=RunStatus.INTERRUPTED) for job in jobs]
        drain: Callable[[], None] | None = None
        if self.mailbox_workers <= 1 or len(jobs) <= 1:
            stop: Any = threading.Event()
            pool: Any = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbox")
            futures: dict[Future, MailboxJob] = {
                pool.submit(rebuild_one, job, settings, progress, stop.is_set): job for job in jobs
            }
        else:
            ctx = multiprocessing.get_context("spawn")
            stop, events = ctx.Event(), ctx.Queue()
            # Each mailbox process converts in-process: the parallelism is across mailboxes.
            child_settings = dataclasses.replace(settings, convert_processes=1)
            # The account's concurrent requests are shared out among the processes (EWSMaxConcurrency).
            jobs = [_share_connections(job, self.mailbox_workers) for job in jobs]
            pool = ProcessPoolExecutor(
                max_workers=self.mailbox_workers,
                mp_context=ctx,
                initializer=_init_child,
                initargs=(stop, events, child_settings),
            )
            with children_ignore_sigint():  # processes start here: a Ctrl-C while they import is the parent's
                futures = {pool.submit(_child_rebuild, job, child_settings): job for job in jobs}

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
                if stop_requested():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            stop.set()
            how = "SIGTERM" if stop_requested() else "Ctrl-C"
            print(
                f"\nrebuild: stopping: finishing the batches in flight ({how} again to abort at once)...",
                file=sys.stderr,
            )
            while wait(futures, timeout=0.2).not_done:
                if drain:
                    drain()
        pool.shutdown(wait=True, cancel_futures=True)
        if drain:
            drain()
        results: dict[str, Summary] = {}
        for future, job in futures.items():
            try:
                results[job.mailbox] = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker process that died takes only its mailbox
                results[job.mailbox] = Summary(
                    job.mailbox,
                    str(job.options.ost),
                    status=RunStatus.CRASHED,
                    fatal=f"worker process: {type(exc).__name__}: {exc}",
                )
        ordered = [
            results.get(job.mailbox) or Summary(job.mailbox, str(job.options.ost), status=RunStatus.INTERRUPTED)
            for job in jobs
        ]
        if stop.is_set() or stop_requested():
            print(
                "rebuild: interrupted; the journal is consistent. Run the same command again to resume.",
                file=sys.stderr,
            )
        return ordered
