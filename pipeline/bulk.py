"""Many mailboxes at once: the CSV mapping checked whole, turned into MailboxJobs, run by an executor.

One mailbox's failure never stops the others; `verify --map` checks every row with the row's own columns.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.execution.base import MailboxJob
from pipeline.mapping import MappingRow, load_mapping
from pipeline.run import RunOptions
from pipeline.selection import parse_since
from pipeline.settings import Settings
from pipeline.terminal import shown

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def row_options(row: MappingRow, args: argparse.Namespace) -> RunOptions:
    """A row's RunOptions: its own columns first, the command line's flags for what the row leaves empty."""
    return RunOptions(
        ost=row.ost, mailbox=row.mailbox, target_root=row.target_root or getattr(args, "target_root", None),
        dry_run=getattr(args, "dry_run", False), only=row.only or tuple(getattr(args, "only", ()) or ()),
        exclude=row.exclude or tuple(getattr(args, "exclude", ()) or ()),
        since=parse_since(getattr(args, "since", None)), recover=getattr(args, "recover", False),
        include_sync_issues=getattr(args, "include_sync_issues", False),
        break_lease=getattr(args, "break_lease", False),
        x500_domain=getattr(args, "x500_domain", None), codepage=getattr(args, "codepage", None),
        site_book=getattr(args, "site_book", None))


def row_endpoint(endpoint: Any, row: MappingRow) -> Any:
    """A row asking for impersonation acts for its mailbox as the service account."""
    if endpoint is None or not row.impersonate or getattr(endpoint, "impersonate", True):
        return endpoint
    return dataclasses.replace(endpoint, impersonate=True)


def jobs(rows: list[MappingRow], args: argparse.Namespace, endpoint: Any) -> list[MailboxJob]:
    return [MailboxJob(row_options(row, args), row_endpoint(endpoint, row)) for row in rows]


def checked_rows(path: Path, skip_invalid: bool, open_sources: bool = True) -> list[MappingRow]:
    """The mapping's rows, or UsageError after listing every error (unless skip_invalid keeps the good rows)."""
    from pipeline.errors import UsageError

    rows, errors = load_mapping(path, open_sources)
    if not errors:
        return rows
    for error in errors:
        print(f"rebuild: {shown(error.render(path))}", file=sys.stderr)
    if not skip_invalid or not rows:
        raise UsageError(f"{path}: {len(errors)} error(s); nothing was uploaded"
                         + ("" if skip_invalid else " (fix them, or --skip-invalid)"))
    print(f"rebuild: --skip-invalid: going on with the {len(rows)} valid row(s)", file=sys.stderr)
    return rows


def run_map(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.closing import finish
    from pipeline.endpoint import endpoint_for
    from pipeline.execution.local import LocalExecutor
    from pipeline.progress import make_progress

    temporal = getattr(args, "engine", "local") == "temporal"  # the workers open the OSTs, not this machine
    rows = checked_rows(Path(args.map), getattr(args, "skip_invalid", False), open_sources=not temporal)
    if temporal:
        from pipeline.execution.temporal_cli import run_map_temporal
        from pipeline.interrupts import default_terminate

        default_terminate()  # submitting and following have their own stop: SIGTERM ends it as it always did

        return run_map_temporal(args, settings, rows)
    executor = LocalExecutor(settings, getattr(args, "workers", None))
    from pipeline.addressing import site_book

    try:
        args.site_book = site_book([(r.ost, r.mailbox) for r in rows], getattr(args, "codepage", None),
                                   settings.state_dir / "addressbooks", executor.mailbox_workers)
    except KeyboardInterrupt:
        print("\nrebuild: interrupted while reading the address books; nothing was uploaded. "
              "Run the same command again to resume.", file=sys.stderr)
        return EXIT_FAILURES
    from pipeline.interrupts import terminate_requests

    with terminate_requests(), make_progress(not args.json) as progress:  # SIGTERM stops as Ctrl-C does
        if args.dry_run:
            summaries = executor.submit(jobs(rows, args, None), progress)
        else:
            with endpoint_for(settings, bool(getattr(args, "impersonate", False)), [r.mailbox for r in rows]) as ep:
                summaries = executor.submit(jobs(rows, args, ep), progress)
        return finish(summaries, args, settings)


def verify_map(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.destination import open_destination
    from pipeline.endpoint import endpoint_for
    from pipeline.verify import render, verify_mailbox

    rows = checked_rows(Path(args.map), skip_invalid=False)
    results = []
    with endpoint_for(settings, bool(getattr(args, "impersonate", False)), []) as endpoint:
        for job in jobs(rows, args, endpoint):
            results.append(verify_mailbox(job.options, open_destination(job.endpoint, settings)))
    if args.json:
        json.dump([r.as_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            print(render(result))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURES
