"""The main job's commands: `rebuild run` (the default, one mailbox or a users CSV), `rebuild verify` and
`rebuild status`.

Argument parsing and printing only; the work is in run.py (through an executor), journal.py and verify.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import temporal
from pipeline.cli.flags import add_codepage_flag, add_reader_flag, add_target_flags
from pipeline.cli.options import RunFlags, TemporalFlags
from pipeline.errors import EXIT_FAILURES, EXIT_OK
from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="rebuild mailboxes (the default command)",
                       description="Rebuild one mailbox from its OST (--ost PATH --mailbox ADDR).")
    p.add_argument("--ost", metavar="PATH", help="the user's OST (or PST) file")
    p.add_argument("--mailbox", metavar="ADDR", help="SMTP address of the re-created mailbox")
    p.add_argument("--map", metavar="CSV", help="a CSV of users: ost,mailbox[,target_root,impersonate,only,exclude]")
    p.add_argument("--workers", type=int, metavar="N", help="mailboxes rebuilt at once with --map")
    p.add_argument("--skip-invalid", action="store_true", help="with --map: go on with the valid rows only")
    temporal.add_engine_flags(p)
    add_target_flags(p)
    p.add_argument("--target-root", metavar="NAME",
                   help="put everything under one new folder (e.g. 'Recovered 2026-11-24') instead of merging")
    p.add_argument("--dry-run", action="store_true", help="plan and count, write nothing to the server")
    p.add_argument("--only", action="append", default=[], metavar="FOLDER",
                   help="only this folder path and its subfolders (repeatable), e.g. 'Inbox/Projects' or "
                        "'role:inbox'")
    p.add_argument("--exclude", action="append", default=[], metavar="FOLDER",
                   help="skip this folder and below (a path, or a role such as 'role:deleteditems')")
    p.add_argument("--since", metavar="DATE", help="only items delivered or sent on or after DATE (ISO 8601)")
    p.add_argument("--recover", action="store_true", help="also upload libpff's recovered orphan items")
    p.add_argument("--include-sync-issues", action="store_true",
                   help="also upload Outlook's Sync Issues/Conflicts/Local and Server Failures folders")
    p.add_argument("--order", choices=("usable-first", "folders"),
                   help="usable-first (default): the folder tree, contacts, the calendar, then the last 30 days' "
                        "mail newest first, then the rest newest first; folders: folder by folder in the store's order")
    p.add_argument("--break-lease", action="store_true",
                   help="take the mailbox even if another run's lease says it is busy (when that run is gone)")
    p.add_argument("--max-item-mb", dest="max_item_mb", type=int, metavar="MB",
                   help="items larger than this are not sent (default 35, Exchange's limit)")
    p.add_argument("--large-items", dest="large_items", choices=("skip", "strip"),
                   help="skip (report) items over the limit, or strip their largest attachments (saved in reports/)")
    p.add_argument("--batch-items", dest="batch_items", type=int, metavar="N")
    p.add_argument("--batch-bytes", dest="batch_bytes", type=int, metavar="BYTES")
    p.add_argument("--x500-domain", dest="x500_domain", metavar="DOMAIN",
                   help="domain of the IMCEAEX addresses given to Exchange senders the OST knows no SMTP "
                        "address for (default: the mailbox's domain)")
    add_codepage_flag(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_reader_flag(p)
    p.set_defaults(func=cmd_run, needs_state=True)

    v = sub.add_parser("verify", parents=[common], help="compare source and server by fingerprint",
                       description="Exit 1 when anything is missing or duplicated on the server.")
    v.add_argument("--ost", metavar="PATH")
    v.add_argument("--mailbox", metavar="ADDR")
    v.add_argument("--map", metavar="CSV", help="verify every row of a users CSV")
    add_target_flags(v)
    v.add_argument("--target-root", metavar="NAME")
    v.add_argument("--only", action="append", default=[], metavar="FOLDER", help="as for the run")
    v.add_argument("--exclude", action="append", default=[], metavar="FOLDER", help="as for the run")
    v.add_argument("--since", metavar="DATE", help="as for the run")
    v.add_argument("--include-sync-issues", action="store_true")
    add_codepage_flag(v)
    v.add_argument("--json", action="store_true")
    add_reader_flag(v)
    v.set_defaults(func=cmd_verify, needs_state=True)

    s = sub.add_parser("status", parents=[common], help="what the journal says, per mailbox")
    s.add_argument("--json", action="store_true")
    temporal.add_status_flags(s)
    s.set_defaults(func=cmd_status, needs_state=False)  # reads the journal; creates nothing


# -- run ----------------------------------------------------------------------------------------------
def _checked_since(flags: RunFlags) -> None:
    from pipeline.errors import UsageError
    from pipeline.selection import parse_since

    try:
        parse_since(flags.since)
    except ValueError:
        raise UsageError(f"--since {flags.since!r} is not an ISO date (e.g. 2024-01-31)") from None


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.closing import finish
    from pipeline.cli.jobs import jobs
    from pipeline.cli.mapping import MappingRow
    from pipeline.cli.progress import make_progress
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.errors import UsageError
    from pipeline.execution.local import LocalExecutor
    from pipeline.gate import check_inputs
    from pipeline.processes.interrupts import terminate_requests

    flags = RunFlags.from_args(args)
    if flags.map:
        if args.engine == "temporal":
            return _run_map_temporal(flags, TemporalFlags.from_args(args), settings)
        return run_map(flags, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    if args.engine == "temporal":
        raise UsageError("--engine temporal takes --map users.csv")
    ost = check_inputs(args.ost, args.mailbox)
    _checked_since(flags)
    row = MappingRow(line=0, ost=ost, mailbox=args.mailbox)
    executor = LocalExecutor(settings, 1)
    with terminate_requests(), make_progress(not flags.as_json) as progress:  # SIGTERM stops as Ctrl-C does
        if flags.dry_run:
            (summary,) = executor.submit(jobs([row], flags, None), progress)
        else:
            with endpoint_for(settings, flags.impersonate, [args.mailbox]) as endpoint:
                (summary,) = executor.submit(jobs([row], flags, endpoint), progress)
        return finish([summary], flags, settings)


def _run_map_temporal(flags: RunFlags, engine: TemporalFlags, settings: Settings) -> int:
    """--map on many machines: the CSV checked whole here (the workers open the OSTs), then submitted."""
    from pipeline.cli.jobs import checked_rows
    from pipeline.processes.interrupts import default_terminate

    assert flags.map is not None
    rows = checked_rows(Path(flags.map), flags.skip_invalid, open_sources=False)
    default_terminate()  # submitting and following have their own stop: SIGTERM ends it as it always did
    return temporal.run_map_temporal(flags, engine, settings, rows)


def run_map(flags: RunFlags, settings: Settings) -> int:
    """Many mailboxes on this machine: one mailbox's failure never stops the others."""
    from pipeline.address_books import SurveyTask, site_book, survey
    from pipeline.cli.closing import finish
    from pipeline.cli.jobs import accepted, jobs, row_options
    from pipeline.cli.mapping import load_mapping
    from pipeline.cli.progress import make_progress
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.execution.local import LocalExecutor
    from pipeline.processes.interrupts import terminate_requests

    assert flags.map is not None
    path = Path(flags.map)
    # Each file is opened once before anything is uploaded: the gate's check and its address book in one
    # survey (worker processes for many rows); the run reads the book the survey kept under its own key.
    rows, errors = load_mapping(path, survey_later=True)
    executor = LocalExecutor(settings, flags.workers)
    cache = settings.state_dir / "addressbooks"
    try:
        found = survey([SurveyTask(r.line, r.ost, r.mailbox, row_options(r, flags).selection, flags.codepage, cache)
                        for r in rows], executor.mailbox_workers)
    except KeyboardInterrupt:
        print("\nrebuild: interrupted while reading the address books; nothing was uploaded. "
              "Run the same command again to resume.", file=sys.stderr)
        return EXIT_FAILURES
    refused = {one.line: one.refused for one in found if one.refused is not None}
    errors += [row.refused(refused[row.line]) for row in rows if row.line in refused]
    rows = accepted(path, [row for row in rows if row.line not in refused], errors, flags.skip_invalid)
    book = site_book([one for one in found if one.line not in refused], cache,
                     json.dumps(sorted(f"{r.ost}|{r.mailbox}" for r in rows)))
    with terminate_requests(), make_progress(not flags.as_json) as progress:  # SIGTERM stops as Ctrl-C does
        if flags.dry_run:
            summaries = executor.submit(jobs(rows, flags, None, book), progress)
        else:
            with endpoint_for(settings, flags.impersonate, [r.mailbox for r in rows]) as endpoint:
                summaries = executor.submit(jobs(rows, flags, endpoint, book), progress)
        return finish(summaries, flags, settings)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.jobs import row_options
    from pipeline.cli.mapping import MappingRow
    from pipeline.destination import open_destination
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.errors import UsageError
    from pipeline.gate import check_inputs
    from pipeline.verify import render, verify_mailbox

    flags = RunFlags.from_args(args)
    _checked_since(flags)
    if flags.map:
        return verify_map(flags, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    check_inputs(args.ost, args.mailbox)
    options = row_options(MappingRow(line=0, ost=Path(args.ost), mailbox=args.mailbox), flags)
    with endpoint_for(settings, flags.impersonate, []) as endpoint:
        result = verify_mailbox(options, open_destination(endpoint, settings))
    if flags.as_json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(result))
    return EXIT_OK if result.ok else EXIT_FAILURES


def verify_map(flags: RunFlags, settings: Settings) -> int:
    """`verify --map`: every row with the row's own columns; exit 1 when any mailbox lacks or doubles items."""
    from pipeline.cli.jobs import checked_rows, jobs
    from pipeline.destination import open_destination
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.verify import render, verify_mailbox

    assert flags.map is not None
    rows = checked_rows(Path(flags.map), skip_invalid=False)
    results = []
    with endpoint_for(settings, flags.impersonate, []) as endpoint:
        for job in jobs(rows, flags, endpoint):
            results.append(verify_mailbox(job.options, open_destination(job.endpoint, settings)))
    if flags.as_json:
        json.dump([r.as_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            print(render(result))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURES


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import sqlite3

    from pipeline.state.journal import Journal
    from pipeline.state.problems import state_problem

    if args.temporal:
        return temporal.cmd_status_temporal(args, settings)
    if not settings.journal_path.exists():
        print(f"no journal at {settings.journal_path}: nothing has run with this state directory")
        return EXIT_OK
    with Journal(settings.journal_path, read_only=True) as journal:  # writes nothing: works on a full disk
        try:
            status = journal.status()
        except sqlite3.DatabaseError as exc:  # damaged beyond its first page
            raise state_problem(exc, settings.journal_path) or exc from None
    if args.json:
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    from pipeline.cli.closing import render_status

    print(render_status(status))
    return EXIT_OK
