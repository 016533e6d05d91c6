"""The embedded sandbox made ready for a run on this machine: the credential the run logs in with (made once,
kept owner-only beside the store) and the run's mailboxes, each one missing created with a line on the console:
at once when the sandbox has no mailbox yet (the first run), else only with --create (a typo guard).

Called by the run's connection code (pipeline/destination/endpoint.py) before it starts the sandbox
(embedded.py); the sandbox itself knows nothing of the run.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from pipeline.sandbox.graph.tokens import add_app
from pipeline.sandbox.store import SandboxStore

#: The EWS service account of the embedded sandbox (it holds the impersonation right).
EMBEDDED_USER = "rebuild-service"
#: The app registration the embedded sandbox's Graph face knows.
EMBEDDED_CLIENT = "rebuild-embedded-app"


def kept_secret(sandbox_dir: Path, filename: str, fresh: dict[str, str]) -> dict[str, str]:
    """A credential of the embedded sandbox, made once and kept owner-only in its directory: what filename
    holds, else `fresh`, written there."""
    path = sandbox_dir / filename
    if path.exists():
        return json.loads(path.read_text())
    sandbox_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(fresh, fh)
    return fresh


class NewMailboxes(Exception):
    """The run names mailboxes the sandbox does not have while it has others: a typo would fill a mailbox nobody
    reads, so they are made only with --create. Carries each new address with the nearest existing one."""

    def __init__(self, nearest: dict[str, str]) -> None:
        super().__init__(nearest)
        self.nearest = nearest

    def __str__(self) -> str:
        address, near = next(iter(self.nearest.items()))
        more = len(self.nearest) - 1
        return (
            f"the sandbox has no mailbox {address} (nearest existing: {near})"
            + (f" nor {more} more of this run's" if more else "")
            + "; check the address, or add --create to make "
            + ("them" if more else "it")
        )


def nearest_address(address: str, existing: list[str]) -> str:
    """The existing address most like `address` (difflib's ratio, the local part first)."""
    import difflib

    def likeness(other: str) -> tuple[float, float]:
        return (
            difflib.SequenceMatcher(None, address.split("@")[0], other.split("@")[0]).ratio(),
            difflib.SequenceMatcher(None, address, other).ratio(),
        )

    return max(existing, key=likeness)


def _prepare(
    sandbox_dir: Path,
    mailboxes: list[str],
    enroll: Callable[[SandboxStore], None],
    stands_in_for: str,
    create: bool = True,
) -> None:
    """The store made ready: its credential (enroll(store)) and every mailbox, each one missing created when the
    sandbox has none yet or `create` says so (else NewMailboxes, before anything is created)."""
    store = SandboxStore(sandbox_dir)
    try:
        enroll(store)
        missing = [m for m in mailboxes if not store.has_mailbox(m)]
        existing = [m.address for m in store.mailboxes()]
        if missing and existing and not create:
            raise NewMailboxes({m: nearest_address(m.strip().lower(), existing) for m in missing})
        for mailbox in missing:
            if not store.has_mailbox(mailbox):  # named twice
                store.add_mailbox(mailbox)
                print(
                    f"sandbox: created mailbox {mailbox} (the embedded sandbox stands in for {stands_in_for})",
                    file=sys.stderr,
                )
    finally:
        store.close()


def ews_account(sandbox_dir: Path, mailboxes: list[str], create: bool = True) -> tuple[str, str]:
    """The EWS service account (username, password), enrolled once, and the run's mailboxes (see _prepare)."""
    data = kept_secret(
        sandbox_dir, "embedded-account.json", {"username": EMBEDDED_USER, "password": secrets.token_urlsafe(18)}
    )
    username, password = data["username"], data["password"]

    def enroll(store: SandboxStore) -> None:
        if store.account(username) is None:
            store.add_account(username, password, impersonation=True)

    _prepare(sandbox_dir, mailboxes, enroll, "Exchange", create)
    return username, password


def graph_app(sandbox_dir: Path, mailboxes: list[str], create: bool = True) -> tuple[str, str]:
    """The Graph app registration (client id, secret), registered for this run, and the run's mailboxes (see
    _prepare)."""
    secret = str(
        kept_secret(
            sandbox_dir, "embedded-graph-app.json", {"client_id": EMBEDDED_CLIENT, "secret": secrets.token_urlsafe(24)}
        )["secret"]
    )
    _prepare(sandbox_dir, mailboxes, lambda store: add_app(store, EMBEDDED_CLIENT, secret), "Exchange Online", create)
    return EMBEDDED_CLIENT, secret
