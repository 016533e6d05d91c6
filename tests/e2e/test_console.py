"""The console of the quick start, as a person reads it: progress and results, no log records at info, and
closing `next:` commands that run as printed (pasted into a shell whose PATH does not hold `rebuild`).

The oracle is the process's own output and the exit codes of the commands it told us to run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

#: A structlog console record (`2026-12-04T16:56:00Z [info     ] folder ...`) or a JSON one at info.
LOG_RECORD = re.compile(r"\[\s*info\s*\]|\"level\":\s*\"info\"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d]*Z?\s+\[")


def _program() -> list[str]:
    """The quick start's `.venv/bin/rebuild`, or `python -m pipeline` where no script is installed."""
    script = Path(sys.executable).with_name("rebuild.exe" if os.name == "nt" else "rebuild")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline"]


def _without(folder: Path) -> str:
    """PATH without the virtual environment's scripts: an admin who did not activate it."""
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != folder.resolve()]
    return os.pathsep.join(parts)


def _next_commands(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("next:"))
    commands = [lines[start].removeprefix("next:").strip()]
    commands += [line.strip() for line in lines[start + 1 :] if line.startswith("         ") and line.strip()]
    return commands


def test_quick_start_console_reads_cleanly_and_next_commands_run(tmp_path: Path, small_ost: Path):
    env = {k: v for k, v in os.environ.items() if k != "REBUILD_STATE_DIR"}  # ./.rebuild, as in the quick start
    env["PATH"] = _without(Path(sys.executable).parent)
    ost = tmp_path / "demo.ost"
    ost.write_bytes(small_ost.read_bytes())
    run = subprocess.run(
        [*_program(), "--ost", "demo.ost", "--mailbox", "demo@sandbox.local"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    both = run.stdout + run.stderr
    records = [line for line in both.splitlines() if LOG_RECORD.search(line)]
    assert records == [], "log records on the console:\n" + "\n".join(records)
    assert "known=" not in both
    assert "Posteingang: 7 items" in run.stderr  # the per-folder progress, in words (fixture spec: 7 mails)
    assert "5 system folders" in run.stdout and "system folder," not in run.stdout
    assert "(no failures)" in run.stdout
    reports = tmp_path / ".rebuild" / "reports"
    assert list(reports.glob("run-*.json")) and not list(reports.glob("failed-*.csv"))
    assert list((tmp_path / ".rebuild" / "logs").glob("rebuild.jsonl"))
    commands = _next_commands(run.stdout)
    assert any(" verify " in c for c in commands) and any(" sandbox ls " in c for c in commands)
    if os.name != "nt":
        for command in commands:
            done = subprocess.run(
                shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    else:  # pragma: no cover - cmd.exe quoting
        pytest.skip("next: commands are pasted into cmd.exe on Windows; checked on POSIX")
