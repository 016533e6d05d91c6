"""The main job's commands: `rebuild run` (the default, one mailbox or a users CSV), `rebuild verify` and
`rebuild status`.

Argument parsing and printing only; the work is in run.py (through an executor), journal.py and verify.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.cli import temporal
from pipeline.cli.flags import (
    MANY_MACHINES,
    MANY_USERS,
    READ,
    SAFETY,
    SELECTION,
    SITE,
    STATE,
    TUNING,
    WRITE,
    add_codepage_flag,
    add_reader_flag,
    add_recover_flag,
    add_target_flags,
    group,
    shipped,
)
from pipeline.cli.options import RunFlags, TemporalFlags
from pipeline.errors import EXIT_FAILURES, EXIT_OK, UsageError
from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "run",
        parents=[common],
        help="rebuild mailboxes (the default command)",
        description="Rebuild one mailbox from its OST (--ost PATH --mailbox ADDR), or every "
        "mailbox of a users CSV (--map users.csv).",
    )
    read = group(p, READ)
    read.add_argument(
        "--ost",
        metavar="PATH",
        action="append",
        help="the user's OST (or PST) file (required without --map); repeated: every cache of the mailbox "
        "(desktop and laptop OSTs, archive PSTs), merged: each item once, in its newest state",
    )
    read.add_argument(
        "--merge",
        action="store_true",
        help="merge even with one --ost: a further file of a mailbox an earlier merge run rebuilt (items "
        "already there are found wherever they are, and given this file's newer states) (default: off; on with "
        "several --ost)",
    )
    add_reader_flag(read)
    add_codepage_flag(read)
    read.add_argument(
        "--x500-domain",
        dest="x500_domain",
        metavar="DOMAIN",
        help="domain of the IMCEAEX addresses given to Exchange senders the OST knows no SMTP "
        "address for (default: the mailbox's domain)",
    )
    write = group(p, WRITE)
    write.add_argument(
        "--mailbox", metavar="ADDR", help="SMTP address of the re-created mailbox (required without --map)"
    )
    write.add_argument(
        "--target-root",
        metavar="NAME",
        help="put everything under one new folder (e.g. 'Recovered 2026-11-24') (default: merge "
        "into the mailbox's own folders)",
    )
    write.add_argument(
        "--create",
        action="store_true",
        help="the embedded sandbox: make the mailboxes it does not have (default: only on its first "
        "run; a new address beside existing ones is refused, naming the nearest, as a likely typo)",
    )
    group(p, STATE).add_argument("--json", action="store_true", help="print the summary as JSON (default: text)")
    add_target_flags(p)
    users = group(p, MANY_USERS)
    users.add_argument(
        "--map",
        metavar="CSV",
        help="a CSV of users: ost,mailbox[,target_root,impersonate,only,exclude] (default: one "
        "mailbox from --ost and --mailbox)",
    )
    users.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"mailboxes rebuilt at once with --map (default {shipped('mailbox_workers')})",
    )
    users.add_argument(
        "--skip-invalid",
        action="store_true",
        help="with --map: go on with the valid rows only (default: stop at a bad row)",
    )
    add_site_flags(
        group(p, SITE),
        "with --map on this machine: serve the live site page while the run goes "
        "(default: off; reports/site.html is written at the end of every --map run)",
    )
    temporal.add_engine_flags(group(p, MANY_MACHINES))
    sel = group(p, SELECTION)
    add_selection_flags(sel)
    add_recover_flag(sel, "also upload", ", into 'Recovered items'")
    sel.add_argument(
        "--settings",
        type=_settings_flag,
        metavar="all|none|LIST",
        help="the user's settings to restore after the items, merged with the mailbox's own: all, "
        "none, or a comma-separated list of categories, workhours, autocomplete, searchfolders, junk, "
        "shortcuts, rules, options (default all)",
    )
    safety = group(p, SAFETY)
    safety.add_argument(
        "--dry-run", action="store_true", help="read, plan and count; write nothing to the server (default: off)"
    )
    safety.add_argument(
        "--break-lease",
        action="store_true",
        help="take the mailbox even if another run's lease says it is busy, when that run is gone (default: off)",
    )
    safety.add_argument(
        "--max-item-mb",
        dest="max_item_mb",
        type=int,
        metavar="MB",
        help=f"items larger than this are not sent (default {shipped('max_item_mb')}, Exchange's limit)",
    )
    safety.add_argument(
        "--large-items",
        dest="large_items",
        choices=("skip", "strip"),
        help="skip (and report) items over the limit, or strip their largest attachments "
        f"(saved in reports/) (default {shipped('large_items')})",
    )
    tuning = group(p, TUNING)
    tuning.add_argument(
        "--order",
        choices=("usable-first", "folders"),
        help="usable-first: the folder tree, contacts, the calendar, then the last 30 days' mail "
        "newest first, then the rest newest first; folders: folder by folder in the store's "
        f"order (default {shipped('order')})",
    )
    tuning.add_argument(
        "--batch-items",
        dest="batch_items",
        type=int,
        metavar="N",
        help=f"items per upload request (default {shipped('batch_items')})",
    )
    tuning.add_argument(
        "--batch-bytes",
        dest="batch_bytes",
        type=int,
        metavar="BYTES",
        help=f"bytes per upload request at most (default {shipped('batch_bytes')})",
    )
    p.set_defaults(func=cmd_run, needs_state=True)

    v = sub.add_parser(
        "verify",
        parents=[common],
        help="compare source and server by fingerprint",
        description="Source against server, folder by folder, without the journal. "
        "Exit 1 when anything is missing or duplicated on the server.",
    )
    read = group(v, READ)
    read.add_argument(
        "--ost",
        metavar="PATH",
        action="append",
        help="the OST (or PST) file the run read (required without --map); repeated: a merge run's set, checked "
        "against its merged expectation",
    )
    read.add_argument("--merge", action="store_true", help="check one --ost as a merge run's set of one (default: off)")
    add_reader_flag(read)
    add_codepage_flag(read)
    write = group(v, WRITE)
    write.add_argument(
        "--mailbox", metavar="ADDR", help="SMTP address of the mailbox the run wrote (required without --map)"
    )
    write.add_argument(
        "--target-root",
        metavar="NAME",
        help="as for the run: the folder it wrote under (default: the mailbox's own folders)",
    )
    group(v, STATE).add_argument("--json", action="store_true", help="print the result as JSON (default: text)")
    add_target_flags(v)
    group(v, MANY_USERS).add_argument(
        "--map",
        metavar="CSV",
        help="verify every row of a users CSV, with each row's own columns (default: one mailbox "
        "from --ost and --mailbox)",
    )
    add_selection_flags(group(v, SELECTION), "as for the run: ")
    v.set_defaults(func=cmd_verify, needs_state=True)

    s = sub.add_parser(
        "status",
        parents=[common],
        help="what the journal says, per mailbox",
        description="Per mailbox, the last run and what the journal holds (read-only: creates "
        "and writes nothing); with --temporal, every submitted mailbox.",
    )
    group(s, STATE).add_argument("--json", action="store_true", help="print JSON (default: text)")
    temporal.add_status_flags(group(s, MANY_MACHINES))
    add_site_flags(
        group(s, SITE),
        "serve the live site page until Ctrl-C, from the journal (with --temporal: "
        "from the workflows) (default: print and exit)",
    )
    s.set_defaults(func=cmd_status, needs_state=False)  # reads the journal; creates nothing


def add_site_flags(g: argparse._ArgumentGroup, serve_help: str) -> None:
    from pipeline.site.server import DEFAULT_PORT

    g.add_argument("--serve", action="store_true", help=serve_help)
    g.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"the site page's port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )


def add_selection_flags(g: argparse._ArgumentGroup, prefix: str = "") -> None:
    """--only, --exclude, --since, --include-sync-issues: which folders and items (pipeline/selection.py)."""
    g.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FOLDER",
        help=f"{prefix}only this folder path and its subfolders (repeatable), e.g. 'Inbox/Projects' "
        "or 'role:inbox' (default: every folder)",
    )
    g.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FOLDER",
        help=f"{prefix}skip this folder and below (repeatable; a path, or a role such as "
        "'role:deleteditems') (default: none)",
    )
    g.add_argument(
        "--since",
        metavar="DATE",
        help=f"{prefix}only items delivered or sent on or after DATE (ISO 8601) (default: all)",
    )
    g.add_argument(
        "--include-sync-issues",
        action="store_true",
        help=f"{prefix}also Outlook's Sync Issues/Conflicts/Local and Server Failures folders (default: off)",
    )


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
    from pipeline.processes.interrupts import terminate_requests
    from pipeline.source.gate import check_inputs

    flags = RunFlags.from_args(args)
    if flags.serve_port is not None and (not flags.map or args.engine == "temporal"):
        raise UsageError(
            "--serve shows a --map run on this machine; for one mailbox or --engine temporal, "
            "`rebuild status --serve` (with --temporal HOST:PORT) shows the same page"
        )
    if flags.map:
        if args.engine == "temporal":
            return _run_map_temporal(flags, TemporalFlags.from_args(args), settings)
        return run_map(flags, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    if args.engine == "temporal":
        raise UsageError("--engine temporal takes --map users.csv")
    ost, *more = [check_inputs(path, args.mailbox) for path in args.ost]
    given = [p.resolve() for p in (ost, *more)]
    twice = sorted({str(p) for p, real in zip(more, given[1:], strict=True) if given.count(real) > 1})
    if twice:
        raise UsageError(f"--ost {twice[0]} is given twice")
    _checked_since(flags)
    row = MappingRow(line=0, ost=ost, mailbox=args.mailbox, more=tuple(more))
    executor = LocalExecutor(settings, 1)
    with terminate_requests(), make_progress(not flags.as_json, per_folder=not flags.as_json) as progress:
        if flags.dry_run:  # (SIGTERM stops as Ctrl-C does)
            (summary,) = executor.submit(jobs([row], flags, None), progress)
        else:
            with endpoint_for(settings, flags.impersonate, [args.mailbox], flags.create) as endpoint:
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
    from pipeline.cli.closing import finish
    from pipeline.cli.jobs import accepted, jobs, row_options
    from pipeline.cli.mapping import load_mapping, refusals
    from pipeline.cli.progress import make_progress
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.execution.local import LocalExecutor
    from pipeline.processes.interrupts import terminate_requests
    from pipeline.rebuild.address_books import SurveyTask, site_book, survey
    from pipeline.site.live import LiveSite, tee

    assert flags.map is not None
    path = Path(flags.map)
    # Each file is opened once before anything is uploaded: the gate's check and its address book in one
    # survey (worker processes for many rows); the run reads the book the survey kept under its own key.
    # A mailbox's set is surveyed file by file (each once): its run finds every file's book kept.
    rows, errors = load_mapping(path, survey_later=True)
    executor = LocalExecutor(settings, flags.workers)
    cache = settings.state_dir / "addressbooks"
    try:
        found = survey(
            [
                SurveyTask(line, ost, r.mailbox, row_options(r, flags).selection, flags.codepage, cache)
                for r in rows
                for line, ost in r.files
            ],
            executor.mailbox_workers,
        )
    except KeyboardInterrupt:
        print(
            "\nrebuild: interrupted while reading the address books; nothing was uploaded. "
            "Run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_FAILURES
    refused = {one.line: one.refused for one in found if one.refused is not None}
    rows, more_errors = refusals(rows, refused)
    rows = accepted(path, rows, errors + more_errors, flags.skip_invalid)
    kept = {line for r in rows for line, _ in r.files}
    book = site_book(
        [one for one in found if one.line in kept],
        cache,
        json.dumps(sorted(f"{ost}|{r.mailbox}" for r in rows for _, ost in r.files)),
    )
    site = LiveSite(path.name, [r.mailbox for r in rows])
    with (
        terminate_requests(),
        make_progress(not flags.as_json, per_folder=False) as console,
        served(site, settings, flags.serve_port),
    ):
        progress = tee(console, site)  # (SIGTERM stops as Ctrl-C does)
        if flags.dry_run:
            summaries = executor.submit(jobs(rows, flags, None, book), progress)
        else:
            with endpoint_for(settings, flags.impersonate, [r.mailbox for r in rows], flags.create) as endpoint:
                summaries = executor.submit(jobs(rows, flags, endpoint, book), progress)
        return finish(summaries, flags, settings, site)


@contextlib.contextmanager
def served(site: Any, settings: Settings, port: int | None) -> Iterator[None]:
    """The live site page of a --map run while it goes, when --serve asked for it (port None: not served)."""
    if port is None:
        yield
        return
    from pipeline.site.server import SiteServer

    try:
        server = SiteServer(site.snapshot, settings.reports_dir, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot serve the site page there: {exc.strerror or exc}") from None
    with server:
        print(f"site: {server.url} (while the run goes; reports/site.html when it ends)", file=sys.stderr)
        yield


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.jobs import row_options
    from pipeline.cli.mapping import MappingRow
    from pipeline.destination import open_destination
    from pipeline.destination.endpoint import endpoint_for
    from pipeline.errors import UsageError
    from pipeline.rebuild.verify import render, verify_mailbox
    from pipeline.source.gate import check_inputs

    flags = RunFlags.from_args(args)
    _checked_since(flags)
    if flags.map:
        return verify_map(flags, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    ost, *more = [check_inputs(path, args.mailbox) for path in args.ost]
    options = row_options(MappingRow(line=0, ost=ost, mailbox=args.mailbox, more=tuple(more)), flags)
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
    from pipeline.rebuild.verify import render, verify_mailbox

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
    if args.serve:
        return serve_status(settings, args.port)
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


def _settings_flag(text: str) -> tuple[str, ...]:
    from pipeline.convert.user_settings.merge import SelectionError, parse_selection

    try:
        return parse_selection(text)
    except SelectionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def serve_status(settings: Settings, port: int) -> int:
    """`rebuild status --serve`: the site page from the journal (read-only, read again at each refresh) until
    Ctrl-C; the rate of items over time is what this process saw while serving."""
    import sqlite3

    from pipeline.site.model import RateSeries, Snapshot, failure_files, rows_from_status
    from pipeline.site.server import serve_until_stopped
    from pipeline.state.journal import Journal

    rate = RateSeries()
    title = str(settings.state_dir.resolve())

    def snapshot() -> Snapshot:
        status: list[dict] = []
        if settings.journal_path.exists():
            try:
                with Journal(settings.journal_path, read_only=True) as journal:
                    status = journal.status()
            except (sqlite3.Error, OSError):
                status = []  # locked for a moment, or damaged: the next refresh tries again
        rows = rows_from_status(status, failure_files(settings.reports_dir))
        rate.sample(sum(r.done for r in rows))
        return Snapshot(title, rows, rate.points())

    try:
        serve_until_stopped(snapshot, settings.reports_dir, port)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot serve the site page there: {exc.strerror or exc}") from None
    return EXIT_OK
