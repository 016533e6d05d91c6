"""The end-to-end tests' shared fixtures: a sandbox of the test's own, and the CLI run against it.

A test module says who may log in and which mailboxes exist with module constants, and the `sandbox`
fixture builds that server for each test:

- `ACCOUNTS`: {username: (password, impersonation right)}; default {SERVICE: (PASSWORD, True)}.
- `MAILBOXES`: the mailboxes that exist; default `USERS`, else `[MAILBOX]`, else `[USER]`/`[OWNER]`.
- `SANDBOX_OPTIONS`: keyword options for the server's start (limits=, faults=); default none.

`ews_cli` and `graph_cli` run `rebuild` as a real process against such a server's EWS or Graph face, with
the credentials in the environment (never on the command line), as an admin would; their flags and
environment come from tests/e2e/connection.py (also for trials that start the process themselves).
`own_graph_sandbox` is a sandbox with the tests' Graph app (tests/graph_oracle.py's) registered.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import own_sandbox, run_cli
from tests.e2e.connection import ews_args, graph_app, graph_args, graph_env


def _accounts(module: Any) -> dict[str, tuple[str, bool]]:
    accounts = getattr(module, "ACCOUNTS", None)
    if accounts is not None:
        return dict(accounts)
    if hasattr(module, "SERVICE"):
        return {module.SERVICE: (module.PASSWORD, True)}
    own = getattr(module, "USER", None) or module.OWNER  # the user's own account: no impersonation
    return {own: (module.PASSWORD, False)}


def _mailboxes(module: Any) -> list[str]:
    for name in ("MAILBOXES", "USERS"):
        if hasattr(module, name):
            return list(getattr(module, name))
    for name in ("MAILBOX", "USER", "OWNER"):
        if hasattr(module, name):
            return [getattr(module, name)]
    raise AssertionError(f"{module.__name__} names no MAILBOXES, USERS, MAILBOX, USER or OWNER for its sandbox")


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """(handle, data folder) of a running sandbox laid out by the test module's constants (see above)."""
    module = request.module
    options = dict(getattr(module, "SANDBOX_OPTIONS", {}))
    with own_sandbox(tmp_path / "sandbox-data", _accounts(module), _mailboxes(module), **options) as running:
        yield running


def ews_cli(
    handle: Any,
    state: Path,
    *args: str,
    username: str,
    password: str,
    impersonate: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`rebuild ARGS` against the sandbox's EWS face, logged in as username (password from the environment)."""
    connection = ews_args(handle, state, username=username, impersonate=impersonate)
    return run_cli(*args, *connection, env={"REBUILD_PASSWORD": password, **(env or {})}, timeout=timeout)


def ews_run(
    handle: Any, state: Path, ost: Path, mailbox: str, *args: str, username: str, password: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`rebuild run` of one file into mailbox over the sandbox's EWS face, impersonating it as username, the
    summary asked as JSON (args: the run's other flags)."""
    run = ("run", "--log-level", "warning", "--ost", str(ost), "--mailbox", mailbox, "--json", *args)
    return ews_cli(handle, state, *run, username=username, password=password, impersonate=True, timeout=timeout)


def graph_cli(
    handle: Any, state: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`rebuild ARGS` against the sandbox's Graph face as the tests' app (its secret from the environment)."""
    return run_cli(*args, *graph_args(handle, state), env=graph_env(**(env or {})), timeout=timeout)


@contextlib.contextmanager
def own_graph_sandbox(
    data: Path, accounts: dict[str, tuple[str, bool]], mailboxes: list[str], **start_options: Any
) -> Iterator[tuple[Any, Path]]:
    """`own_sandbox` with the tests' Graph app registered in its store: (handle, data folder)."""
    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore

    _, client_id, secret = graph_app()
    store = SandboxStore(data)
    try:
        add_app(store, client_id, secret)
    finally:
        store.close()
    with own_sandbox(data, accounts, mailboxes, **start_options) as running:
        yield running
