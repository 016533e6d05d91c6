"""Shared pytest fixtures: where the real sample files are, and how to run the CLI in-process or not.

Tests that need ../shared/samples skip with a message naming the missing folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REBUILD_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "samples"
CHECKOUT_STATE = REPO / ".rebuild"
#: Tests never write into the checkout: a command given no --state (in this process or a CLI subprocess,
#: which inherits the environment) uses a throw-away state directory instead of ./.rebuild.
_DEFAULT_STATE = tempfile.mkdtemp(prefix="rebuild-test-state-")
os.environ["REBUILD_STATE_DIR"] = _DEFAULT_STATE
_CHECKOUT_STATE_BEFORE = CHECKOUT_STATE.exists()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if any test created the checkout's own ./.rebuild."""
    shutil.rmtree(_DEFAULT_STATE, ignore_errors=True)
    if CHECKOUT_STATE.exists() and not _CHECKOUT_STATE_BEFORE:
        print(f"\nFAILED: a test wrote into the checkout ({CHECKOUT_STATE}); give it a tmp_path --state")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample files not found at {SAMPLES} (the shared folder beside the project)")
    return SAMPLES


def cli_command(*args: str) -> list[str]:
    """The `rebuild ARGS` command line, as this interpreter runs it."""
    return [sys.executable, "-m", "pipeline", *args]


def start_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, quiet: bool = False
) -> subprocess.Popen[str]:
    """Start `rebuild ARGS` as a real process, for trials that stop it midway: its output piped as text (for
    `communicate`), or thrown away when quiet."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        cli_command(*args), cwd=cwd or REPO, env={**os.environ, **(env or {})}, stdout=output, stderr=output, text=True
    )


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `rebuild` as a real process, the way an admin does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
        input=input,
    )


@pytest.fixture(scope="session")
def small_ost() -> Path:
    """The canonical small fixture (every item kind, localized names) as an OST, built once per cache."""
    import fixtures

    return fixtures.cached("small", format="ost")


@contextlib.contextmanager
def own_sandbox(
    data: Path, accounts: dict[str, tuple[str, bool]], mailboxes: list[str], **start_options: Any
) -> Iterator[tuple[Any, Path]]:
    """A sandbox server of the test's own (not the CLI's embedded one), as a real Exchange would be:
    accounts are {username: (password, impersonation right)}; yields (handle, data folder)."""
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.store import SandboxStore

    store = SandboxStore(data)
    try:
        for username, (password, impersonation) in accounts.items():
            store.add_account(username, password, impersonation=impersonation)
        for address in mailboxes:
            store.add_mailbox(address)
    finally:
        store.close()
    with start(data, **start_options) as handle:
        yield handle, data


def sandbox_items(data: Path, mailbox: str, path: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """What the sandbox holds for a mailbox (read straight from its store, for assertions)."""
    from pipeline.sandbox import views
    from pipeline.sandbox.store import SandboxStore

    store = SandboxStore(data)
    try:
        return views.items(store, mailbox, path)
    finally:
        store.close()
