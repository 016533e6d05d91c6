"""The Temporal executor: one workflow per mailbox on a Temporal cluster, run by `rebuild worker`s anywhere.

submit() starts a MailboxRebuild workflow per job, its id the mailbox address (lower case) and its input
the MailboxJob as plain data (wire.py: no password). A mailbox whose workflow is still running is not
started twice; one that finished is started again (a rerun: the server's identities make it exact).
With wait, it follows the workflows' heartbeats with the same progress display as the local executor
and returns their summaries; mailbox_states() is what `rebuild status --temporal` lists. Several mailboxes
in usable-first order are one site: a SiteGate workflow holds every mailbox's rest until all are usable.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from pipeline.execution import rounds
from pipeline.execution.base import MailboxJob, Progress
from pipeline.execution.temporal_workflow import (
    DEFAULT_SITE_WAIT_SECONDS,
    FATAL,
    WORKFLOW,
    SiteGateWorkflow,
    site_gate_id,
)
from pipeline.execution.wire import job_to_wire, summary_from_wire
from pipeline.rebuild.run import Summary
from pipeline.rebuild.status import RunStatus
from pipeline.settings import Settings

CLOSED_FATAL = {
    WorkflowExecutionStatus.TERMINATED: "workflow terminated",
    WorkflowExecutionStatus.CANCELED: "workflow cancelled",
    WorkflowExecutionStatus.TIMED_OUT: "workflow timed out",
}


def workflow_id(mailbox: str) -> str:
    return mailbox.strip().lower()


async def connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace)


@dataclass
class MailboxState:
    """One mailbox as Temporal sees it: its latest workflow's state, and its progress or its summary."""

    mailbox: str
    state: str  # waiting | running | completed | failed | terminated | canceled | timed_out
    done: int = 0
    total: int = 0
    failed: int = 0
    bytes: int = 0
    worker: str = ""
    attempt: int = 0
    retrying: str = ""  # why the last attempt did not finish, while the next one waits
    part: str = ""  # "2/3": the part of the mailbox running
    summary: Summary | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "failed": self.failed,
            "worker": self.worker,
            "attempt": self.attempt,
            "retrying": self.retrying,
            "part": self.part,
            "status": self.summary.status if self.summary else None,
            "fatal": self.summary.fatal if self.summary else None,
        }


async def state_of(client: Client, handle: WorkflowHandle) -> MailboxState:
    """The mailbox's state: heartbeat details while running, the summary once closed."""
    description = await handle.describe()
    status = description.status
    mailbox = handle.id
    if status == WorkflowExecutionStatus.RUNNING:  # running, or waiting for a slot or a free worker
        pending_activities = description.raw_description.pending_activities
        started = any(p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED for p in pending_activities)
        state = MailboxState(mailbox, "running" if started else "waiting")  # for a slot or a free worker
        for pending in pending_activities:
            state.worker = pending.last_worker_identity
            state.attempt = pending.attempt
            if pending.attempt > 1 and pending.HasField("last_failure"):
                state.retrying = " ".join(pending.last_failure.message.split())[:200]
            if pending.heartbeat_details.payloads:
                (details,) = await client.data_converter.decode(pending.heartbeat_details.payloads)
                state.done, state.total = int(details.get("done", 0)), int(details.get("total", 0))
                state.failed, state.bytes = int(details.get("failed", 0)), int(details.get("bytes", 0))
                state.worker = details.get("worker") or state.worker
                state.part = f"{details['part']}/{details['parts']}" if "part" in details else ""
        return state
    name = status.name.lower() if status else "unknown"
    summary, worker = await summary_of(handle, status)
    return MailboxState(
        mailbox,
        name,
        done=summary.uploaded + summary.present,
        total=summary.found,
        failed=summary.failed_total,
        bytes=summary.bytes_uploaded,
        worker=worker,
        summary=summary,
    )


async def summary_of(handle: WorkflowHandle, status: WorkflowExecutionStatus | None) -> tuple[Summary, str]:
    """A closed workflow's summary and the worker that wrote it: its result, the fatal summary it failed
    with, or a fatal one saying why it closed."""
    if status == WorkflowExecutionStatus.COMPLETED:
        data = await handle.result()
        return summary_from_wire(data), str(data.get("worker", ""))
    if status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == FATAL:
                if cause.details and isinstance(cause.details[0], dict):
                    return summary_from_wire(cause.details[0]), str(cause.details[0].get("worker", ""))
                return Summary(handle.id, "", status=RunStatus.FATAL, fatal=cause.message), ""
            return Summary(handle.id, "", status=RunStatus.FATAL, fatal=f"workflow failed: {cause}"), ""
    reason = CLOSED_FATAL.get(status) if status else None  # type: ignore[arg-type]
    return Summary(handle.id, "", status=RunStatus.FATAL, fatal=reason or f"workflow {status}"), ""


async def mailbox_states(client: Client) -> list[MailboxState]:
    """Every mailbox with a MailboxRebuild workflow, its latest run only, sorted by address."""
    latest: dict[str, Any] = {}
    async for execution in client.list_workflows(f'WorkflowType="{WORKFLOW}"'):
        known = latest.get(execution.id)
        if known is None or execution.start_time > known.start_time:
            latest[execution.id] = execution
    states = []
    for mailbox in sorted(latest):
        states.append(await state_of(client, client.get_workflow_handle(mailbox, run_id=latest[mailbox].run_id)))
    return states


class TemporalExecutor:
    """Submits mailbox jobs as workflows; with wait, follows them to the end."""

    def __init__(
        self,
        settings: Settings,
        address: str,
        namespace: str = "default",
        wait: bool = False,
        poll_seconds: float = 2.0,
    ) -> None:
        self.settings = settings
        self.address = address
        self.namespace = namespace
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.already_running: list[str] = []

    def submit(self, jobs: Sequence[MailboxJob], progress: Progress) -> list[Summary]:
        return asyncio.run(self._submit(jobs, progress))

    async def _submit(self, jobs: Sequence[MailboxJob], progress: Progress) -> list[Summary]:
        client = await connect(self.address, self.namespace)
        handles: dict[str, WorkflowHandle] = {}
        site = await self._site_gate(client, jobs)
        for number, job in enumerate(jobs):
            payload = job_to_wire(job, self.settings.destination)
            payload["heartbeat_seconds"] = self.settings.temporal_heartbeat_seconds
            payload["mailboxes_per_server"] = self.settings.temporal_mailboxes_per_server
            payload["slot_hint"] = number  # the slot it tries first (temporal_workflow.py)
            payload["part_items"] = self.settings.temporal_part_items
            if site is not None:
                payload["site"] = site
            wid = workflow_id(job.mailbox)
            try:
                handles[job.mailbox] = await client.start_workflow(
                    WORKFLOW, payload, id=wid, task_queue=self.settings.temporal_task_queue
                )
            except WorkflowAlreadyStartedError:
                self.already_running.append(job.mailbox)
                handles[job.mailbox] = client.get_workflow_handle(wid)
                if site is not None:  # started by an earlier submission: its gate is another; this one waits not
                    await client.get_workflow_handle(site_gate_id(site["id"])).signal(SiteGateWorkflow.usable, wid)
        if not self.wait:
            return [
                Summary(
                    job.mailbox,
                    str(job.options.ost),
                    status=RunStatus.ALREADY_RUNNING if job.mailbox in self.already_running else RunStatus.SUBMITTED,
                )
                for job in jobs
            ]
        return await self._follow(client, jobs, handles, progress)

    async def _site_gate(self, client: Client, jobs: Sequence[MailboxJob]) -> dict[str, Any] | None:
        """A usable-first site (several mailboxes to upload): its gate started, and what each job carries of
        it (temporal_workflow.py: every mailbox's usable phases before any mailbox's rest); None otherwise."""
        if not rounds.in_rounds(jobs, self.settings):
            return None
        gate = uuid.uuid4().hex
        # count: the site's mailboxes (when they fit in the server's slots, each keeps its slot at the gate)
        site: dict[str, Any] = {"id": gate, "wait_seconds": DEFAULT_SITE_WAIT_SECONDS, "count": len(jobs)}
        await client.start_workflow(
            SiteGateWorkflow.run,
            {**site, "mailboxes": [workflow_id(job.mailbox) for job in jobs]},
            id=site_gate_id(gate),
            task_queue=self.settings.temporal_task_queue,
        )
        return site

    async def _follow(
        self, client: Client, jobs: Sequence[MailboxJob], handles: dict[str, WorkflowHandle], progress: Progress
    ) -> list[Summary]:
        results: dict[str, Summary] = {}
        totals: dict[str, int] = {}
        # Wakes the loop as soon as a workflow closes (the server answers a result request when it does);
        # progress is read every poll_seconds in between.
        closing = {job.mailbox: asyncio.ensure_future(_closed(handles[job.mailbox])) for job in jobs}
        while len(results) < len(jobs):
            started = time.monotonic()
            for job in jobs:
                if job.mailbox in results:
                    continue
                state = await state_of(client, handles[job.mailbox])
                if state.total and totals.get(job.mailbox) != state.total:
                    totals[job.mailbox] = state.total
                    progress("start", {"mailbox": job.mailbox, "total": state.total})
                if state.total or state.done:
                    progress(
                        "items",
                        {"mailbox": job.mailbox, "done": state.done, "failed": state.failed, "bytes": state.bytes},
                    )
                if state.summary is not None:
                    state.summary.mailbox = job.mailbox
                    state.summary.source = state.summary.source or str(job.options.ost)
                    results[job.mailbox] = state.summary
            if len(results) < len(jobs):
                left = max(self.poll_seconds - (time.monotonic() - started), 0.1)
                open_ones = [task for mailbox, task in closing.items() if mailbox not in results and not task.done()]
                if open_ones:
                    await asyncio.wait(open_ones, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(left)
        for task in closing.values():
            task.cancel()
        return [results[job.mailbox] for job in jobs]


async def _closed(handle: WorkflowHandle) -> None:
    """Returns when the workflow has closed, however it closed."""
    try:
        await handle.result()
    except Exception:  # noqa: BLE001 - failed, terminated, …: closed all the same; state_of says how
        return
