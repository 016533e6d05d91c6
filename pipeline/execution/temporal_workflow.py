"""The Temporal workflow of one mailbox: its id is the mailbox address, its input a MailboxJob as plain data.

Workflow code is replayed, so this module imports only temporalio and the standard library (it is loaded
in Temporal's workflow sandbox). The work itself is the `rebuild_mailbox` activity (temporal_worker.py),
which heartbeats its progress: a killed worker's activity is retried on another worker once its
heartbeat times out, and the mailbox lease and the server-side identities make that rerun exact.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

WORKFLOW = "MailboxRebuild"
ACTIVITY = "rebuild_mailbox"
TASK_QUEUE = "rebuild"
#: ApplicationError types the activity raises: a fatal mailbox is not retried; a busy one (another run
#: holds its lease, e.g. a killed worker's on another host until it expires) and an interrupted one are.
FATAL, BUSY, INTERRUPTED = "MailboxFatal", "MailboxBusy", "MailboxInterrupted"
DEFAULT_HEARTBEAT_SECONDS = 30


@workflow.defn(name=WORKFLOW)
class MailboxWorkflow:
    """Runs the mailbox's activity until it finishes; fails with the one-line reason when it is fatal."""

    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
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
