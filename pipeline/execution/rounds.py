"""Usable first across a site: each mailbox of a `--map` run in two rounds, every mailbox's first round
(phases 1-4, rebuild/order.py) before any mailbox's second (phase 5), and the two summaries as one.

The second round walks the mailbox's whole plan again: what the first stored is read back from the server
(its stamps) and counted present, so nothing is sent twice and the journal's folder records come out as
a one-round run's would; its last step reads every folder back (rebuild/run.py's reconciliation), the
first's items included, so the first round leaves that step to it. Only a first round that reached its
end, failed items or not, has a second.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

from pipeline.execution.base import MailboxJob
from pipeline.execution.mailbox_parts import GOES_ON as GOING_ON
from pipeline.execution.mailbox_parts import merge_rounds
from pipeline.execution.wire import summary_from_wire
from pipeline.rebuild.order import Order, Span
from pipeline.rebuild.run import Summary
from pipeline.rebuild.status import RunStatus
from pipeline.settings import Settings

#: How a first round must end for its mailbox to go on to the second.
GOES_ON = frozenset(RunStatus(status) for status in GOING_ON)


def in_rounds(jobs: Sequence[MailboxJob], settings: Settings) -> bool:
    """Whether these jobs run in two rounds: several mailboxes, usable first, and something to upload."""
    return (
        len(jobs) > 1
        and settings.order == Order.USABLE_FIRST
        and any(not job.options.dry_run for job in jobs)
        and all(job.options.span is Span.ALL for job in jobs)
    )


def first_round(job: MailboxJob) -> MailboxJob:
    if job.options.dry_run:
        return job
    return dataclasses.replace(job, options=dataclasses.replace(job.options, span=Span.USABLE))


def second_round(job: MailboxJob, first: Summary) -> MailboxJob | None:
    """The job's second round after this first one, or None (a dry run, or a first round that stopped)."""
    if job.options.span is not Span.USABLE or first.status not in GOES_ON:
        return None
    return dataclasses.replace(job, options=dataclasses.replace(job.options, span=Span.REST))


def goes_on(job: MailboxJob, summary: Summary) -> bool:
    """Whether this run's end is not its mailbox's end (a first round that has a second)."""
    return job.options.span is Span.USABLE and summary.status in GOES_ON


def merged(first: Summary, then: Summary) -> Summary:
    """One mailbox's summary from its two rounds (parts.merge_rounds says how)."""
    out = summary_from_wire(merge_rounds(first.as_dict(), then.as_dict()))
    out.status = RunStatus(out.status)
    out.addresses = Counter(out.addresses)
    return out
