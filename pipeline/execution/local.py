"""The local executor: mailboxes rebuilt on this machine, one at a time in a thread or several in processes.

Reading and converting are CPU-bound Python, so parallel mailboxes run in worker processes (threads were
measured at x1.2 at most). Several mailboxes in usable-first order run in two rounds (rounds.py): every
mailbox's first round is done before any second one starts. Ctrl-C and SIGTERM
(pipeline/processes/interrupts.py) let the batches in flight finish, then say how to resume.
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
from pipeline.execution import rounds
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
    if rounds.goes_on(job, summary):
        return summary  # its second round says when the mailbox is finished
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
        two = rounds.in_rounds(jobs, settings)
        first_jobs = [rounds.first_round(job) for job in jobs] if two else list(jobs)
        with _Pool(self.mailbox_workers, len(jobs), settings, progress) as pool:
            first = pool.run(first_jobs)
            results = first
            if two and not pool.stopped():
                later = {job.mailbox: rounds.second_round(job, first[job.mailbox]) for job in first_jobs}
                second = pool.run([job for job in later.values() if job is not None])
                results = {
                    mailbox: rounds.merged(summary, second[mailbox]) if mailbox in second else summary
                    for mailbox, summary in first.items()
                }
            stopped = pool.stopped()
        ordered = [
            _ended(results.get(job.mailbox), job, stopped)
            or Summary(job.mailbox, str(job.options.ost), status=RunStatus.INTERRUPTED)
            for job in first_jobs
        ]
        if stopped:
            print(
                "rebuild: interrupted; the journal is consistent. Run the same command again to resume.",
                file=sys.stderr,
            )
        return ordered


def _ended(summary: Summary | None, job: MailboxJob, stopped: bool) -> Summary | None:
    """A mailbox's final summary: a first round that would have gone on, but the run was stopped, is interrupted."""
    if summary is not None and stopped and rounds.goes_on(job, summary):
        summary.status = RunStatus.INTERRUPTED
    return summary


class _Pool:
    """The mailbox workers of one submit: a thread for one at a time, else spawned processes; `run` runs a
    wave of jobs to its end (a stop lets the batches in flight finish) and hands back a summary per mailbox."""

    def __init__(self, workers: int, jobs: int, settings: Settings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self.processes = workers > 1 and jobs > 1
        self.workers = workers
        self._drain: Callable[[], None] | None = None
        if not self.processes:
            self.stop: Any = threading.Event()
            self.pool: Any = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbox")
            return
        ctx = multiprocessing.get_context("spawn")
        self.stop, events = ctx.Event(), ctx.Queue()
        # Each mailbox process converts in-process: the parallelism is across mailboxes.
        self.child_settings = dataclasses.replace(settings, convert_processes=1)
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_child,
            initargs=(self.stop, events, self.child_settings),
        )

        def drain() -> None:
            while True:
                try:
                    event, data = events.get_nowait()
                except queue.Empty:
                    return
                progress(event, data)

        self._drain = drain

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._drain:
            self._drain()

    def stopped(self) -> bool:
        return self.stop.is_set() or stop_requested()

    def run(self, jobs: Sequence[MailboxJob]) -> dict[str, Summary]:
        if not jobs:
            return {}
        if self.processes:
            # The account's concurrent requests are shared out among the processes (EWSMaxConcurrency).
            shared = [_share_connections(job, self.workers) for job in jobs]
            with children_ignore_sigint():  # processes start here: a Ctrl-C while they import is the parent's
                futures: dict[Future, MailboxJob] = {
                    self.pool.submit(_child_rebuild, job, self.child_settings): job for job in shared
                }
        else:
            futures = {
                self.pool.submit(rebuild_one, job, self.settings, self.progress, self.stop.is_set): job for job in jobs
            }
        drain = self._drain
        try:
            while wait(futures, timeout=0.2).not_done:
                if drain:
                    drain()
                if stop_requested():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            self.stop.set()
            how = "SIGTERM" if stop_requested() else "Ctrl-C"
            print(
                f"\nrebuild: stopping: finishing the batches in flight ({how} again to abort at once)...",
                file=sys.stderr,
            )
            while wait(futures, timeout=0.2).not_done:
                if drain:
                    drain()
        if drain:
            drain()
        results: dict[str, Summary] = {}
        for future, job in futures.items():
            if future.cancelled():
                continue
            try:
                results[job.mailbox] = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker process that died takes only its mailbox
                results[job.mailbox] = Summary(
                    job.mailbox,
                    str(job.options.ost),
                    status=RunStatus.CRASHED,
                    fatal=f"worker process: {type(exc).__name__}: {exc}",
                )
        return results
