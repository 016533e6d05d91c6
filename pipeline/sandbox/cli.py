"""`rebuild sandbox ...` commands: serve, add-mailbox, add-account, add-app, ls, faults, stats, preview.

Registered into the rebuild CLI by `register`; runnable alone as `python -m pipeline.sandbox` (subprocesses).
Each command imports what it needs when it runs: every `rebuild` start registers this module, so what it
imports at the top is paid by every command (importing the sandbox's own modules here too costs ~15 ms).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ENV_PASSWORD = "REBUILD_SANDBOX_PASSWORD"
DEFAULT_PORT = 8765


def _data_dir(args: argparse.Namespace, settings: Any) -> Path:
    if getattr(args, "data", None):
        return Path(args.data)
    return Path(settings.sandbox_dir)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("sandbox", parents=[common], help="the local EWS sandbox server and its mailboxes")
    parser.set_defaults(func=lambda args, settings: _no_command(parser), needs_state=False)
    _add_commands(parser, common)


def _no_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_commands(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="sandbox_command", metavar="SANDBOX_COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, parents=[common], help=help_text)
        p.add_argument("--data", metavar="DIR", help="sandbox data folder (default <state>/sandbox)")
        p.set_defaults(needs_state=True)
        return p

    p = add("serve", "run the sandbox EWS server in the foreground")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind, loopback unless --allow-remote (default 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    p.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address (default: off)")
    p.add_argument(
        "--config", metavar="FILE", help="load accounts and mailboxes from a TOML/JSON file first (default: none)"
    )
    p.add_argument(
        "--max-item-mb", type=float, help="per-item size limit in MB (default 35, as the run's --max-item-mb)"
    )
    p.add_argument("--max-request-mb", type=float, help="request size limit in MB (default 35)")
    p.add_argument(
        "--oversize-answer",
        choices=("404.13", "413", "507"),
        help="how an oversized request is refused (default 404.13, IIS request filtering)",
    )
    p.add_argument(
        "--max-concurrency",
        type=int,
        help="EWSMaxConcurrency: requests one account may have in progress (default 27; 0 = no limit)",
    )
    p.add_argument(
        "--search-lag-s",
        type=float,
        help="seconds a new or changed item stays invisible to restricted FindItem (default 0)",
    )
    p.add_argument(
        "--rules-quota-bytes",
        type=int,
        help="RulesQuota: the room a mailbox's inbox rules may take (default 65536, Exchange's 64 KB)",
    )
    p.add_argument("--max-item-bytes", type=int, help=argparse.SUPPRESS)
    p.add_argument("--max-request-bytes", type=int, help=argparse.SUPPRESS)
    p.add_argument(
        "--faults",
        metavar="JSON",
        help="fault rules for this run only, not written to faults.json (default: faults.json's)",
    )
    p.add_argument("--ready-file", metavar="PATH", help=argparse.SUPPRESS)
    p.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = add("add-mailbox", "create a mailbox with Exchange's default folders")
    p.add_argument("address", help="the mailbox's SMTP address")
    p.add_argument("--name", help="display name (default: the address's local part)")
    p.set_defaults(func=cmd_add_mailbox)

    p = add("add-account", f"create or replace a login (password from {ENV_PASSWORD} or a prompt)")
    p.add_argument("username", help="the login name, e.g. svc-rebuild")
    p.add_argument(
        "--impersonation", action="store_true", help="grant the ApplicationImpersonation right (default: off)"
    )
    p.set_defaults(func=cmd_add_account)

    p = add(
        "add-app",
        "register a Graph app: client id and secret (secret from REBUILD_SANDBOX_APP_SECRET "
        "or a prompt), with application rights on every mailbox",
    )
    p.add_argument("client_id", help="the app's client id, as --client-id gives it to a run")
    p.set_defaults(func=cmd_add_app)

    p = add("load", "create the accounts and mailboxes listed in a TOML or JSON file")
    p.add_argument(
        "file",
        help="file with [[mailboxes]] (address, name) and [[accounts]] "
        "(username, password_env or password, impersonation)",
    )
    p.set_defaults(func=cmd_load)

    p = add("ls", "show a mailbox: folder tree, counts, items with their properties")
    p.add_argument("--mailbox", required=False, help="mailbox address (default: list the mailboxes and accounts)")
    p.add_argument("--props", action="store_true", help="also every extended property of each item (default: off)")
    p.add_argument("--json", action="store_true", help="print JSON (default: text)")
    p.set_defaults(func=cmd_ls)

    p = add("faults", "show, set or clear injected faults (of the running server, or for its next start)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--set",
        metavar="JSON",
        help='the fault rules, e.g. \'{"seed": 1, "rules": [{"kind": "throttle", "count": 2}]}\' (default: show them)',
    )
    group.add_argument("--clear", action="store_true", help="remove every fault rule (default: show them)")
    p.set_defaults(func=cmd_faults)

    p = add("stats", "counters of the running (or last) server: requests, errors, schema violations, faults")
    p.set_defaults(func=cmd_stats)

    p = add("preview", "open a mailbox in any mail client: DavMail (IMAP, CalDAV, CardDAV) against the sandbox")
    p.add_argument("--mailbox", required=True, help="mailbox address (it needs a sandbox account of that name)")
    p.add_argument("--server", metavar="URL", help="EWS URL of a running sandbox (default: start one on --data)")
    p.add_argument("--davmail", metavar="PATH", help="DavMail launcher or davmail.jar (default: on PATH)")
    p.add_argument("--imap-port", type=int, default=0, help="IMAP port on 127.0.0.1 (default: a free one)")
    p.add_argument("--caldav-port", type=int, default=0, help="CalDAV/CardDAV port (default: a free one)")
    p.set_defaults(func=cmd_preview)


# -- commands ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.admin import AdminTokenError
    from pipeline.sandbox.limits import Limits
    from pipeline.sandbox.server import LoopbackOnly, make_server, serve

    limits = Limits()
    item_bytes = args.max_item_bytes or (int(args.max_item_mb * 1024 * 1024) if args.max_item_mb else None)
    request_bytes = args.max_request_bytes or (int(args.max_request_mb * 1024 * 1024) if args.max_request_mb else None)
    if item_bytes:
        limits = dataclasses.replace(limits, max_item_bytes=item_bytes)
    if request_bytes:
        limits = dataclasses.replace(limits, max_request_bytes=request_bytes)
    if args.oversize_answer:
        limits = dataclasses.replace(limits, oversize_answer=args.oversize_answer)
    if args.max_concurrency is not None:
        limits = dataclasses.replace(limits, max_concurrency=args.max_concurrency)
    if args.search_lag_s is not None:
        limits = dataclasses.replace(limits, search_lag_s=args.search_lag_s)
    if args.rules_quota_bytes is not None:
        limits = dataclasses.replace(limits, rules_quota_bytes=args.rules_quota_bytes)
    if args.config and cmd_load(argparse.Namespace(file=args.config, data=args.data), settings, quiet=True):
        return 2
    try:
        server = make_server(_data_dir(args, settings), args.host, args.port, args.allow_remote, limits)
    except (LoopbackOnly, AdminTokenError) as exc:
        print(f"rebuild sandbox: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"rebuild sandbox: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    if args.faults:
        from pipeline.sandbox.faults import FaultConfigError

        try:
            server.app.faults.configure(json.loads(args.faults))
        except (ValueError, FaultConfigError) as exc:
            print(f"rebuild sandbox: error: --faults: {exc}", file=sys.stderr)
            server.server_close()
            return 2
    stop = threading.Event()
    if args.watch_stdin:
        threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    info = {
        "url": server.url,
        "admin_url": server.admin_url,
        "port": server.server_address[1],
        "pid": os.getpid(),
    }
    if args.ready_file:
        Path(args.ready_file).write_text(json.dumps(info), encoding="utf-8")
    from pipeline.sandbox.embedded import READY_PREFIX

    print(READY_PREFIX + json.dumps(info), flush=True)
    logging.getLogger("pipeline.sandbox").info("sandbox serving %s (data %s)", server.url, server.app.data_dir)
    try:
        serve(server, stop)
    except KeyboardInterrupt:
        pass
    return 0


def _watch_stdin(stop: threading.Event) -> None:
    """Stop when the parent closes our stdin (or dies, which closes it too)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def _watch_parent(pid: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        if os.getppid() != pid:
            stop.set()


def cmd_preview(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox import davmail, preview

    request = preview.PreviewRequest(
        _data_dir(args, settings), args.mailbox, args.server, args.davmail, args.imap_port, args.caldav_port
    )
    try:
        return preview.run(request)
    except (preview.PreviewError, davmail.DavmailNotFound, davmail.DavmailStartError) as exc:
        print(f"rebuild sandbox preview: error: {exc}", file=sys.stderr)
        return 2


def cmd_add_mailbox(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.store import SandboxStore

    store = SandboxStore(_data_dir(args, settings))
    mailbox = store.add_mailbox(args.address, args.name)
    print(f"mailbox {mailbox.address} ({mailbox.display_name})")
    return 0


def cmd_add_account(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.store import SandboxStore

    password = os.environ.get(ENV_PASSWORD)
    if not password:
        if not sys.stdin.isatty():
            print(f"rebuild sandbox: error: set {ENV_PASSWORD} or run in a terminal", file=sys.stderr)
            return 2
        password = getpass.getpass(f"password for {args.username}: ")
    if not password:
        print("rebuild sandbox: error: empty password", file=sys.stderr)
        return 2
    SandboxStore(_data_dir(args, settings)).add_account(args.username, password, args.impersonation)
    print(f"account {args.username.lower()}{' (impersonation)' if args.impersonation else ''}")
    return 0


def cmd_add_app(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore

    secret = os.environ.get("REBUILD_SANDBOX_APP_SECRET")
    if not secret and sys.stdin.isatty():
        secret = getpass.getpass(f"client secret for {args.client_id}: ")
    if not secret:
        print("rebuild sandbox: error: set REBUILD_SANDBOX_APP_SECRET or run in a terminal", file=sys.stderr)
        return 2
    add_app(SandboxStore(_data_dir(args, settings)), args.client_id, secret)
    print(f"Graph app {args.client_id} (application rights on every mailbox)")
    return 0


def cmd_load(args: argparse.Namespace, settings: Any, quiet: bool = False) -> int:
    from pipeline.sandbox.provision import ProvisionError, apply
    from pipeline.sandbox.store import SandboxStore

    try:
        done = apply(SandboxStore(_data_dir(args, settings)), Path(args.file))
    except (OSError, ProvisionError) as exc:
        print(f"rebuild sandbox: error: {exc}", file=sys.stderr)
        return 2
    if not quiet:
        print(f"{done.mailboxes} mailbox(es), {done.accounts} account(s) from {args.file}")
    return 0


def cmd_ls(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.logs.terminal import shown
    from pipeline.sandbox import views
    from pipeline.sandbox.ls import render, sender_of  # the email parser
    from pipeline.sandbox.store import SandboxStore

    store = SandboxStore(_data_dir(args, settings))
    if not args.mailbox:
        listing: dict[str, list[dict[str, Any]]] = {
            "mailboxes": [{"address": m.address, "display_name": m.display_name} for m in store.mailboxes()],
            "accounts": [{"username": a.username, "impersonation": a.impersonation} for a in store.accounts()],
        }
        if args.json:
            print(json.dumps(listing, indent=1))
        else:
            for m in listing["mailboxes"]:
                print(f"mailbox {shown(m['address'])}  ({shown(m['display_name'])})")
            for a in listing["accounts"]:
                print(f"account {a['username']}{'  [impersonation]' if a['impersonation'] else ''}")
            if not listing["mailboxes"] and not listing["accounts"]:
                print(f"no mailboxes or accounts in {store.path}")
        return 0
    if not store.has_mailbox(args.mailbox):
        print(f"rebuild sandbox: error: no mailbox {args.mailbox}", file=sys.stderr)
        return 2
    tree = views.folder_tree(store, args.mailbox)
    items = views.items(store, args.mailbox)
    for item in items:
        item["sender"] = sender_of(item.pop("mime", None))
        item["folder_path"] = list(item["folder_path"])
        item["extended_properties"] = {
            k: (v.hex() if isinstance(v, bytes) else v) for k, v in item["extended_properties"].items()
        }
    if args.json:
        print(
            json.dumps(
                {
                    "mailbox": args.mailbox,
                    "folders": [dict(f, path=list(f["path"])) for f in tree],
                    "items": items,
                },
                indent=1,
                default=str,
            )
        )
        return 0
    print("\n".join(render(tree, items, with_props=args.props)))
    return 0


def _running(data_dir: Path) -> dict[str, Any] | None:
    from pipeline.sandbox.server import SERVER_FILE

    try:
        info = json.loads((data_dir / SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    return info


def _admin(url: str, data_dir: Path, payload: dict[str, Any] | None = None) -> Any:
    """The running server's admin endpoint, with the admin token kept in its data folder."""
    from pipeline.sandbox import admin

    base, _, path = url.rpartition("/")
    return admin.call(base, data_dir, path, payload, timeout=10)


def cmd_faults(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.faults import FaultConfigError, FaultEngine

    data_dir = _data_dir(args, settings)
    running = _running(data_dir)
    config: dict[str, Any] | None = None
    if args.clear:
        config = {}
    elif args.set:
        try:
            config = json.loads(args.set)
        except ValueError as exc:
            print(f"rebuild sandbox: error: --set is not JSON: {exc}", file=sys.stderr)
            return 2
    try:
        if running is not None:
            url = running["admin_url"] + "/faults"
            result = _admin(url, data_dir, config)
        else:
            engine = FaultEngine(data_dir)
            if config is not None:
                engine.configure(config, persist=True)
            result = engine.snapshot()
    except FaultConfigError as exc:
        print(f"rebuild sandbox: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        return _admin_failed(exc)
    print(json.dumps(result, indent=1))
    return 0


def _admin_failed(exc: Exception) -> int:
    """One line for an admin call that failed: the server's own words for a refusal, else the cause."""
    if isinstance(exc, urllib.error.HTTPError):
        text = exc.read().decode(errors="replace")
        try:
            text = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            pass
        print(f"rebuild sandbox: error: the server refused ({exc.code}): {text}", file=sys.stderr)
    else:
        print(f"rebuild sandbox: error: {exc}", file=sys.stderr)
    return 2


def cmd_stats(args: argparse.Namespace, settings: Any) -> int:
    from pipeline.sandbox.stats import read_saved

    data_dir = _data_dir(args, settings)
    running = _running(data_dir)
    if running is not None:
        try:
            result = _admin(running["admin_url"] + "/stats", data_dir)
        except (OSError, ValueError) as exc:
            return _admin_failed(exc)
        result["running"] = running["url"]
    else:
        result = read_saved(data_dir) or {"counters": {}}
        result["schema_violations"] = result["counters"].get("schema_violations", 0)
        result["running"] = None
    print(json.dumps(result, indent=1))
    return 0


# -- standalone entry point ----------------------------------------------------------------------


def standalone_main(argv: list[str]) -> int:
    """`python -m pipeline.sandbox COMMAND ...` with the same commands, without the rest of rebuild."""
    from pipeline.settings import SettingsError, load_settings

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        dest="state_dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="state directory (default ./.rebuild)",
    )
    common.add_argument(
        "--log-level",
        dest="log_level",
        choices=("debug", "info", "warning", "error"),
        default=argparse.SUPPRESS,
        help="the server's log records shown (default info)",
    )
    parser = argparse.ArgumentParser(prog="python -m pipeline.sandbox", parents=[common])
    _add_commands(parser, common)
    args = parser.parse_args(argv)
    if os.name == "posix":
        os.umask(0o077)  # the data folder holds mail and password equivalents: owner-only files
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(
            {"state_dir": getattr(args, "state_dir", None), "log_level": getattr(args, "log_level", None)}
        )
    except SettingsError as exc:
        print(f"sandbox: error: {exc}", file=sys.stderr)
        return 2
    from pipeline.logs.handlers import SafeStreamHandler  # a full disk under its log: one stop, not a flood

    logging.basicConfig(
        level=getattr(logging, (getattr(args, "log_level", None) or "info").upper()),
        handlers=[SafeStreamHandler(sys.stderr)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args, settings))
    except BrokenPipeError:  # `python -m pipeline.sandbox faults | head`: the reader left
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
