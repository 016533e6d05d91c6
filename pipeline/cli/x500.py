"""`rebuild x500`: the old legacyExchangeDN(s) of each mailbox, as a CSV and a ready PowerShell script.

After a server is rebuilt, replies to old internal mail bounce: old items address people by the
legacyExchangeDN of the lost organisation. Adding each old DN to the new mailbox as an X500 proxy
address makes Exchange deliver them again. The DNs come from each user's own OST (the address book of
convert/addressbook.py: the DN that sent the mail of Sent Items, and any DN the store resolves to the
mailbox's address); the admin reviews the CSV and runs the script in the Exchange Management Shell.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.convert.powershell import opening, quote, quoted_list, script
from pipeline.errors import EXIT_FAILURES, EXIT_OK
from pipeline.state.filenames import Folder


@dataclass(frozen=True, slots=True)
class ProxyRow:
    """One X500 proxy address to add to one mailbox."""

    mailbox: str
    legacy_dn: str
    source: str  # the OST it was found in

    @property
    def proxy(self) -> str:
        return f"X500:{self.legacy_dn}"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "x500",
        parents=[common],
        help="old legacyExchangeDNs as X500 proxy addresses (CSV + PowerShell)",
        description="For each mailbox, the legacyExchangeDN(s) its OST shows it had, written as "
        "x500.csv and x500.ps1 (Set-Mailbox -EmailAddresses @{add='X500:...'}).",
    )
    p.add_argument("--ost", metavar="PATH", help="one user's OST (with --mailbox) (default: none; or --map)")
    p.add_argument("--mailbox", metavar="ADDR", help="SMTP address of the re-created mailbox (required with --ost)")
    p.add_argument(
        "--map", metavar="CSV", help="the users CSV of the main job (default: one mailbox from --ost and --mailbox)"
    )
    p.add_argument("--out", metavar="DIR", default=".", help="where to write x500.csv and x500.ps1 (default .)")
    p.add_argument(
        "--codepage",
        type=int,
        metavar="CP",
        help="ANSI stores: the Windows code page of their 8-bit strings (default: what each item says)",
    )
    p.set_defaults(func=cmd_x500, needs_state="if-given")  # a log file only with an explicit --state


@dataclass(frozen=True, slots=True)
class UnresolvedRow:
    """An X500 entry of a mailbox's autocomplete list that neither the entry nor any address book resolves:
    the person it names needs this proxy on their new mailbox, which only the admin can tell."""

    found_in: str  # the mailbox whose autocomplete list holds it
    display_name: str
    legacy_dn: str
    source: str


def proxies_of(ost: Path, mailbox: str, codepage: int | None = None) -> list[ProxyRow]:
    """The mailbox owner's legacyExchangeDN(s) found in its OST, first-seen spelling, no duplicates."""
    return survey_of(ost, mailbox, codepage)[0]


def survey_of(ost: Path, mailbox: str, codepage: int | None = None) -> tuple[list[ProxyRow], list[UnresolvedRow]]:
    """The owner's DN(s), and the autocomplete list's X500 entries nothing resolves to SMTP (as the run's
    restore resolves them: the entry's cached address, then the store's address book)."""
    from pipeline.convert.user_settings import SettingKind, read_setting
    from pipeline.convert.user_settings.autocomplete import AutocompleteList
    from pipeline.convert.user_settings.nicknames import UNRESOLVED, resolve
    from pipeline.model import SourceItem
    from pipeline.rebuild.address_books import build_book
    from pipeline.source import open_source

    unresolved: list[UnresolvedRow] = []
    with open_source(ost, codepage=codepage) as source:
        folders = source.folders()
        book = build_book(source, folders, mailbox)
        owners = {dn.casefold() for dn in book.owner_dns()}
        for folder in folders:
            for entry in source.associated(folder):
                if not isinstance(entry, SourceItem) or not entry.message_class.lower().endswith("autocomplete"):
                    continue
                message = read_setting(entry)
                if message.kind is not SettingKind.AUTOCOMPLETE or not isinstance(message.record, AutocompleteList):
                    continue
                for one in message.record.entries:
                    found = resolve(one, lambda dn: book.lookup(dn)[0])
                    if found.how == UNRESOLVED and found.legacy_dn and found.legacy_dn.casefold() not in owners:
                        unresolved.append(UnresolvedRow(mailbox, one.display_name or "", found.legacy_dn, str(ost)))
    owner_rows = [ProxyRow(mailbox, dn, str(ost)) for dn in sorted(book.owner_dns(), key=str.casefold)]
    return owner_rows, unresolved


def powershell(rows: list[ProxyRow], when: datetime | None = None) -> str:
    """One Set-Mailbox line per mailbox adding all its X500 proxies (idempotent: Exchange ignores a proxy
    the mailbox already has)."""
    lines = opening(
        "`rebuild x500`",
        "Exchange Management Shell",
        (
            "Adds each mailbox's old legacyExchangeDN as an X500 proxy address, so that replies to mail",
            "sent before the rebuild reach the new mailbox.",
        ),
        when,
    )
    by_mailbox: dict[str, list[str]] = {}
    for row in rows:
        by_mailbox.setdefault(row.mailbox, []).append(row.proxy)
    for mailbox, proxies in by_mailbox.items():
        lines.append(f"Set-Mailbox -Identity {quote(mailbox)} -EmailAddresses @{{add={quoted_list(proxies)}}}")
    return script(lines)


def unresolved_csv(rows: list[UnresolvedRow]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["new_mailbox", "display_name", "legacy_dn", "proxy_address", "in_autocomplete_of", "found_in"])
    for row in rows:  # new_mailbox left for the admin: who this person is on the new server
        writer.writerow(["", row.display_name, row.legacy_dn, f"X500:{row.legacy_dn}", row.found_in, row.source])
    return out.getvalue()


def csv_text(rows: list[ProxyRow]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["mailbox", "legacy_dn", "proxy_address", "found_in"])
    for row in rows:
        writer.writerow([row.mailbox, row.legacy_dn, row.proxy, row.source])
    return out.getvalue()


def cmd_x500(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.errors import UsageError
    from pipeline.source import SourceOpenError

    if args.map:
        from pipeline.cli.jobs import checked_rows

        jobs = [(row.ost, row.mailbox) for row in checked_rows(Path(args.map), skip_invalid=False)]
    elif args.ost and args.mailbox:
        if "@" not in args.mailbox:
            raise UsageError(f"--mailbox {args.mailbox!r} is not an SMTP address")
        jobs = [(Path(args.ost), args.mailbox)]
    else:
        raise UsageError("give --ost PATH and --mailbox ADDR (or --map users.csv)")
    rows: list[ProxyRow] = []
    others: list[UnresolvedRow] = []
    missing = []
    for ost, mailbox in jobs:
        try:
            found, unresolved = survey_of(ost, mailbox, args.codepage)
        except SourceOpenError as exc:
            raise UsageError(str(exc)) from None
        if not found:
            missing.append(mailbox)
        rows.extend(found)
        others.extend(unresolved)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with Folder.open(out) as folder:  # a link planted at either name is replaced, never written through
        folder.replace("x500.csv", csv_text(rows).encode("utf-8"))
        # UTF-8 with a BOM: Windows PowerShell 5.1 reads a BOM-less script as the ANSI code page.
        folder.replace("x500.ps1", powershell(rows).encode("utf-8-sig"))
        if others:  # autocomplete entries no book resolves: the admin names their new mailboxes
            folder.replace("x500-unresolved.csv", unresolved_csv(others).encode("utf-8"))
    for row in rows:
        print(f"{row.mailbox}: {row.proxy}")
    for mailbox in missing:
        print(
            f"rebuild x500: {mailbox}: no legacyExchangeDN found in its OST (not an Exchange OST, or no sent mail)",
            file=sys.stderr,
        )
    print(f"wrote {out / 'x500.csv'} and {out / 'x500.ps1'} ({len(rows)} proxy address(es))")
    if others:
        print(
            f"wrote {out / 'x500-unresolved.csv'}: {len(others)} autocomplete entr(ies) by an old DN no address book "
            "resolves (fill in new_mailbox; each needs its X500 proxy there)"
        )
    return EXIT_FAILURES if missing else EXIT_OK
