"""The users CSV turned into mailbox jobs: the mapping checked whole, each row's RunOptions (its own columns
first, the command line's flags for what the row leaves empty) and connection.

Plain conversion, shared by the local run, `verify --map`, `x500 --map` and the Temporal submission.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.mapping import MappingError, MappingRow, load_mapping
from pipeline.cli.options import RunFlags
from pipeline.errors import UsageError
from pipeline.execution.base import MailboxJob
from pipeline.logs.terminal import shown
from pipeline.rebuild.run import RunOptions
from pipeline.selection import parse_since


def row_options(row: MappingRow, flags: RunFlags, site_book: Path | None = None) -> RunOptions:
    """A row's RunOptions: its own columns first, the command line's flags for what the row leaves empty."""
    options = RunOptions(
        ost=row.ost,
        mailbox=row.mailbox,
        target_root=row.target_root or flags.target_root,
        dry_run=flags.dry_run,
        only=row.only or flags.only,
        exclude=row.exclude or flags.exclude,
        since=parse_since(flags.since),
        recover=flags.recover,
        include_sync_issues=flags.include_sync_issues,
        break_lease=flags.break_lease,
        x500_domain=flags.x500_domain,
        codepage=flags.codepage,
        site_book=site_book,
        more=row.more,
        merge=flags.merge,
    )
    return options if flags.settings is None else dataclasses.replace(options, settings=flags.settings)


def row_endpoint(endpoint: Any, row: MappingRow) -> Any:
    """A row asking for impersonation acts for its mailbox as the service account."""
    if endpoint is None or not row.impersonate or getattr(endpoint, "impersonate", True):
        return endpoint
    return dataclasses.replace(endpoint, impersonate=True)


def jobs(rows: list[MappingRow], flags: RunFlags, endpoint: Any, site_book: Path | None = None) -> list[MailboxJob]:
    return [MailboxJob(row_options(row, flags, site_book), row_endpoint(endpoint, row)) for row in rows]


def checked_rows(path: Path, skip_invalid: bool, open_sources: bool = True) -> list[MappingRow]:
    """The mapping's rows, or UsageError after listing every error (unless skip_invalid keeps the good rows)."""
    rows, errors = load_mapping(path, open_sources)
    return accepted(path, rows, errors, skip_invalid)


def accepted(path: Path, rows: list[MappingRow], errors: list[MappingError], skip_invalid: bool) -> list[MappingRow]:
    """The good rows when there are no errors (or skip_invalid), else UsageError after listing every error."""
    errors = sorted(errors, key=lambda error: error.line)
    if not errors:
        return rows
    for error in errors:
        print(f"rebuild: {shown(error.render(path))}", file=sys.stderr)
    if not skip_invalid or not rows:
        raise UsageError(
            f"{path}: {len(errors)} error(s); nothing was uploaded"
            + ("" if skip_invalid else " (fix them, or --skip-invalid)")
        )
    print(f"rebuild: --skip-invalid: going on with the {len(rows)} valid row(s)", file=sys.stderr)
    return rows
