"""The Temporal workflow of one mailbox: its id is the mailbox address, its input a MailboxJob as plain data.

Workflow code is replayed, so this module imports only temporalio, the standard library and parts.py (it
is loaded in Temporal's workflow sandbox). The work is done by activities (temporal_worker.py):
`plan_mailbox` lists the store's folders with their item counts (a big folder's items per year), then
`rebuild_mailbox` runs once per part (consecutive folders of about `part_items` items, or one big folder's
range of years: parts.py), heartbeating its progress. A killed worker's part is retried on another worker once its heartbeat times out, the parts already done stay
done (the history holds their summaries), and the mailbox lease and the server-side identities make the
retried part exact.

Mailboxes in flight per destination server are capped across all workers: before its activity, a
mailbox workflow holds one of the server's N slots, a child workflow whose id names the server and the
slot number (Temporal runs one workflow per id, so at most N are held). It tries the slot its submitter
suggested first (the mailbox's place in the submission, modulo N: no two of one submission collide while
they fit), then the others in a random order. The slot is released when the
mailbox workflow ends, however it ends (the child closes with its parent).

Usable first across a site (`--map`, order usable-first): each mailbox first runs its usable phases (1-4,
rebuild/order.py) in one activity, which also plans the mailbox (one activity, not two, before the gate),
then tells the site's gate (a SiteGate workflow the submitter started) and gives its slot back (unless
the site fits in the server's slots); once every mailbox of the site has told it (or after `wait_seconds`,
a mailbox that never does), the gate lets them go on, the biggest first, each with a task-queue priority
by its size, and each takes a slot again (if it gave it back) for its parts with the rest
(execution/rounds.py says why the second round walks the usable items again: found on the server).
Workflows started before these changes replay as they ran (workflow.patched).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pipeline.execution.mailbox_parts import GOES_ON, merge_rounds, merge_summaries
    from pipeline.execution.set_parts import part_options

WORKFLOW = "MailboxRebuild"
SLOT_WORKFLOW = "MailboxSlot"
SITE_WORKFLOW = "SiteGate"
#: How long a site's gate waits for every mailbox's usable phases before letting the others go on anyway.
DEFAULT_SITE_WAIT_SECONDS = 6 * 3600
#: workflow.patched ids: the usable round plans its mailbox itself; the gate lets every mailbox go at once.
PLANNED_IN_USABLE, GATE_AT_ONCE = "usable-round-plans", "site-gate-at-once"
#: workflow.patched id: a mailbox tries the slot its submitter suggested first (job "slot_hint").
SLOT_HINT = "slot-hint"
#: workflow.patched ids: the gate gives each mailbox's rest a task-queue priority by its size (the biggest
#: first); a mailbox of a site that fits in the server's slots keeps its slot through the gate.
REST_PRIORITY, KEEPS_SLOT = "site-rest-priority", "site-keeps-slot"
#: Temporal's priority keys run from 1 (first) to 5 by default (the server's default maximum).
PRIORITY_KEYS = 5
ACTIVITY = "rebuild_mailbox"
PLAN_ACTIVITY = "plan_mailbox"
DEFAULT_PART_ITEMS = 5000
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


def site_gate_id(site: str) -> str:
    return f"rebuild-site:{site}"


def rest_priority(rank: int, mailboxes: int) -> int:
    """The task-queue priority key of the rest round of a site's mailbox ranked `rank` by size (0: the
    biggest) among `mailboxes`: 2 for the biggest quarter to PRIORITY_KEYS for the smallest (1 is left for
    usable rounds)."""
    levels = PRIORITY_KEYS - 1
    return 2 + min(levels - 1, rank * levels // max(1, mailboxes))


@workflow.defn(name=SITE_WORKFLOW)
class SiteGateWorkflow:
    """A site's gate: collects the mailbox workflows whose usable phases are over (signal `usable`), then,
    once all have come (or after wait_seconds), signals every one of them to go on."""

    def __init__(self) -> None:
        self.reported: set[str] = set()
        self.sizes: dict[str, int] = {}

    @workflow.run
    async def run(self, site: dict[str, Any]) -> None:
        mailboxes = set(site["mailboxes"])
        try:
            await workflow.wait_condition(
                lambda: mailboxes <= self.reported,
                timeout=timedelta(seconds=int(site.get("wait_seconds") or DEFAULT_SITE_WAIT_SECONDS)),
            )
        except TimeoutError:
            workflow.logger.warning("site gate: going on without %d mailboxes", len(mailboxes - self.reported))
        if not workflow.patched(GATE_AT_ONCE):  # a gate started before: one signal after the other
            for mailbox in sorted(mailboxes):
                await self._go_on(mailbox)
            return
        order = sorted(mailboxes, key=lambda mailbox: (-self.sizes.get(mailbox, 0), mailbox))
        if workflow.patched(REST_PRIORITY):
            # the biggest mailbox first, each signal sent once the one before was (a task each: a few ms),
            # with a priority by size: the first rest rounds go straight to the idle workers in that order,
            # the others wait in the task queue in it (its own order is not first come, first served)
            for rank, mailbox in enumerate(order):
                await self._go_on(mailbox, rest_priority(rank, len(order)))
            return
        # (before: every signal in one workflow task, the biggest mailbox's first)
        await asyncio.gather(*(self._go_on(mailbox) for mailbox in order))

    @staticmethod
    async def _go_on(mailbox: str, priority: int | None = None) -> None:
        handle = workflow.get_external_workflow_handle(mailbox)
        try:
            if priority is None:
                await handle.signal(MailboxWorkflow.go_on)
            else:
                await handle.signal("go_on", args=[priority])
        except Exception:  # noqa: BLE001 - closed already (it failed, or was terminated): nothing to tell
            return

    @workflow.signal
    def usable(self, mailbox: str, items: int = 0) -> None:
        """mailbox's usable phases are over (or it stopped); items: its size, to let the biggest go first."""
        self.reported.add(mailbox)
        self.sizes[mailbox] = int(items or 0)


@workflow.defn(name=WORKFLOW)
class MailboxWorkflow:
    """Plans the mailbox, then runs its parts one after the other (one writer per mailbox); fails with the
    one-line reason when one is fatal. In a usable-first site, its usable phases first, then the gate."""

    def __init__(self) -> None:
        self.going_on = False
        self.priority: int | None = None  # the rest round's task-queue priority, as the site's gate says

    @workflow.signal
    def go_on(self, priority: int | None = None) -> None:
        self.going_on = True
        self.priority = priority

    @workflow.run
    async def run(self, job: dict[str, Any]) -> dict[str, Any]:
        slot = await self._take_slot(job)
        try:
            first: dict[str, Any] | None = None
            site = job.get("site") if not job["options"].get("dry_run") else None
            options = job["options"]
            if site and not (options.get("merge") or options.get("more")) and workflow.patched(PLANNED_IN_USABLE):
                first = await self._usable_round(job, site, None)  # one activity: the plan and the usable phases
                plan = first.pop("plan", None) or await self._activity(PLAN_ACTIVITY, job, None)  # (an older worker)
            else:
                plan = await self._activity(PLAN_ACTIVITY, job, None)
                if site and "files" in plan:  # a set: its parts decide against its index, not in rounds (said)
                    await self._tell_gate(site, plan)
                elif site:
                    first = await self._usable_round(job, site, plan)
            if first is not None:
                if first.get("status") not in GOES_ON:
                    return first
                assert site is not None  # a usable round is run for a site only
                keep = workflow.patched(KEEPS_SLOT) and 0 < int(site.get("count") or 0) <= _cap(job)
                if slot is not None and not keep:  # the other mailboxes' usable phases may need the slots
                    await slot.signal(SlotWorkflow.release)
                    slot = None
                await self._wait_for_site(site)
                if slot is None:
                    slot = await self._take_slot(job)
            parts = part_options(plan, int(job.get("part_items") or DEFAULT_PART_ITEMS))  # a set's too
            result: dict[str, Any] | None = None
            for index, overlay in enumerate(parts):
                before = (result["uploaded"] + result["present"]) if result else 0
                part = {
                    **job,
                    "options": {
                        **job["options"],
                        **overlay,
                        "span": "rest" if first is not None else job["options"].get("span", "all"),
                    },
                    "part": {"index": index, "count": len(parts), "before": before, "total": plan["total"]},
                }
                rest = Priority(priority_key=self.priority) if first is not None and self.priority else None
                result = merge_summaries(result, await self._activity(ACTIVITY, part, result, rest))
            assert result is not None
            return merge_rounds(first, result) if first is not None else result
        finally:
            if slot is not None:
                await slot.signal(SlotWorkflow.release)

    async def _usable_round(
        self, job: dict[str, Any], site: dict[str, Any], plan: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The mailbox's usable phases in one activity (which plans the mailbox too when plan is None: the
        result's "plan"), then the site's gate told, however the activity ended (it waits for no mailbox
        that stopped)."""
        usable = {
            **job,
            "options": {**job["options"], "span": "usable"},
            "part": {"index": 0, "count": 1, "before": 0, "total": plan["total"] if plan else 0},
        }
        if plan is None:
            usable["plan"] = True
        first: dict[str, Any] = {}
        try:
            first = await self._activity(ACTIVITY, usable, None)
        finally:
            await self._tell_gate(site, plan or first.get("plan"))
        return first

    async def _tell_gate(self, site: dict[str, Any], plan: dict[str, Any] | None) -> None:
        gate = workflow.get_external_workflow_handle(site_gate_id(str(site["id"])))
        me = workflow.info().workflow_id
        if workflow.patched(GATE_AT_ONCE):  # with the mailbox's size, for the gate's order
            # by name: two arguments, which the typed overloads of ExternalWorkflowHandle.signal do not take
            await gate.signal("usable", args=[me, int((plan or {}).get("total") or 0)])
        else:
            await gate.signal(SiteGateWorkflow.usable, me)

    async def _wait_for_site(self, site: dict[str, Any]) -> None:
        """Until the gate says every mailbox of the site is usable (or a while longer than it waits)."""
        wait = int(site.get("wait_seconds") or DEFAULT_SITE_WAIT_SECONDS) + 60
        try:
            await workflow.wait_condition(lambda: self.going_on, timeout=timedelta(seconds=wait))
        except TimeoutError:
            workflow.logger.warning("site gate never answered: going on")

    async def _take_slot(self, job: dict[str, Any]) -> ChildWorkflowHandle | None:
        """One of the destination server's slots (None when uncapped), waiting until one is free."""
        cap = _cap(job)
        server = str((job.get("endpoint") or {}).get("server") or "")
        if cap <= 0 or not server:
            return None
        wait = SLOT_WAIT_FIRST
        while True:
            numbers = list(range(cap))
            workflow.random().shuffle(numbers)
            hint = job.get("slot_hint")
            if hint is not None and workflow.patched(SLOT_HINT):  # its own first: no collision within a submission
                numbers.remove(int(hint) % cap)
                numbers.insert(0, int(hint) % cap)
            for number in numbers:
                try:
                    return await workflow.start_child_workflow(
                        SlotWorkflow.run,
                        workflow.info().workflow_id,
                        id=slot_id(server, number),
                        parent_close_policy=ParentClosePolicy.TERMINATE,
                    )
                except WorkflowAlreadyStartedError:
                    continue
            await workflow.sleep(wait)
            wait = min(wait * 1.5, SLOT_WAIT_MAX)

    async def _activity(
        self, name: str, job: dict[str, Any], done: dict[str, Any] | None, priority: Priority | None = None
    ) -> dict[str, Any]:
        """Run an activity until it succeeds; a fatal one fails the workflow with its one-line reason and
        the summary of everything done so far (done: the earlier parts')."""
        heartbeat = int(job.get("heartbeat_seconds") or DEFAULT_HEARTBEAT_SECONDS)
        try:
            return await workflow.execute_activity(
                name,
                job,
                start_to_close_timeout=timedelta(days=7),  # a dead worker is found by its heartbeat, not this
                heartbeat_timeout=timedelta(seconds=heartbeat),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=2),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=60),
                    non_retryable_error_types=[FATAL],
                ),
                result_type=dict,
                priority=priority or Priority.default,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == FATAL:
                details = list(cause.details)
                if details and isinstance(details[0], dict) and done is not None:
                    details[0] = merge_summaries(done, details[0])
                raise ApplicationError(cause.message, *details, type=FATAL, non_retryable=True) from None
            raise


def _cap(job: dict[str, Any]) -> int:
    """Mailboxes in flight per destination server (0: no cap)."""
    return int(job.get("mailboxes_per_server") or 0)
