"""Shared pytest fixtures: where the real sample files are, and how to run the CLI in-process or not.

Tests that need ../shared/samples skip with a message naming the missing folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REBUILD_SHARED", REPO.parent / "shared"))
SAMPLES = SHARED / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample files not found at {SAMPLES} (the shared folder beside the project)")
    return SAMPLES


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `rebuild` as a real process, the way an admin does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout, input=input)


@pytest.fixture(scope="session")
def small_ost() -> Path:
    """The canonical small fixture (every item kind, localized names) as an OST, built once per cache."""
    import fixtures

    return fixtures.cached("small", format="ost")
