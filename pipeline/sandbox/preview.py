"""`rebuild sandbox preview`: a rehearsed mailbox opened in any mail client, through DavMail against the sandbox.

Starts the sandbox on its data folder (or uses the one already serving it, or `--server`), then DavMail in front of it
(davmail.py), prints the IMAP, CalDAV and CardDAV addresses and the login, and stops both on Ctrl-C.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.sandbox import davmail
from pipeline.sandbox.store import SandboxStore


class PreviewError(Exception):
    """A preview that cannot start: one line for the admin (the CLI exits 2)."""


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    data_dir: Path
    mailbox: str
    server_url: str | None = None  # a running sandbox; None starts one on data_dir
    davmail_command: str | None = None
    imap_port: int = 0  # 0 picks a free port
    caldav_port: int = 0


def check_login(data_dir: Path, mailbox: str) -> None:
    """The mailbox exists and has a login of its own (DavMail logs in as the mailbox's owner)."""
    store = SandboxStore(data_dir)
    try:
        if store.mailbox(mailbox) is None:
            known = ", ".join(m.address for m in store.mailboxes()) or "none"
            raise PreviewError(f"no mailbox {mailbox} in {data_dir} (mailboxes: {known})")
        if store.account(mailbox) is None:
            raise PreviewError(
                f"mailbox {mailbox} has no login of its own: add one first, "
                f"REBUILD_SANDBOX_PASSWORD=... rebuild sandbox add-account {mailbox}"
            )
    finally:
        store.close()


def addresses(handle: davmail.DavmailHandle, mailbox: str) -> list[str]:
    """What a mail client is set up with (no password: it is the sandbox account's own)."""
    host, imap_port = handle.imap_address
    return [
        f"IMAP:    {host}:{imap_port} (no TLS, normal password)",
        f"CalDAV:  {handle.caldav_url(mailbox, 'calendar')}",
        f"CardDAV: {handle.caldav_url(mailbox, 'contacts')}",
        f"login:   {mailbox} with the password of its sandbox account",
        f"log:     {handle.log_path}",
    ]


def running_url(data_dir: Path) -> str | None:
    """The EWS URL of a sandbox already serving `data_dir` (its server.json, and its port answering)."""
    from pipeline.sandbox.server import SERVER_FILE

    try:
        info = json.loads((data_dir / SERVER_FILE).read_text(encoding="utf-8"))
        host, port = urllib.parse.urlsplit(info["url"]).hostname, urllib.parse.urlsplit(info["url"]).port
        with socket.create_connection((host or "127.0.0.1", port or 80), timeout=1):
            return str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stop_on_sigterm() -> threading.Event:
    """SIGTERM (where it exists) ends the preview as Ctrl-C does, so DavMail and the sandbox stop too."""
    stop = threading.Event()
    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def run(request: PreviewRequest, out: Callable[[str], None] = print) -> int:
    """Start, print the addresses, wait for Ctrl-C or SIGTERM, stop everything; 0, or PreviewError."""
    from pipeline.sandbox import embedded

    check_login(request.data_dir, request.mailbox)
    command = davmail.command_for(request.davmail_command)
    ports = None
    if request.imap_port or request.caldav_port:
        ports = davmail.DavmailPorts(
            request.imap_port or davmail.free_port(), request.caldav_port or davmail.free_port()
        )
    stop = _stop_on_sigterm()
    server_url = request.server_url or running_url(request.data_dir)
    sandbox = None if server_url else embedded.start(request.data_dir)
    try:
        url = server_url or (sandbox.url if sandbox else "")
        with (
            tempfile.TemporaryDirectory(prefix="rebuild-davmail-") as workdir,
            davmail.start(url, Path(workdir), command=command, ports=ports) as handle,
        ):
            out(f"DavMail in front of {url} for {request.mailbox}:")
            for line in addresses(handle, request.mailbox):
                out("  " + line)
            out("Ctrl-C stops DavMail" + (" and the sandbox." if sandbox else "."))
            sys.stdout.flush()
            try:
                while not stop.wait(0.5):
                    if handle.process.poll() is not None:
                        raise PreviewError(f"DavMail stopped (exit {handle.process.returncode}); see {handle.log_path}")
            except KeyboardInterrupt:
                pass
    finally:
        if sandbox is not None:
            sandbox.stop()
    return 0
