"""`rebuild discover DIR...`: every OST/PST under the folders, whose mailbox each is, as a users CSV to edit.

Each file (by name: *.ost, *.pst, any case) passes the gate (a file that does not open is listed with the
gate's one line), then pipeline/source/owner.py reads whose it is from the file alone. Written to --out:
- users.csv: `ost,mailbox`, one row per file whose owner the file names: a mailbox whose desktop OST, laptop
  OST and archive PSTs were all found has one row per file (several rows per mailbox: one merge job of
  `--map`, rebuild/merge.py);
- unassigned.csv: `ost,reason` for every other file (no owner found, two owners claimed, no SMTP address for
  the owner found, or the gate's refusal);
- owners.csv: `ost,mailbox,legacy_dn,evidence`, what each decision rests on, for the admin's review.
Exit 0 when every file found is assigned, 1 when some are listed in unassigned.csv, 2 when a DIR is missing.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.errors import EXIT_FAILURES, EXIT_OK, UsageError
from pipeline.state.filenames import Folder

SUFFIXES = (".ost", ".pst")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "discover",
        parents=[common],
        help="find every OST/PST under folders and whose mailbox each is",
        description="Reads every OST/PST under the given folders and works out whose mailbox each "
        "is (store owner entry, Sent Items' sender, Inbox delivery stamp, the file's own "
        "address data): users.csv (one row per file), unassigned.csv, owners.csv.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders to search (recursively)")
    p.add_argument("--out", metavar="DIR", default=".", help="where to write the CSV files (default .)")
    p.set_defaults(func=cmd_discover, needs_state=False)


def data_files(dirs: list[Path]) -> Iterator[Path]:
    """Every *.ost / *.pst under the folders, sorted, each once; links to folders are not followed."""
    seen: set[Path] = set()
    for top in dirs:
        for root, folders, files in os.walk(top):
            folders[:] = sorted(name for name in folders if not _is_link(os.path.join(root, name)))
            for name in sorted(files):
                path = Path(root) / name
                if path.suffix.lower() in SUFFIXES and Path(os.path.abspath(path)) not in seen:
                    seen.add(Path(os.path.abspath(path)))
                    yield Path(os.path.abspath(path))


def _is_link(path: str) -> bool:
    """A symbolic link, or on Windows a junction (os.path.isjunction: Python 3.12+), to a folder."""
    isjunction = getattr(os.path, "isjunction", None)
    return os.path.islink(path) or bool(isjunction and isjunction(path))


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def cmd_discover(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.source import SourceOpenError
    from pipeline.source.gate import open_checked
    from pipeline.source.owner import owner_of

    dirs = [Path(d) for d in args.dirs]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"{d}: not a folder")
    users: list[list[str]] = []
    unassigned: list[list[str]] = []
    owners: list[list[str]] = []
    for path in data_files(dirs):
        try:
            with open_checked(path) as source:
                found = owner_of(source)
        except SourceOpenError as exc:  # the gate's one line, without the path the row already names
            unassigned.append([str(path), f"does not open: {str(exc).removeprefix(f'{path}: ')}"])
            continue
        evidence = "; ".join(
            f"{c.how}: {c.names()} ({c.items} item(s))" if c.how != "store owner entry" else f"{c.how}: {c.legacy_dn}"
            for c in found.claims
        )
        if found.assigned:
            assert found.mailbox is not None
            users.append([str(path), found.mailbox])
            owners.append([str(path), found.mailbox, found.legacy_dn or "", evidence])
        else:
            unassigned.append([str(path), found.problem])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with Folder.open(out) as folder:  # a link planted at any of the names is replaced, never written through
        folder.replace("users.csv", _csv(["ost", "mailbox"], users))
        folder.replace("unassigned.csv", _csv(["ost", "reason"], unassigned))
        folder.replace("owners.csv", _csv(["ost", "mailbox", "legacy_dn", "evidence"], owners))
    mailboxes = len({row[1].casefold() for row in users})
    for path_text, reason in unassigned:
        print(f"rebuild discover: {path_text}: {reason}", file=sys.stderr)
    print(
        f"{len(users)} file(s) of {mailboxes} mailbox(es) in {out / 'users.csv'}; "
        f"{len(unassigned)} not assigned in {out / 'unassigned.csv'}"
    )
    return EXIT_FAILURES if unassigned else EXIT_OK
