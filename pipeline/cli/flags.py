"""Flags that several commands share, in argument groups by concern: state and logs, the source (what to read),
the EWS server and Microsoft Graph (where to write); and the shipped default each help text names.
"""

from __future__ import annotations

import argparse
import functools
import tomllib
from typing import Any

from pipeline.settings import DEFAULTS_FILE

#: Group titles, one per concern, in the order `--help` shows them.
READ, WRITE, EWS, GRAPH = (
    "what to read",
    "where to write",
    "EWS (Exchange on-premises)",
    "Microsoft Graph (Exchange Online)",
)
MANY_USERS, MANY_MACHINES, SELECTION = "many users (--map)", "many machines (Temporal)", "selection"
SAFETY, TUNING, STATE = "safety", "tuning", "state, logs and output"
SITE = "site page"


@functools.cache
def _shipped() -> dict[str, Any]:
    try:
        with DEFAULTS_FILE.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def shipped(name: str, section: str = "") -> str:
    """The default of a setting as config/default.toml ships it ('-' when absent), for help texts; the
    environment (REBUILD_*) and the config file may change it."""
    table = _shipped().get(section, {}) if section else _shipped()
    value = table.get(name, "-")
    return f"{value:_}".replace("_", ",") if isinstance(value, int) and not isinstance(value, bool) else str(value)


def group(parser: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """The parser's argument group of this title (made once, then reused)."""
    for existing in parser._action_groups:
        if existing.title == title:
            return existing
    return parser.add_argument_group(title)


def common_flags(state_made: bool = True) -> argparse.ArgumentParser:
    """--state and --log-level. state_made: the command creates and uses the state directory by default
    (inspect and export use one only when it is given)."""
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group(STATE)
    # SUPPRESS: a subcommand's own copy of these flags must not reset what was given before it
    # (`rebuild sandbox --state X add-mailbox ...`).
    where = (
        "state directory: logs, journal, reports and the embedded sandbox's data (default ./.rebuild)"
        if state_made
        else "a state directory for this command's log file (default: none, nothing written)"
    )
    g.add_argument("--state", dest="state_dir", metavar="DIR", default=argparse.SUPPRESS, help=where)
    g.add_argument(
        "--log-level",
        dest="log_level",
        choices=("debug", "info", "warning", "error"),
        default=argparse.SUPPRESS,
        help=f"log records also shown on the console (default {shipped('log_level')}); the log file "
        "in the state directory always has every record",
    )
    return common


def add_source_flags(parser: argparse.ArgumentParser, required: bool = True, repeated: str = "") -> None:
    """repeated: the help's words for a repeated --ost (a mailbox's set of files), where the command takes one."""
    g = group(parser, READ)
    if repeated:
        g.add_argument(
            "--ost", metavar="PATH", required=required, action="append", help=f"the OST or PST file to read; {repeated}"
        )
    else:
        g.add_argument("--ost", metavar="PATH", required=required, help="the OST or PST file to read")
    add_recover_flag(g, "also read")
    add_reader_flag(g)


def add_recover_flag(g: Any, verb: str, where: str = "") -> None:
    g.add_argument(
        "--recover",
        action="store_true",
        help=f"{verb} the orphan messages the file still holds though their folder is gone (both "
        f"readers find them){where} (default: off)",
    )


def add_reader_flag(parser: Any) -> None:
    parser.add_argument(
        "--reader",
        choices=("native", "libpff"),
        help="how to read the OST/PST: native (the project's own reader, every block checked) "
        f"or libpff (default {shipped('reader')})",
    )


def add_codepage_flag(p: Any) -> None:
    p.add_argument(
        "--codepage",
        type=int,
        metavar="CP",
        help="ANSI (Outlook 97-2002) stores: the Windows code page of their 8-bit strings (e.g. 932, "
        "1251), overriding what the items say (default: what each item says)",
    )


def add_target_flags(p: argparse.ArgumentParser) -> None:
    g = group(p, EWS)
    g.add_argument(
        "--server",
        metavar="URL",
        help="the EWS URL, e.g. https://mail.corp.example/EWS/Exchange.asmx (default: the embedded "
        "sandbox in the state directory)",
    )
    g.add_argument(
        "--auth",
        choices=("ntlm", "basic", "oauth"),
        help=f"how to log in to --server (default {shipped('auth', 'ews')}; oauth takes "
        "REBUILD_OAUTH_CLIENT_ID, _CLIENT_SECRET, _TENANT_ID)",
    )
    g.add_argument(
        "--username",
        help="the account to log in as, e.g. 'CORP\\svc-rebuild'; password from "
        "REBUILD_PASSWORD or a prompt (default: none)",
    )
    g.add_argument(
        "--impersonate",
        action="store_true",
        help="act for each mailbox as a service account holding the impersonation right (default: "
        "off, the account must own the mailbox or have full access)",
    )
    g.add_argument(
        "--ca-bundle",
        dest="ca_bundle",
        metavar="PEM",
        help="CA certificates to trust for the server (default: the system's)",
    )
    add_graph_flags(p)


def add_graph_flags(p: argparse.ArgumentParser) -> None:
    """--destination graph (Exchange Online over Microsoft Graph) and its app registration."""
    g = group(p, GRAPH)
    g.add_argument(
        "--destination",
        choices=("ews", "graph"),
        help=f"ews or graph (Exchange Online) (default {shipped('destination')})",
    )
    g.add_argument("--tenant", help="Graph: the Entra ID tenant, id or domain (default: none)")
    g.add_argument(
        "--client-id",
        dest="client_id",
        help="Graph: the app registration's client id "
        "(secret from REBUILD_GRAPH_SECRET, or certificate from REBUILD_GRAPH_CERT) (default: none)",
    )
    g.add_argument(
        "--graph-url",
        dest="graph_url",
        metavar="URL",
        help="Graph's base URL, https://graph.microsoft.com for Exchange Online (default: the embedded sandbox)",
    )
