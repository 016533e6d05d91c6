"""`rebuild export`: its flags, and the call into pipeline/export/writer.py that writes the converted tree."""

from __future__ import annotations

import argparse

from pipeline.cli.flags import add_reader_flag, add_recover_flag
from pipeline.export.writer import AUTO_WORKERS_FROM, run_export


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "export", parents=[common], help="write the converted items to a directory tree (.eml/.ics/.vcf/.json)"
    )
    parser.add_argument("--ost", metavar="PATH", required=True, help="the OST or PST file to read")
    parser.add_argument("--out", metavar="DIR", required=True, help="directory to write (created if needed)")
    add_recover_flag(parser, "also export", ", under 'Recovered items'")
    parser.add_argument(
        "--x500-domain",
        dest="x500_domain",
        metavar="DOMAIN",
        help="domain for IMCEAEX addresses of Exchange senders without a cached SMTP address "
        "(default: --mailbox's domain)",
    )
    parser.add_argument(
        "--mailbox",
        metavar="ADDR",
        help="the owner's SMTP address: their own Exchange (legacyExchangeDN) sender resolves to it (default: none)",
    )
    parser.add_argument(
        "--codepage",
        type=int,
        metavar="CP",
        help="ANSI stores: the Windows code page of their 8-bit strings, overriding the items' "
        "(default: what each item says)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes sharing the work (folders and ranges of big folders); default: one per "
        f"core for files of {AUTO_WORKERS_FROM:,} items or more, else 1",
    )
    add_reader_flag(parser)
    parser.set_defaults(func=handler, needs_state="if-given")  # a log file only with an explicit --state


def handler(args: argparse.Namespace, settings: object) -> int:
    return run_export(
        args.ost,
        args.out,
        recover=args.recover,
        x500_domain=args.x500_domain,
        workers=None if args.workers is None else max(1, args.workers),
        mailbox=args.mailbox,
        codepage=args.codepage,
    )
