"""Issue 28: runs stopped by SIGTERM at random points, and a run whose state directory's disk fills up.

The CLI runs as a process against a sandbox of the test's own over HTTP. Oracles: the fixture's manifest
(what the builder wrote) against the server listed with plain exchangelib calls written here; the JSON
summary, report and `rebuild status --json` parsed with the json module; exit codes as the README's table
gives them. The disk-full trial puts the state directory on a small tmpfs (root and mount(8) needed; the
container the suite runs in allows it), else it is skipped with the reason; a second trial, run everywhere,
makes the journal's writes fail as SQLite does on a full disk (a monkeypatch of Journal.record in an
in-process run of the CLI: no environment variable or hook in the product).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib.folders import SHALLOW, FolderCollection

import fixtures
from tests.conftest import own_sandbox, run_cli, start_cli
from tests.e2e.connection import ews_args
from tests.e2e.kills import stopped_runs

SIGTERMS = 10  # runs stopped in the middle of their work
MAX_RUNS = 20  # runs started at most (one that finishes before its signal does not count)
SERVICE, PASSWORD, MAILBOX = "svc-stop", "stop-trials-pw", "stopped@corp.example"
SPEC = {
    "store": {"name": "Stop trials", "seed": 28},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [
        {
            "count": 600,
            "size_min": 400,
            "size_max": 1500,
            "folders": 3,
            "seed": 28,
            "parent": "Inbox",
            "attachment_ratio": 0.1,
        }
    ],
}
SLOW = {"seed": 28, "rules": [{"kind": "delay", "seconds": 0.05, "operations": ["CreateItem"]}]}
EXIT_FAILURES, EXIT_BUSY = 1, 3  # README, "Exit codes"


def expected(manifest) -> Counter:
    """(server folder path, subject) of every item the builder wrote: the inbox by its role, the rest by name."""
    out: Counter = Counter()
    for item in manifest.items:
        parts = item.folder.split("/")[2:]  # below 'Root - Mailbox/IPM_SUBTREE'
        out[("/".join(parts), item.subject)] += 1
    return out


def listing(url: str) -> Counter:
    """Every item under the mailbox's top of information store as (folder path, subject), plain exchangelib."""
    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
    found: Counter = Counter()

    def walk(folder, path: str) -> None:
        for child in FolderCollection(account=account, folders=[folder]).find_folders(depth=SHALLOW):
            child_path = f"{path}/{child.name}" if path else child.name
            for subject in child.all().values_list("subject", flat=True):
                found[(child_path, subject)] += 1
            walk(child, child_path)

    walk(account.msg_folder_root, "")
    return found


def rebuild(handle, state: Path, ost: Path, *extra: str) -> subprocess.Popen[str]:
    connection = ews_args(handle, state, username=SERVICE, impersonate=True)
    run = ["run", "--ost", str(ost), "--mailbox", MAILBOX, *connection, "--batch-items", "3", "--json"]
    env = {"REBUILD_PASSWORD": PASSWORD, "REBUILD_BACKOFF_INITIAL": "0.05", "REBUILD_BACKOFF_MAX": "0.3"}
    return start_cli(*run, "--log-level", "warning", *extra, env=env)


def catches_sigterm(pid: int, timeout: float = 20.0) -> None:
    """Wait until the process has its SIGTERM handler (Linux: SigCgt in /proc/PID/status), else 1 s."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        time.sleep(1.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            caught = next(
                int(line.split()[1], 16) for line in status.read_text().splitlines() if line.startswith("SigCgt:")
            )
        except (OSError, StopIteration):
            return  # it has ended already
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.005)
    raise AssertionError("the run never installed its SIGTERM handler")


def status_json(state: Path) -> dict:
    result = run_cli("status", "--state", str(state), "--json", timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    entries = {e["mailbox"]: e for e in json.loads(result.stdout)}
    return entries.get(MAILBOX, {})


def newest_report(state: Path, before: set[Path]) -> list[dict]:
    new = sorted(set((state / "reports").glob("run-*.json")) - before)
    assert len(new) == 1, f"one new JSON report expected, found {new}"
    return json.loads(new[0].read_text("utf-8"))


def test_sigterm_at_random_points_then_rerun_leaves_exactly_the_source(tmp_path: Path):
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    wanted = expected(manifest)
    assert sum(wanted.values()) == 600
    rng = random.Random(2028)
    state = tmp_path / "state"
    stopped = 0
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=SLOW) as (handle, _):
        reports = set((state / "reports").glob("run-*.json"))
        for run in stopped_runs(
            lambda: rebuild(handle, state, ost),
            lambda process: process.send_signal(signal.SIGTERM),
            rng,
            (0.0, 2.5),
            most=MAX_RUNS,
            ready=lambda process: catches_sigterm(process.pid),  # a signal before our code runs ends any program
        ):
            out, err = run.out, run.err
            assert "Traceback" not in err, err
            # the previous SIGTERM released the lease: this run (its rerun) was never refused as busy
            assert run.returncode != EXIT_BUSY, err
            assert out.strip(), (run.returncode, err[-3000:])  # the summary, as JSON
            summary = json.loads(out)
            report = newest_report(state, reports)
            reports = set((state / "reports").glob("run-*.json"))
            assert [r["mailbox"] for r in report] == [MAILBOX]
            if not run.signalled or summary["status"] == "ok":
                assert run.returncode == 0 and summary["status"] == report[0]["status"] == "ok", err
                continue  # finished before its signal: not a trial
            stopped += 1
            assert time.monotonic() - run.began < 60, "the stop took too long"
            assert run.returncode == EXIT_FAILURES, (run.returncode, err)
            assert summary["status"] == report[0]["status"] == "interrupted", (summary, err)
            assert report[0]["uploaded"] == summary["uploaded"]
            last = status_json(state).get("last_run", {})
            if summary["elapsed"] > 0:  # the mailbox's run had started (else the signal came before it did)
                assert last.get("status") == "interrupted", last
                assert last.get("uploaded") == summary["uploaded"], (last, summary)
            assert last.get("status") not in ("running", "ok") or summary["elapsed"] == 0, last
            if stopped == SIGTERMS:
                break
        assert stopped == SIGTERMS, f"only {stopped} runs were still running when signalled"
        handle.set_faults({"rules": []})
        final = rebuild(handle, state, ost)
        out, err = final.communicate(timeout=600)
        assert final.returncode == 0, out + err
        assert json.loads(out)["status"] == "ok"
        assert status_json(state)["last_run"]["status"] == "ok"
        on_server = listing(handle.url)
    server_items = Counter({key: n for key, n in on_server.items() if key[0].startswith("Inbox")})
    assert server_items - wanted == Counter(), "items doubled or not from the source"
    assert wanted - server_items == Counter(), "items missing after the final rerun"


# -- disk full ------------------------------------------------------------------------------------------
def _mount_tmpfs(where: Path, size: str) -> str | None:
    """None when a tmpfs of `size` is mounted at `where`, else why not."""
    if os.name != "posix" or not shutil.which("mount") or os.geteuid() != 0:
        return "a small tmpfs needs root and mount(8)"
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], capture_output=True, text=True
    )
    return None if result.returncode == 0 else f"mount refused: {result.stderr.strip()}"


def test_state_disk_full_is_one_line_a_crashed_status_and_an_exact_rerun(tmp_path: Path):
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    wanted = expected(manifest)
    disk = tmp_path / "disk"
    why = _mount_tmpfs(disk, "160k")
    if why:
        pytest.skip(why)
    try:
        state = disk / "state"
        with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX]) as (handle, _):
            full = rebuild(handle, state, ost, "--log-level", "info")
            out, err = full.communicate(timeout=300)
            assert "Traceback" not in out + err and "Logging error" not in err, err[-3000:]
            assert full.returncode == EXIT_FAILURES, (full.returncode, out, err[-3000:])
            summary = json.loads(out)
            assert summary["status"] == "crashed", summary
            assert "no space left on the device" in summary["fatal"] and "free some space" in summary["fatal"]
            lines = [line for line in err.splitlines() if "no space" in line.lower()]
            assert 1 <= len(lines) <= 3, err[-3000:]  # the mailbox's line; logging stopped; reports not written
            assert status_json(state)["last_run"]["status"] == "crashed"
            for report in (state / "reports").glob("run-*.json"):  # whole or absent, never truncated
                json.loads(report.read_text("utf-8"))

            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # space freed
            rerun = rebuild(handle, state, ost)
            out, err = rerun.communicate(timeout=600)
            assert rerun.returncode == 0, out + err
            assert json.loads(out)["status"] == "ok"
            on_server = listing(handle.url)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    server_items = Counter({key: n for key, n in on_server.items() if key[0].startswith("Inbox")})
    assert server_items == wanted


def test_injected_full_journal_is_one_line_a_crashed_status_and_an_exact_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import sqlite3

    from pipeline.cli.main import main
    from pipeline.state.journal import Journal

    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    wanted = expected(manifest)
    state = tmp_path / "state"
    real_record = Journal.record
    room = {"batches": 10}

    def record(self, mailbox, source, records):  # the disk fills up after 10 batches of outcomes
        records = list(records)
        if records and room["batches"] <= 0:
            raise sqlite3.OperationalError("database or disk is full")
        room["batches"] -= bool(records)
        return real_record(self, mailbox, source, records)

    monkeypatch.setenv("REBUILD_PASSWORD", PASSWORD)
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX]) as (handle, _):
        args = [
            "run",
            "--ost",
            str(ost),
            "--mailbox",
            MAILBOX,
            "--server",
            handle.url,
            "--username",
            SERVICE,
            "--impersonate",
            "--state",
            str(state),
            "--batch-items",
            "3",
            "--json",
            "--log-level",
            "warning",
        ]
        with monkeypatch.context() as patched:
            patched.setattr(Journal, "record", record)
            code = main(args)
        out, err = capsys.readouterr()
        assert code == EXIT_FAILURES and "Traceback" not in out + err, err
        summary = json.loads(out)
        assert summary["status"] == "crashed" and "no space left on the device" in summary["fatal"], summary
        assert err.count("no space left") == 1, err  # the mailbox's one line
        on_server = listing(handle.url)
        stored = sum(n for key, n in on_server.items() if key[0].startswith("Inbox"))
        assert summary["uploaded"] == stored > 0  # items the server took are counted, none more
        assert status_json(state)["last_run"]["status"] == "crashed"
        report = json.loads(sorted((state / "reports").glob("run-*.json"))[-1].read_text("utf-8"))
        assert report[0]["status"] == "crashed"

        assert main(args) == 0  # space freed
        assert json.loads(capsys.readouterr().out)["status"] == "ok"
        on_server = listing(handle.url)
    server_items = Counter({key: n for key, n in on_server.items() if key[0].startswith("Inbox")})
    assert server_items == wanted
