"""`rebuild worker`: a Temporal worker on a machine that can read the OSTs, with its own state dir.

It runs the mailbox workflows and their activities: `plan_mailbox` (the store's folders and item counts)
and `rebuild_mailbox`, one MailboxRun per part of a mailbox (the same code as the local executor, in a
thread of this process; a site's usable round plans the mailbox too), heartbeating its progress (items
done/total, failures, this worker's identity). Correctness never rests on this worker's journal: the
mailbox lease and the identities stamped on the server decide what is done, so another worker resumes a
killed one's mailbox exactly. Ctrl-C (or SIGTERM) lets the batches in flight finish, then the mailbox is
handed back to Temporal for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import Worker

from pipeline.execution.base import MailboxJob
from pipeline.execution.local import rebuild_one
from pipeline.execution.temporal_workflow import (
    ACTIVITY,
    BUSY,
    DEFAULT_HEARTBEAT_SECONDS,
    DEFAULT_PART_ITEMS,
    FATAL,
    INTERRUPTED,
    NOT_HERE,
    PLAN_ACTIVITY,
    MailboxWorkflow,
    SiteGateWorkflow,
    SlotWorkflow,
)
from pipeline.execution.wire import job_from_wire
from pipeline.rebuild.order import years_of
from pipeline.rebuild.run import Summary
from pipeline.rebuild.status import RunStatus
from pipeline.settings import Settings
from pipeline.source import SourceOpenError, open_source
from pipeline.state.journal import Journal
from pipeline.state.reports import write_reports

log = structlog.get_logger(__name__)

#: Progress reaches the server at least this often (for `status` and `--wait`); the SDK sends the latest
#: details at most every HEARTBEAT_THROTTLE seconds.
HEARTBEAT_EVERY, HEARTBEAT_THROTTLE = 2.0, 5.0
#: Failed items a part's result carries (Temporal keeps results in its history, whose payloads are
#: limited to a few MB); past it the whole list is in this worker's own reports.
FAILURES_SENT = 1000


@contextlib.contextmanager
def heartbeating(details: Callable[[], dict[str, Any]], heartbeat_seconds: float) -> Iterator[None]:
    """Heartbeats details() from a thread of its own while the block runs (the block may sit in one long
    C call, e.g. libpff opening a big OST), in the activity's context."""
    stop = threading.Event()
    context = contextvars.copy_context()  # the activity's context, for heartbeats from another thread

    def beat() -> None:
        while True:
            context.run(activity.heartbeat, details())
            if stop.wait(min(max(heartbeat_seconds / 4, 0.5), HEARTBEAT_EVERY)):
                return

    beater = threading.Thread(target=beat, name="heartbeat", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join(timeout=5)


def worker_identity() -> str:
    """pid@host, as Temporal shows it (and as `rebuild status` prints it)."""
    return f"{os.getpid()}@{socket.gethostname()}"


class MailboxActivities:
    """The activities, bound to this worker's settings and path map."""

    def __init__(self, settings: Settings, path_map: list[tuple[str, str]], identity: str) -> None:
        self.settings = settings
        self.path_map = path_map
        self.identity = identity

    def _here(self, job: MailboxJob) -> None:
        for path in job.options.files:  # (every file of a mailbox's set)
            if not path.is_file():  # another worker may see it (its share, its --path-map)
                raise ApplicationError(f"{path}: no such file on worker {self.identity} (--path-map?)", type=NOT_HERE)

    @activity.defn(name=PLAN_ACTIVITY)
    def plan_mailbox(self, data: dict[str, Any]) -> dict[str, Any]:
        """Every folder of the store in its order ({"node_id", "items"}), and the items a run would take."""
        job = job_from_wire(data, self.path_map)
        self._here(job)
        heartbeat = float(data.get("heartbeat_seconds") or DEFAULT_HEARTBEAT_SECONDS)
        with heartbeating(lambda: {"mailbox": job.mailbox, "worker": self.identity, "planning": True}, heartbeat):
            return self._plan(job, int(data.get("part_items") or DEFAULT_PART_ITEMS))

    def _plan(self, job: MailboxJob, part_items: int) -> dict[str, Any]:
        """plan_mailbox's answer (also the usable round's "plan" in a site: the workflow's first activity)."""
        planned, total = [], 0
        try:
            for path in job.options.files:  # a set: every file's folders (execution/set_parts.py)
                with open_source(path, recover=job.options.recover) as source:
                    folders = source.folders()
                    selection = job.options.selection.bind(folders)
                    years = {  # one file's big folder is split by year (parts.split_parts): its items per year
                        f.node_id: years_of(f, source.timeline(f))
                        for f in folders
                        if not job.options.merging and f.item_count > part_items and not selection.folder_skip(f)
                    }
                planned.append(
                    [
                        {
                            "node_id": f.node_id,
                            "items": f.item_count,
                            "years": {str(y): n for y, n in years.get(f.node_id, {}).items()},
                        }
                        for f in folders
                    ]
                )
                total += sum(f.item_count for f in folders if not selection.folder_skip(f))
        except SourceOpenError as exc:
            summary = Summary(job.mailbox, str(job.options.ost), status=RunStatus.FATAL, fatal=str(exc))
            raise ApplicationError(
                str(exc), {**summary.as_dict(), "worker": self.identity}, type=FATAL, non_retryable=True
            ) from None
        if job.options.merging:  # a set: one workflow, its parts across the files (total: copies, not items)
            return {"files": planned, "total": total}
        return {"folders": planned[0], "total": total}

    @activity.defn(name=ACTIVITY)
    def rebuild_mailbox(self, data: dict[str, Any]) -> dict[str, Any]:
        job = job_from_wire(data, self.path_map)
        info = activity.info()
        self._here(job)
        part = data.get("part") or {}
        before = int(part.get("before") or 0)  # items done by the mailbox's earlier parts
        state: dict[str, Any] = {
            "mailbox": job.mailbox,
            "done": before,
            "total": int(part.get("total") or 0),
            "failed": 0,
            "bytes": 0,
            "worker": self.identity,
            "attempt": info.attempt,
            "part": int(part.get("index") or 0) + 1,
            "parts": int(part.get("count") or 1),
        }
        lock = threading.Lock()

        def progress(event: str, values: dict[str, Any]) -> None:
            with lock:
                if event == "start":
                    state["total"] = state["total"] or values["total"]
                elif event == "usable":
                    state["usable_after"] = values["after"]
                elif event == "items":  # ("folder": which folder the run is in, for a console)
                    state.update(
                        done=before + values["done"], failed=values.get("failed", 0), bytes=values.get("bytes", 0)
                    )

        def should_stop() -> bool:
            return activity.is_cancelled() or activity.is_worker_shutdown()

        def details() -> dict[str, Any]:
            with lock:
                return dict(state)

        heartbeat = float(data.get("heartbeat_seconds") or DEFAULT_HEARTBEAT_SECONDS)
        log.info(
            "mailbox part taken", mailbox=job.mailbox, part=state["part"], attempt=info.attempt, worker=self.identity
        )
        plan: dict[str, Any] | None = None
        with heartbeating(details, heartbeat):
            if data.get("plan"):  # a site's usable round plans its mailbox too (one activity, not two)
                plan = self._plan(job, int(data.get("part_items") or DEFAULT_PART_ITEMS))
                with lock:
                    state["total"] = state["total"] or plan["total"]
            summary = rebuild_one(job, self.settings, progress, should_stop)
        result = summary.as_dict()
        if len(summary.failures) > FAILURES_SENT:
            paths = write_reports(self.settings.reports_dir, [summary])
            result["failures"] = summary.failures[:FAILURES_SENT]
            result["failures"].append(
                {
                    "folder": "",
                    "item_class": "",
                    "subject": "",
                    "kind": "",
                    "reason": f"{len(summary.failures) - FAILURES_SENT} more failures in "
                    f"{paths[-1]} on worker {self.identity}",
                    "node_id": None,
                }
            )
        result["worker"] = self.identity
        result["attempt"] = info.attempt
        if plan is not None:
            result["plan"] = plan
        result["parts"] = [
            {
                "part": state["part"],
                "of": state["parts"],
                "worker": self.identity,
                "attempt": info.attempt,
                "folders": len(job.options.folders or ()),
                "status": summary.status,
            }
        ]
        log.info(
            "mailbox part finished",
            mailbox=job.mailbox,
            part=state["part"],
            status=summary.status,
            worker=self.identity,
        )
        if summary.status in ("busy", "lease-lost"):  # another run holds it, or did while this one stalled
            raise ApplicationError(summary.fatal or "mailbox busy", type=BUSY)
        if summary.status in ("fatal", "crashed"):  # crashed: as a crash escaping the run always was
            raise ApplicationError(summary.fatal or "mailbox stopped", result, type=FATAL, non_retryable=True)
        if summary.status == "interrupted":
            if activity.is_cancelled():
                raise CancelledError("cancelled")
            raise ApplicationError("worker stopping: handed back for another worker", type=INTERRUPTED)
        return result


async def _serve(
    settings: Settings, address: str, namespace: str, mailboxes: int, path_map: list[tuple[str, str]], ready: Any = None
) -> None:
    client = await Client.connect(address, namespace=namespace)
    identity = worker_identity()
    activities = MailboxActivities(settings, path_map, identity)
    with ThreadPoolExecutor(max_workers=mailboxes, thread_name_prefix="mailbox") as pool:
        worker = Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=[MailboxWorkflow, SlotWorkflow, SiteGateWorkflow],
            activities=[activities.plan_mailbox, activities.rebuild_mailbox],
            activity_executor=pool,
            max_concurrent_activities=mailboxes,
            identity=identity,
            graceful_shutdown_timeout=timedelta(seconds=60),
            max_heartbeat_throttle_interval=timedelta(seconds=HEARTBEAT_THROTTLE),
        )
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: Any) -> None:
            print(
                "\nrebuild worker: stopping: finishing the batches in flight, then handing the mailboxes back",
                file=sys.stderr,
            )
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(worker.shutdown()))

        for name in ("SIGINT", "SIGTERM"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), on_signal)
        print(
            f"rebuild worker {identity}: task queue {settings.temporal_task_queue!r} on {address} "
            f"(namespace {namespace}), {mailboxes} mailbox(es) at a time; state {settings.state_dir}",
            file=sys.stderr,
            flush=True,
        )
        await worker.run()


#: What a mailbox's first activity loads (the readers, the destinations), loaded before the first poll.
WARM_MODULES = (
    "pipeline.source.native",
    "pipeline.source.gate",
    "pipeline.convert.contacts",
    "pipeline.destination.ews.mailbox",
    "pipeline.destination.graph.mailbox",  # (the graph extra: absent is fine)
)


def warm_up() -> None:
    """Load the code a mailbox runs before taking one: a worker is a service, and the first mailbox each
    worker takes spent a third of a small usable round importing it (measured on the usable-site bench)."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def run_worker(
    settings: Settings, address: str, namespace: str, mailboxes: int, path_map: list[tuple[str, str]]
) -> None:
    """Serve until stopped (Ctrl-C or SIGTERM); RuntimeError when the server cannot be reached."""
    Journal(settings.journal_path).close()  # schema and WAL mode set up before any mailbox starts
    warm_up()
    asyncio.run(_serve(settings, address, namespace, mailboxes, path_map))
