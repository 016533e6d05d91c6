"""Flags that several commands share: state and log level, the source, the target server and Graph."""

from __future__ import annotations

import argparse


def common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's own copy of these flags must not reset what was given before it
    # (`rebuild sandbox --state X add-mailbox ...`).
    common.add_argument("--state", dest="state_dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="state directory for logs, journal and the sandbox (default ./.rebuild)")
    common.add_argument("--log-level", dest="log_level", choices=("debug", "info", "warning", "error"),
                        default=argparse.SUPPRESS)
    return common


def add_source_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--ost", metavar="PATH", required=required, help="the OST or PST file to read")
    parser.add_argument("--recover", action="store_true",
                        help="also read the orphan items libpff recovers from unallocated space")
    add_reader_flag(parser)


def add_reader_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reader", choices=("native", "libpff"),
                        help="how to read the OST/PST: the native reader (every block checked) or libpff")


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
