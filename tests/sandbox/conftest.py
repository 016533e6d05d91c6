"""Fixtures for the sandbox tests: one shared sandbox server in a child process, its store, an account.

An autouse check makes every test that uses the shared server leave its schema-violation count unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib import Account

from pipeline.sandbox import embedded
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.store import SandboxStore
from tests.sandbox.helpers import ALICE, connect, populate


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox")
    populate(path)
    return path


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path) -> Iterator[embedded.SandboxHandle]:
    # These tests check what restrictions find, so the search lag stays 0 here even when the environment
    # turns it on for a whole suite (REBUILD_SANDBOX_SEARCH_LAG_S); test_realism.py tests the lag itself.
    with embedded.start(sandbox_dir, limits=Limits(search_lag_s=0.0)) as handle:
        yield handle


@pytest.fixture(scope="session")
def store(sandbox_dir: Path) -> SandboxStore:
    return SandboxStore(sandbox_dir)


@pytest.fixture(autouse=True)
def _no_schema_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that uses the shared sandbox must leave its schema-violation count unchanged."""
    if "sandbox" not in request.fixturenames:
        yield
        return
    handle: embedded.SandboxHandle = request.getfixturevalue("sandbox")
    before = handle.stats()["schema_violations"]
    yield
    after = handle.stats()["schema_violations"]
    assert after == before, f"exchangelib requests failed schema validation ({after - before} new violation(s))"


@pytest.fixture
def alice(sandbox: embedded.SandboxHandle) -> Account:
    return connect(sandbox.url, ALICE)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
