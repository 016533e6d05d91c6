"""Options of the main job against the sandbox: --dry-run, --only, --exclude, --since, and Ctrl-C.

Each is checked by what lands on the server, not by what the command prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fixtures
from tests.conftest import REPO, sandbox_items
from tests.e2e.conftest import ews_cli

SERVICE, PASSWORD, MAILBOX = "svc-rebuild", "options-pw", "dana@corp.example"


def run(handle, state: Path, ost: Path, *args: str):
    return ews_cli(
        handle,
        state,
        "run",
        "--ost",
        str(ost),
        "--mailbox",
        MAILBOX,
        "--log-level",
        "warning",
        "--json",
        *args,
        username=SERVICE,
        password=PASSWORD,
        impersonate=True,
    )


def server_items(data: Path) -> list[dict]:
    return sandbox_items(data, MAILBOX)


def test_dry_run_writes_nothing(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = run(handle, tmp_path / "s", small_ost, "--dry-run")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "dry-run" and summary["skipped"]["dry run: would upload"] > 10
    assert server_items(data) == []


def test_only_and_exclude(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = run(handle, tmp_path / "s", small_ost, "--only", "Posteingang", "--exclude", "Posteingang/Sub")
    assert result.returncode == 0, result.stderr
    folders = {item["folder_path"] for item in server_items(data)}
    assert folders == {("Inbox",)}


def test_only_and_exclude_by_role_whatever_the_language(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = run(
        handle,
        tmp_path / "s",
        small_ost,
        "--only",
        "role:inbox",
        "--only",
        "role:calendar",
        "--exclude",
        "Posteingang/Sub",
    )
    assert result.returncode == 0, result.stderr
    assert {item["folder_path"] for item in server_items(data)} == {("Inbox",), ("Calendar",)}


def test_since_skips_older_items(tmp_path: Path, sandbox):
    handle, data = sandbox
    spec = {
        "store": {"name": "since", "seed": 1},
        "folders": [
            {
                "name": "Inbox",
                "role": "inbox",
                "items": [
                    {
                        "kind": "mail",
                        "subject": "old",
                        "body": "x",
                        "sent": "2019-01-01T10:00:00",
                        "received": "2019-01-01T10:00:00",
                    },
                    {
                        "kind": "mail",
                        "subject": "new",
                        "body": "y",
                        "sent": "2024-06-01T10:00:00",
                        "received": "2024-06-01T10:00:00",
                    },
                ],
            }
        ],
    }
    ost = fixtures.cached(spec, format="ost")
    result = run(handle, tmp_path / "s", ost, "--since", "2024-01-01")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == {"before --since": 1}
    assert [i["subject"] for i in server_items(data)] == ["new"]


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(tmp_path: Path, sandbox):
    handle, data = sandbox
    spec = {
        "store": {"name": "sigint", "seed": 2},
        "folders": [{"name": "Inbox", "role": "inbox"}],
        "bulk": [{"count": 300, "size_min": 500, "size_max": 2000, "folders": 2, "seed": 3, "parent": "Inbox"}],
    }
    ost = fixtures.cached(spec, format="ost")
    handle.set_faults({"rules": [{"kind": "delay", "seconds": 0.15, "operations": ["CreateItem"]}]})
    state = tmp_path / "s"
    env = {**os.environ, "REBUILD_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
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
            "5",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Ctrl-C once the upload is under way (on a busy machine it starts later): the lease's item and two
    # batches created, read from the server's request counters (opening its store while it writes would
    # compete with the run for the database).
    deadline = time.monotonic() + 60
    while (
        handle.stats()["counters"].get("op:CreateItem", 0) < 3
        and time.monotonic() < deadline
        and process.poll() is None
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, out + err
    assert "Run the same command again to resume" in err
    assert "Traceback" not in err
    stored = len(server_items(data))
    assert 0 < stored < 300
    handle.set_faults({})
    rerun = run(handle, state, ost)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["uploaded"] + summary["present"] == 300
    assert len(server_items(data)) == 300


def test_terminal_ctrl_c_on_a_map_run_with_the_embedded_sandbox(tmp_path: Path):
    """Ctrl-C in a terminal reaches the whole process group: mailbox workers and the embedded sandbox must
    let the batches in flight finish, and the rerun must complete both mailboxes."""
    spec = {
        "store": {"name": "group", "seed": 4},
        "folders": [{"name": "Inbox", "role": "inbox"}],
        "bulk": [{"count": 400, "size_min": 500, "size_max": 2000, "folders": 2, "seed": 6, "parent": "Inbox"}],
    }
    ost = fixtures.cached(spec, format="ost")
    mapping = tmp_path / "users.csv"
    mapping.write_text(f"ost,mailbox\n{ost},erin@corp.example\n{tmp_path / 'copy.ost'},finn@corp.example\n")
    (tmp_path / "copy.ost").write_bytes(ost.read_bytes())
    state = tmp_path / "state"
    (state / "sandbox").mkdir(parents=True)
    slow = {"rules": [{"kind": "delay", "seconds": 0.1, "operations": ["CreateItem"]}]}
    (state / "sandbox" / "faults.json").write_text(json.dumps(slow))  # the embedded sandbox reads it at start
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "--map",
        str(mapping),
        "--workers",
        "2",
        "--state",
        str(state),
        "--batch-items",
        "2",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    time.sleep(4)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, out + err
    assert "Run the same command again to resume" in err
    assert "Traceback" not in err, err
    (state / "sandbox" / "faults.json").write_text("{}")
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    verify = subprocess.run(
        [sys.executable, "-m", "pipeline", "verify", "--map", str(mapping), "--state", str(state)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
