"""The `rebuild` command line: one mailbox (default), --map CSV, and inspect/export/verify/status/sandbox.

The parser, the settings built from the flags, and each error turned into its one line and exit code
(pipeline/errors.py); each command registers its own subcommand from the module named for it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.cli.flags import add_source_flags, common_flags
from pipeline.errors import EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_STATE, EXIT_USAGE, StateError, UsageError
from pipeline.settings import Settings, SettingsError, load_settings

#: Words that name a subcommand; anything else after `rebuild` means the main job (`rebuild run`).
SUBCOMMANDS = ("run", "inspect", "export", "verify", "status", "sandbox", "x500", "worker", "discover")


def build_parser() -> argparse.ArgumentParser:
    common = common_flags()
    parser = argparse.ArgumentParser(
        prog="rebuild",
        description="Rebuild Exchange mailboxes from cached OST files. "
        "Without a subcommand: `rebuild --ost PATH --mailbox ADDR` (or --map users.csv).",
    )
    parser.add_argument("--version", action="version", version=f"rebuild {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    no_state = common_flags(state_made=False)  # inspect and export: a state directory only when one is given
    p = sub.add_parser("inspect", parents=[no_state], help="show the folder tree and counts of an OST/PST")
    add_source_flags(p, repeated="repeated: a mailbox's set of files, each shown, then their merged view")
    p.add_argument("--json", action="store_true", help="print JSON, its shape documented in the README (default: text)")
    p.set_defaults(func=_cmd_inspect, needs_state="if-given")  # a log file only with an explicit --state

    from pipeline.cli import commands, discover, export, temporal, x500
    from pipeline.sandbox import cli as sandbox_cli

    export.register(sub, no_state)
    x500.register(sub, no_state)
    discover.register(sub, no_state)
    for register in (commands.register, sandbox_cli.register, temporal.register):
        register(sub, common)
    return parser


def _cmd_inspect(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.inspect import run_inspect

    if len(args.ost) > 1:  # a mailbox's set of files (cli/inspect_set.py)
        from pipeline.cli.inspect_set import run_inspect_set

        return run_inspect_set(args.ost, as_json=args.json, recover=args.recover)
    return run_inspect(args.ost[0], as_json=args.json, recover=args.recover)


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        key: getattr(args, key, None)
        for key in (
            "state_dir",
            "batch_items",
            "batch_bytes",
            "log_level",
            "max_attempts",
            "max_item_mb",
            "large_items",
            "reader",
            "order",
        )
    }
    overrides.update({f"ews.{key}": getattr(args, key, None) for key in ("server", "auth", "username", "ca_bundle")})
    overrides["mailbox_workers"] = getattr(args, "workers", None)
    overrides["destination"] = getattr(args, "destination", None)
    overrides.update({f"graph.{key}": getattr(args, key, None) for key in ("tenant", "client_id")})
    overrides["graph.server"] = getattr(args, "graph_url", None)
    return load_settings(overrides)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["run", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from pipeline.destination.reach import Unreachable
    from pipeline.logs.terminal import shown

    settings: Settings | None = None
    try:
        settings = _settings_from(args)
        from pipeline.source import use_reader

        use_reader(settings.reader)
        from pipeline import logs
        from pipeline.state import private

        private.restrict_new_files()
        log_dir = None
        needs_state = getattr(args, "needs_state", True)
        if needs_state is True or (needs_state == "if-given" and hasattr(args, "state_dir")):
            try:
                private.state_dir(settings.state_dir)
            except OSError as exc:
                if settings.state_dir.exists() and not settings.state_dir.is_dir():  # bad input: exit 2
                    raise UsageError(
                        f"--state {settings.state_dir}: not a usable state directory: {exc.strerror or exc}"
                    ) from None
                raise StateError(
                    f"--state {settings.state_dir}",
                    f"not a usable state directory: {exc.strerror or exc}",
                    "give a directory this user can create and write",
                ) from None
            log_dir = settings.log_dir
        logs.configure(log_dir, settings.log_level, max_bytes=settings.log_max_bytes, backups=settings.log_backups)
        return int(args.func(args, settings))
    except (UsageError, SettingsError) as exc:
        print(f"rebuild: error: {shown(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except StateError as exc:
        print(f"rebuild: {shown(exc)}", file=sys.stderr)
        return EXIT_STATE
    except Unreachable as exc:
        print(f"rebuild: {shown(exc)}; nothing was done", file=sys.stderr)
        return EXIT_FAILURES
    except BrokenPipeError:
        _quiet_stdout()  # `rebuild ... | head`: the reader left; say nothing more
        return EXIT_FAILURES
    except KeyboardInterrupt:
        print("rebuild: interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, sqlite3.Error) as exc:  # a full disk, a read-only folder, a lock: one line, what to do
        from pipeline.state.problems import state_problem

        where = getattr(args, "out", None) or (settings.state_dir if settings is not None else "rebuild")
        problem = state_problem(exc, getattr(exc, "filename", None) or where)
        if problem is None:
            raise
        print(f"rebuild: {shown(problem)}", file=sys.stderr)
        return EXIT_STATE


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at the null device so that the interpreter's final flush is silent."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["UsageError", "main"]
