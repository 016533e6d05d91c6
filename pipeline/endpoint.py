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
from collections.abc import Iterator
from typing import Any

from pipeline.settings import Settings

EMBEDDED_USER = "rebuild-service"


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
                     timeout=ews.request_timeout, max_connections=settings.max_concurrent_requests)
