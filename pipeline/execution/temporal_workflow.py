"""The Temporal workflow of one mailbox: its id is the mailbox address, its input a MailboxJob as plain data.

Workflow code is replayed, so this module imports only temporalio and the standard library (it is loaded
in Temporal's workflow sandbox). The work itself is the `rebuild_mailbox` activity (temporal_worker.py),
which heartbeats its progress: a killed worker's activity is retried on another worker once its
heartbeat times out, and the mailbox lease and the server-side identities make that rerun exact.

Mailboxes in flight per destination server are capped across all workers: before its activity, a
mailbox workflow holds one of the server's N slots, a child workflow whose id names the server and the
slot number (Temporal runs one workflow per id, so at most N are held). The slot is released when the
mailbox workflow ends, however it ends (the child closes with its parent).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

WORKFLOW = "MailboxRebuild"
SLOT_WORKFLOW = "MailboxSlot"
ACTIVITY = "rebuild_mailbox"
TASK_QUEUE = "rebuild"
#: ApplicationError types the activity raises: a fatal mailbox is not retried; a busy one (another run
#: holds its lease, e.g. a killed worker's on another host until it expires), an interrupted one and one
#: whose OST this worker cannot see (another may) are retried with back-off.
FATAL, BUSY, INTERRUPTED, NOT_HERE = "MailboxFatal", "MailboxBusy", "MailboxInterrupted", "OstNotOnWorker"
DEFAULT_HEARTBEAT_SECONDS = 30
SLOT_WAIT_FIRST, SLOT_WAIT_MAX = 2.0, 60.0  # seconds between rounds of trying every slot


def slot_id(server: str, number: int) -> str:
    return f"rebuild-slot:{server.strip().lower()}#{number}"


@workflow.defn(name=SLOT_WORKFLOW)
class SlotWorkflow:
    """One of a destination server's slots, held until released (or until its mailbox workflow closes)."""

    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, mailbox: str) -> None:
        await workflow.wait_condition(lambda: self.released)

    @workflow.signal
    def release(self) -> None:
        self.released = True


@workflow.defn(name=WORKFLOW)
class MailboxWorkflow:
    """Runs the mailbox's activity until it finishes; fails with the one-line reason when it is fatal."""

    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        slot = await self._take_slot(job)
        try:
            return await self._rebuild(job)
        finally:
            if slot is not None:
                await slot.signal(SlotWorkflow.release)

    async def _take_slot(self, job: dict[str, Any]) -> ChildWorkflowHandle | None:
        """One of the destination server's slots (None when uncapped), waiting until one is free."""
        cap = int(job.get("mailboxes_per_server") or 0)
        server = str((job.get("endpoint") or {}).get("server") or "")
        if cap <= 0 or not server:
            return None
        wait = SLOT_WAIT_FIRST
        while True:
            numbers = list(range(cap))
            workflow.random().shuffle(numbers)
            for number in numbers:
                try:
                    return await workflow.start_child_workflow(
                        SlotWorkflow.run, workflow.info().workflow_id, id=slot_id(server, number),
                        parent_close_policy=ParentClosePolicy.TERMINATE)
                except WorkflowAlreadyStartedError:
                    continue
            await workflow.sleep(wait)
            wait = min(wait * 1.5, SLOT_WAIT_MAX)

    async def _rebuild(self, job: dict[str, Any]) -> dict[str, Any]:
        heartbeat = int(job.get("heartbeat_seconds") or DEFAULT_HEARTBEAT_SECONDS)
        try:
            return await workflow.execute_activity(
                ACTIVITY, job,
                start_to_close_timeout=timedelta(days=7),  # a dead worker is found by its heartbeat, not this
                heartbeat_timeout=timedelta(seconds=heartbeat),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                                         maximum_interval=timedelta(seconds=60),
                                         non_retryable_error_types=[FATAL]),
                result_type=dict)
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == FATAL:
                raise ApplicationError(cause.message, *cause.details, type=FATAL, non_retryable=True) from None
            raise
