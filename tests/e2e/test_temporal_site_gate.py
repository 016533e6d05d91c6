"""A usable-first site's workflows on a real Temporal dev server, with stand-in activities (no OST, no
mailbox server): each mailbox plans itself in its usable round (one activity, not two, before the gate),
every usable round ends before any rest round starts, and the gate lets the mailboxes go on the biggest
first, each with a task-queue priority by size that its rest round carries; a site that fits in the server's
slots keeps them through the gate (one slot workflow per mailbox), one that does not gives them back. The
Temporal server's own histories are the oracle (read with a plain client).

Skipped with a message when the `temporal` extra is not installed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.temporal_server import dev_server, temporal_missing

pytestmark = pytest.mark.skipif(temporal_missing() is not None, reason=str(temporal_missing()))

SIZES = {"small@gate.example": 10, "big@gate.example": 300, "mid@gate.example": 40}


def _summary(mailbox: str, status: str, stored: int) -> dict[str, Any]:
    return {"mailbox": mailbox, "source": "", "status": status, "uploaded": stored, "elapsed": 0.1}


def test_site_usable_rounds_plan_themselves_and_the_gate_lets_the_biggest_go_first(tmp_path: Path):
    from temporalio import activity
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.worker import Worker

    from pipeline.execution.temporal_workflow import (
        MailboxWorkflow,
        SiteGateWorkflow,
        SlotWorkflow,
        site_gate_id,
    )

    calls: list[tuple[str, str, str, bool]] = []  # (activity, mailbox, span, asked to plan), in start order

    @activity.defn(name="plan_mailbox")
    async def plan_mailbox(data: dict[str, Any]) -> dict[str, Any]:
        mailbox = data["options"]["mailbox"]
        calls.append(("plan", mailbox, "", False))
        return {"folders": [{"node_id": 1, "items": SIZES[mailbox]}], "total": SIZES[mailbox]}

    @activity.defn(name="rebuild_mailbox")
    async def rebuild_mailbox(data: dict[str, Any]) -> dict[str, Any]:
        mailbox, span = data["options"]["mailbox"], data["options"]["span"]
        calls.append(("rebuild", mailbox, span, bool(data.get("plan"))))
        await asyncio.sleep(0.05)
        usable_items = SIZES[mailbox] // 5  # the rest round stores the others
        stored = usable_items if span == "usable" else SIZES[mailbox] - usable_items
        result = _summary(mailbox, "usable" if span == "usable" else "ok", stored)
        if data.get("plan"):
            result["plan"] = {"folders": [{"node_id": 1, "items": SIZES[mailbox]}], "total": SIZES[mailbox]}
        return result

    async def scenario(address: str, cap: int) -> tuple[dict[str, dict], Any, dict[str, Any]]:
        client = await Client.connect(address)
        queue, gate = f"gate-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        site = {"id": gate, "wait_seconds": 120, "count": len(SIZES)}
        async with Worker(
            client,
            task_queue=queue,
            workflows=[MailboxWorkflow, SlotWorkflow, SiteGateWorkflow],
            activities=[plan_mailbox, rebuild_mailbox],
        ):
            await client.start_workflow(
                SiteGateWorkflow.run,
                {**site, "mailboxes": [f"{m}-{cap}" for m in SIZES]},
                id=site_gate_id(gate),
                task_queue=queue,
            )
            handles = {
                mailbox: await client.start_workflow(
                    MailboxWorkflow.run,
                    {
                        "version": 1,
                        "options": {"mailbox": mailbox, "span": "all", "dry_run": False},
                        "endpoint": {"server": f"https://{queue}.example/EWS"},
                        "mailboxes_per_server": cap,
                        "part_items": 5000,
                        "site": site,
                    },
                    id=f"{mailbox}-{cap}",
                    task_queue=queue,
                )
                for mailbox in SIZES
            }
            results = {mailbox: await handle.result() for mailbox, handle in handles.items()}
            history = await client.get_workflow_handle(site_gate_id(gate)).fetch_history()
            mailboxes = {mailbox: await handle.fetch_history() for mailbox, handle in handles.items()}
        return results, history, mailboxes

    with dev_server(tmp_path / "temporal") as server:
        runs = {cap: asyncio.run(scenario(server.address, cap)) for cap in (2, 8)}

    assert len(calls) == 2 * 2 * len(SIZES)
    for n, (cap, (results, history, mailboxes)) in enumerate(runs.items()):
        ours = calls[n * 2 * len(SIZES) : (n + 1) * 2 * len(SIZES)]
        assert {m: (r["status"], r["uploaded"]) for m, r in results.items()} == {m: ("ok", k) for m, k in SIZES.items()}
        assert all("plan" not in r for r in results.values())
        assert [c for c in ours if c[0] == "plan"] == []  # planned in the usable round, never on its own
        usable = [c for c in ours if c[2] == "usable"]
        assert sorted(c[1] for c in usable) == sorted(SIZES) and all(c[3] for c in usable)
        spans = [c[2] for c in ours]
        assert spans == ["usable"] * len(SIZES) + ["rest"] * len(SIZES), ours  # every usable round before any rest
        signals = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
        ]
        told = [e.signal_external_workflow_execution_initiated_event_attributes for e in signals]
        biggest_first = sorted(SIZES, key=lambda m: -SIZES[m])
        assert [t.workflow_execution.workflow_id for t in told] == [f"{m}-{cap}" for m in biggest_first]
        # priority keys 2, 3, 4 for three mailboxes (1 is the usable rounds'; 5 the smallest quarter's)
        assert [json.loads(t.input.payloads[0].data) for t in told] == [2, 3, 4]
        for rank, mailbox in enumerate(biggest_first):
            events = mailboxes[mailbox].events
            scheduled = [
                e.activity_task_scheduled_event_attributes
                for e in events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ]
            assert [a.priority.priority_key for a in scheduled] == [0, 2 + rank], mailbox  # usable: none; rest: its
            slots = [e for e in events if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED]
            assert len(slots) == (1 if cap >= len(SIZES) else 2), (cap, mailbox)  # kept through the gate, or not
