"""Where the configured destination is reached: the named server, or the embedded sandbox started here.

Yields the destination's connection data (plain and picklable, so worker processes get a copy); the
embedded sandbox's service account is made once and kept owner-only in the state dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.settings import Settings

EMBEDDED_USER = "rebuild-service"


def kept_secret(settings: Settings, filename: str, fresh: dict[str, str]) -> dict[str, str]:
    """A credential of the embedded sandbox, made once and kept owner-only in the state dir: what filename
    holds, else `fresh`, written there."""
    path = settings.sandbox_dir / filename
    if path.exists():
        return json.loads(path.read_text())
    settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(fresh, fh)
    return fresh


def prepare_sandbox(settings: Settings, mailboxes: list[str], enroll: Callable[[Any], None],
                    stands_in_for: str) -> None:
    """The embedded sandbox's store made ready for a run: its credential (enroll(store)) and every mailbox,
    each one missing created with a line on the console."""
    from pipeline.sandbox.store import SandboxStore

    store = SandboxStore(settings.sandbox_dir)
    try:
        enroll(store)
        for mailbox in mailboxes:
            if not store.has_mailbox(mailbox):
                store.add_mailbox(mailbox)
                print(f"sandbox: created mailbox {mailbox} (the embedded sandbox stands in for {stands_in_for})",
                      file=sys.stderr)
    finally:
        store.close()


def _embedded_credentials(settings: Settings) -> tuple[str, str]:
    """The service account of the embedded sandbox."""
    data = kept_secret(settings, "embedded-account.json",
                       {"username": EMBEDDED_USER, "password": secrets.token_urlsafe(18)})
    return data["username"], data["password"]


@contextlib.contextmanager
def endpoint_for(settings: Settings, impersonate: bool, mailboxes: list[str]) -> Iterator[Any]:
    """The destination's connection data for this run: the named server, or the embedded sandbox."""
    if settings.destination == "graph":  # endpoint_graph.py: Exchange Online, or the sandbox's Graph face
        from pipeline.endpoint_graph import graph_endpoint

        with graph_endpoint(settings, mailboxes) as target:
            yield target
        return
    from pipeline.destination.ews.connect import Target

    ews = settings.ews
    if not settings.uses_sandbox:
        from pipeline.reach import check_target

        check_target(ews)  # flags, then one request: nothing is read or sent for a server that is down
        yield Target(server=ews.server, username=ews.username, auth=ews.auth, impersonate=impersonate,
                     ca_bundle=ews.ca_bundle, timeout=ews.request_timeout,
                     max_connections=settings.max_concurrent_requests)
        return
    from pipeline.sandbox.embedded import start

    username, password = _embedded_credentials(settings)

    def enroll(store: Any) -> None:
        if store.account(username) is None:
            store.add_account(username, password, impersonation=True)

    prepare_sandbox(settings, mailboxes, enroll, "Exchange")
    with start(settings.sandbox_dir) as handle:
        yield Target(server=handle.url, username=username, auth="ntlm", impersonate=True, password=password,
                     timeout=ews.request_timeout, max_connections=settings.max_concurrent_requests)
