"""The main job's commands: `rebuild run` (the default), `rebuild status`, and the embedded sandbox target.

Argument parsing and printing only; the work is in run.py, journal.py and verify.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.settings import Settings

EMBEDDED_USER = "rebuild-service"
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common], help="rebuild mailboxes (the default command)",
                       description="Rebuild one mailbox from its OST (--ost PATH --mailbox ADDR).")
    p.add_argument("--ost", metavar="PATH", help="the user's OST (or PST) file")
    p.add_argument("--mailbox", metavar="ADDR", help="SMTP address of the re-created mailbox")
    p.add_argument("--map", metavar="CSV", help="a CSV of users: ost,mailbox[,target_root,impersonate,only,exclude]")
    p.add_argument("--workers", type=int, metavar="N", help="mailboxes rebuilt at once with --map")
    p.add_argument("--skip-invalid", action="store_true", help="with --map: go on with the valid rows only")
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
    p.add_argument("--batch-items", dest="batch_items", type=int, metavar="N")
    p.add_argument("--batch-bytes", dest="batch_bytes", type=int, metavar="BYTES")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_run, needs_state=True)

    v = sub.add_parser("verify", parents=[common], help="compare source and server by fingerprint",
                       description="Exit 1 when anything is missing or duplicated on the server.")
    v.add_argument("--ost", metavar="PATH")
    v.add_argument("--mailbox", metavar="ADDR")
    v.add_argument("--map", metavar="CSV", help="verify every row of a users CSV")
    add_target_flags(v)
    v.add_argument("--target-root", metavar="NAME")
    v.add_argument("--include-sync-issues", action="store_true")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify, needs_state=True)

    s = sub.add_parser("status", parents=[common], help="what the journal says, per mailbox")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status, needs_state=False)  # reads the journal; creates nothing


def add_target_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL", help="EWS URL (default: the embedded sandbox in the state dir)")
    p.add_argument("--auth", choices=("ntlm", "basic", "oauth"))
    p.add_argument("--username", help="the account to log in as; password from REBUILD_PASSWORD or a prompt")
    p.add_argument("--impersonate", action="store_true",
                   help="act for each mailbox as a service account holding the impersonation right")
    p.add_argument("--ca-bundle", dest="ca_bundle", metavar="PEM", help="CA certificates to trust for the server")


# -- the embedded sandbox -----------------------------------------------------------------------------
def _embedded_credentials(settings: Settings) -> tuple[str, str]:
    """The service account of the embedded sandbox: made once, kept owner-only in the state dir."""
    path = settings.sandbox_dir / "embedded-account.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["username"], data["password"]
    settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"username": EMBEDDED_USER, "password": password}, fh)
    return EMBEDDED_USER, password


@contextlib.contextmanager
def target_for(settings: Settings, args: argparse.Namespace, mailboxes: list[str]) -> Iterator[Any]:
    """The Target to upload to: the named server, or the embedded sandbox started for this run."""
    from pipeline.target.connect import Target

    if not settings.uses_sandbox:
        from pipeline.reach import check_target

        check_target(settings)  # flags, then one request: nothing is read or sent for a server that is down
        yield Target(server=settings.server, username=settings.username, auth=settings.auth,
                     impersonate=bool(getattr(args, "impersonate", False)), ca_bundle=settings.ca_bundle,
                     timeout=settings.request_timeout)
        return
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.store import SandboxStore

    username, password = _embedded_credentials(settings)
    store = SandboxStore(settings.sandbox_dir)
    try:
        if store.account(username) is None:
            store.add_account(username, password, impersonation=True)
        for mailbox in mailboxes:
            if not store.has_mailbox(mailbox):
                store.add_mailbox(mailbox)
                print(f"sandbox: created mailbox {mailbox} (the embedded sandbox stands in for Exchange)",
                      file=sys.stderr)
    finally:
        store.close()
    with start(settings.sandbox_dir) as handle:
        yield Target(server=handle.url, username=username, auth="ntlm", impersonate=True, password=password,
                     timeout=settings.request_timeout)


# -- run ----------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bulk import run_rows
    from pipeline.closing import finish
    from pipeline.errors import UsageError
    from pipeline.gate import check_inputs
    from pipeline.mapping import MappingRow
    from pipeline.progress import make_progress
    from pipeline.run import parse_since

    if args.map:
        from pipeline.bulk import run_map

        return run_map(args, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    ost = check_inputs(args.ost, args.mailbox)
    try:
        parse_since(args.since)
    except ValueError:
        raise UsageError(f"--since {args.since!r} is not an ISO date (e.g. 2024-01-31)") from None
    row = MappingRow(line=0, ost=ost, mailbox=args.mailbox)
    with make_progress(not args.json) as progress:
        if args.dry_run:
            (summary,) = run_rows([row], args, settings, None, 1, progress)
        else:
            with target_for(settings, args, [args.mailbox]) as target:
                (summary,) = run_rows([row], args, settings, target, 1, progress)
    return finish([summary], args, settings)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.errors import UsageError
    from pipeline.gate import check_inputs
    from pipeline.run import RunOptions
    from pipeline.verify import render, verify_mailbox

    if args.map:
        from pipeline.bulk import verify_map

        return verify_map(args, settings)
    if not args.ost or not args.mailbox:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    check_inputs(args.ost, args.mailbox)
    options = RunOptions(ost=Path(args.ost), mailbox=args.mailbox, target_root=args.target_root)
    with target_for(settings, args, []) as target:
        result = verify_mailbox(options, target, args.include_sync_issues)
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(result))
    return EXIT_OK if result.ok else EXIT_FAILURES


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.journal import Journal

    if not settings.journal_path.exists():
        print(f"no journal at {settings.journal_path}: nothing has run with this state directory")
        return EXIT_OK
    with Journal(settings.journal_path) as journal:
        status = journal.status()
    if args.json:
        json.dump(status, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    from pipeline.closing import render_status

    print(render_status(status))
    return EXIT_OK
