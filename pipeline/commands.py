"""The main job's commands: `rebuild run` (the default), `rebuild verify` and `rebuild status`.

Argument parsing and printing only; the work is in run.py, journal.py and verify.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import add_reader_flag
from pipeline.execution import temporal_cli
from pipeline.settings import Settings

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="rebuild mailboxes (the default command)",
                       description="Rebuild one mailbox from its OST (--ost PATH --mailbox ADDR).")
    p.add_argument("--ost", metavar="PATH", help="the user's OST (or PST) file")
    p.add_argument("--mailbox", metavar="ADDR", help="SMTP address of the re-created mailbox")
    p.add_argument("--map", metavar="CSV", help="a CSV of users: ost,mailbox[,target_root,impersonate,only,exclude]")
    p.add_argument("--workers", type=int, metavar="N", help="mailboxes rebuilt at once with --map")
    p.add_argument("--skip-invalid", action="store_true", help="with --map: go on with the valid rows only")
    temporal_cli.add_engine_flags(p)
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
    temporal_cli.add_status_flags(s)
    s.set_defaults(func=cmd_status, needs_state=False)  # reads the journal; creates nothing


def add_codepage_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codepage", type=int, metavar="CP",
                   help="ANSI (Outlook 97-2002) stores: the Windows code page of their 8-bit strings (e.g. 932, "
                        "1251), overriding what the items say")


def add_target_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL", help="EWS URL (default: the embedded sandbox in the state dir)")
    p.add_argument("--auth", choices=("ntlm", "basic", "oauth"))
    p.add_argument("--username", help="the account to log in as; password from REBUILD_PASSWORD or a prompt")
    p.add_argument("--impersonate", action="store_true",
                   help="act for each mailbox as a service account holding the impersonation right")
    p.add_argument("--ca-bundle", dest="ca_bundle", metavar="PEM", help="CA certificates to trust for the server")
    add_graph_flags(p)


def add_graph_flags(p: argparse.ArgumentParser) -> None:
    """--destination graph (Exchange Online over Microsoft Graph) and its app registration."""
    p.add_argument("--destination", choices=("ews", "graph"), help="ews (default) or graph (Exchange Online)")
    p.add_argument("--tenant", help="Graph: the Entra ID tenant (id or domain)")
    p.add_argument("--client-id", dest="client_id", help="Graph: the app registration's client id "
                   "(secret from REBUILD_GRAPH_SECRET, or certificate from REBUILD_GRAPH_CERT)")
    p.add_argument("--graph-url", dest="graph_url", metavar="URL",
                   help="Graph's base URL (default: the embedded sandbox; https://graph.microsoft.com for Exchange Online)")


# -- run ----------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bulk import jobs
    from pipeline.closing import finish
    from pipeline.endpoint import endpoint_for
    from pipeline.errors import UsageError
    from pipeline.execution.local import LocalExecutor
    from pipeline.gate import check_inputs
    from pipeline.interrupts import terminate_requests
    from pipeline.mapping import MappingRow
    from pipeline.progress import make_progress
    from pipeline.selection import parse_since

    if args.map:
        from pipeline.bulk import run_map

        return run_map(args, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    if args.engine == "temporal":
        raise UsageError("--engine temporal takes --map users.csv")
    ost = check_inputs(args.ost, args.mailbox)
    try:
        parse_since(args.since)
    except ValueError:
        raise UsageError(f"--since {args.since!r} is not an ISO date (e.g. 2024-01-31)") from None
    row = MappingRow(line=0, ost=ost, mailbox=args.mailbox)
    executor = LocalExecutor(settings, 1)
    with terminate_requests(), make_progress(not args.json) as progress:  # SIGTERM stops as Ctrl-C does
        if args.dry_run:
            (summary,) = executor.submit(jobs([row], args, None), progress)
        else:
            with endpoint_for(settings, bool(args.impersonate), [args.mailbox]) as endpoint:
                (summary,) = executor.submit(jobs([row], args, endpoint), progress)
        return finish([summary], args, settings)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bulk import row_options
    from pipeline.destination import open_destination
    from pipeline.endpoint import endpoint_for
    from pipeline.errors import UsageError
    from pipeline.gate import check_inputs
    from pipeline.mapping import MappingRow
    from pipeline.selection import parse_since
    from pipeline.verify import render, verify_mailbox

    try:
        parse_since(args.since)
    except ValueError:
        raise UsageError(f"--since {args.since!r} is not an ISO date (e.g. 2024-01-31)") from None
    if args.map:
        from pipeline.bulk import verify_map

        return verify_map(args, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    check_inputs(args.ost, args.mailbox)
    options = row_options(MappingRow(line=0, ost=Path(args.ost), mailbox=args.mailbox), args)
    with endpoint_for(settings, bool(args.impersonate), []) as endpoint:
        result = verify_mailbox(options, open_destination(endpoint, settings))
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(result))
    return EXIT_OK if result.ok else EXIT_FAILURES


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    import sqlite3

    from pipeline.journal import Journal
    from pipeline.state_problems import state_problem

    if args.temporal:
        return temporal_cli.cmd_status_temporal(args, settings)
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
    from pipeline.closing import render_status

    print(render_status(status))
    return EXIT_OK
