"""Issue 28: every state-dir, disk and lock problem is one line saying what to do, never a traceback or a hang.

The CLI runs as a real process (`python -m pipeline`, a dry run: no server needed); another process written
here holds the journal's SQLite lock; the damaged journal is random bytes; the read-only state directory is a
read-only tmpfs (as root, where mount works) or a 0500 folder (as a user). Exit code 4 is the README's.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import StateError
from pipeline.logs.handlers import SafeRotatingFileHandler
from pipeline.state.journal import Journal
from tests.conftest import run_cli

EXIT_STATE = 4
MAILBOX = "someone@corp.example"


def dry_run(small_ost: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("--ost", str(small_ost), "--mailbox", MAILBOX, "--state", str(state), "--dry-run", timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_journal_locked_by_another_process_fails_fast_naming_it(small_ost: Path, tmp_path: Path):
    state = tmp_path / "state"
    Journal(state / "journal.sqlite").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)",
            str(state / "journal.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = dry_run(small_ost, state)
        elapsed = time.monotonic() - started
        line = one_line(result)
        assert result.returncode == EXIT_STATE
        assert elapsed < 30, f"waited {elapsed:.0f} s"
        assert str(state / "journal.sqlite") in line and "locked by" in line
        if sys.platform.startswith("linux"):
            assert f"process {holder.pid}" in line, line
        status = run_cli("status", "--state", str(state), timeout=60)  # reading needs no lock
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
        with pytest.raises(StateError, match="locked"):
            Journal(state / "journal.sqlite", lock_wait=0.3)
    finally:
        holder.kill()
        holder.wait()


def test_a_damaged_journal_says_it_is_only_a_cache_and_may_be_deleted(small_ost: Path, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "journal.sqlite").write_bytes(os.urandom(8192))
    for result in (dry_run(small_ost, state), run_cli("status", "--state", str(state), timeout=60)):
        line = one_line(result)
        assert result.returncode == EXIT_STATE
        assert str(state / "journal.sqlite") in line
        assert "only a cache" in line and "delete it" in line, line
    (state / "journal.sqlite").unlink()  # as the line says: the next run starts a new journal
    assert dry_run(small_ost, state).returncode == 0


def test_a_log_path_that_is_a_directory_is_one_line(small_ost: Path, tmp_path: Path):
    state = tmp_path / "state"
    (state / "logs" / "rebuild.jsonl").mkdir(parents=True)
    result = dry_run(small_ost, state)
    line = one_line(result)
    assert result.returncode == EXIT_STATE
    assert str(state / "logs" / "rebuild.jsonl") in line and "is a directory" in line


def _read_only(folder: Path) -> str | None:
    """Make folder (already filled) read-only: a read-only tmpfs as root (root ignores modes), else mode 0500.
    None when done, else why not."""
    if os.name != "posix":
        return "POSIX read-only folders only"
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return None
    if not shutil.which("mount"):
        return "root ignores file modes and mount(8) is missing"
    copy = folder.with_name(folder.name + "-copy")
    shutil.copytree(folder, copy)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if result.returncode:
        return f"mount refused: {result.stderr.strip()}"
    shutil.copytree(copy, folder, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    return None


def test_a_read_only_state_dir_is_one_line(small_ost: Path, tmp_path: Path):
    state = tmp_path / "state"
    assert dry_run(small_ost, state).returncode == 0  # journal, logs and reports made
    why = _read_only(state)
    if why:
        pytest.skip(why)
    try:
        result = dry_run(small_ost, state)
        line = one_line(result)
        assert result.returncode == EXIT_STATE
        assert str(state) in line and ("read-only" in line or "permission denied" in line), line
        status = run_cli("status", "--state", str(state), timeout=60)  # reading still works
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(state)], capture_output=True)
        else:
            state.chmod(0o700)


def test_a_log_file_on_a_full_disk_stops_once_in_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    class FullDisk:
        def write(self, text: str) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def tell(self) -> int:
            return 0

        def seek(self, *args: object) -> int:
            return 0

    handler = SafeRotatingFileHandler(tmp_path / "rebuild.jsonl", maxBytes=1000, backupCount=1, encoding="utf-8")
    handler.stream.close()
    handler.stream = FullDisk()  # type: ignore[assignment]
    logger = logging.getLogger("test.fulldisk")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(120):
            logger.error("event %d", n)
    finally:
        logger.removeHandler(handler)
    err = capfd.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err, err
    assert err.strip().splitlines() == [
        f"rebuild: cannot write the log {tmp_path / 'rebuild.jsonl'}: "
        "No space left on device; the work goes on (further log errors are not shown)"
    ]
