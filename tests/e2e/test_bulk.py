"""All users at once through `--map`, per-item size limits, and verify: the CLI against the sandbox.

Fixture-built OSTs, a sandbox of the test's own, faults scoped to one mailbox.
"""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

import fixtures
from pipeline.sandbox.limits import Limits
from tests.conftest import run_cli, sandbox_items
from tests.e2e.conftest import ews_cli

SERVICE, PASSWORD = "svc-rebuild", "bulk-tests-pw"
USERS = ("alice@corp.example", "bob@corp.example", "carol@corp.example")


def user_spec(name: str, mails: int) -> dict:
    return {
        "store": {"name": f"{name}'s mailbox", "seed": len(name)},
        "folders": [
            {
                "name": "Inbox",
                "role": "inbox",
                "items": [
                    {
                        "kind": "mail",
                        "subject": f"Hello {name} {i}",
                        "body": f"Body {i} for {name}",
                        "sender": "boss@corp.example",
                        "to": [f"{name}@corp.example"],
                        "sent": f"2024-05-{i + 1:02d}T09:00:00",
                        "received": f"2024-05-{i + 1:02d}T09:01:00",
                    }
                    for i in range(mails)
                ],
            },
            {"name": "Sent Items", "role": "sentitems"},
            {"name": "Projekte", "items": [{"kind": "mail", "subject": f"Plan for {name}", "body": "plan"}]},
        ],
    }


@pytest.fixture
def users(tmp_path: Path) -> Path:
    """Three fixture OSTs and a users.csv naming them (relative paths, as an admin writes them)."""
    folder = tmp_path / "osts"
    folder.mkdir()
    for index, address in enumerate(USERS):
        name = address.split("@")[0]
        ost = fixtures.cached(user_spec(name, 3 + index), format="ost")
        (folder / f"{name}.ost").write_bytes(ost.read_bytes())
    mapping = tmp_path / "users.csv"
    with mapping.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ost", "mailbox", "impersonate"])
        for address in USERS:
            writer.writerow([f"osts/{address.split('@')[0]}.ost", address, "yes"])
    return mapping


ACCOUNTS = {SERVICE: (PASSWORD, True)}
SANDBOX_OPTIONS = {"limits": Limits(max_item_bytes=200_000)}


def cli(handle, state: Path, *args: str):
    return ews_cli(
        handle,
        state,
        *args,
        "--log-level",
        "warning",
        username=SERVICE,
        password=PASSWORD,
        env={"REBUILD_BACKOFF_INITIAL": "0.05"},
    )


def items_in(data: Path, address: str) -> int:
    return len(sandbox_items(data, address))


def test_three_users_then_verify(tmp_path: Path, sandbox, users: Path):
    handle, data = sandbox
    state = tmp_path / "state"
    result = cli(handle, state, "run", "--map", str(users), "--workers", "2", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summaries = {s["mailbox"]: s for s in json.loads(result.stdout)}
    for index, address in enumerate(USERS):
        assert summaries[address]["uploaded"] == 3 + index + 1
        assert items_in(data, address) == 3 + index + 1
    verify = cli(handle, state, "verify", "--map", str(users))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    status = run_cli("status", "--state", str(state), "--json")
    assert {e["mailbox"] for e in json.loads(status.stdout)} == set(USERS)
    assert list((state / "reports").glob("failed-*.csv")) == []  # nothing failed: no empty failures file
    for report in [sorted((state / "reports").glob("run-*.json"))[-1], state / "reports" / "site.html"]:
        assert stat.S_IMODE(report.stat().st_mode) == 0o600, report


def test_csv_with_errors_on_two_lines_uploads_nothing(tmp_path: Path, sandbox, users: Path):
    handle, data = sandbox
    lines = users.read_text(encoding="utf-8").splitlines()
    lines[2] = "osts/nobody.ost,bob@corp.example,yes"
    lines[3] = lines[3].replace("carol@corp.example", "carol-at-corp")
    users.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli(handle, tmp_path / "state", "run", "--map", str(users))
    assert result.returncode == 2
    assert f"{users}:3:" in result.stderr and "no such file" in result.stderr
    assert f"{users}:4:" in result.stderr and "not an SMTP address" in result.stderr
    assert all(items_in(data, address) == 0 for address in USERS)


def test_one_mailbox_behind_a_permanent_fault(tmp_path: Path, sandbox, users: Path):
    handle, data = sandbox
    handle.set_faults({"rules": [{"kind": "error", "mailbox": "bob@corp.example", "code": "ErrorAccessDenied"}]})
    state = tmp_path / "state"
    result = cli(handle, state, "run", "--map", str(users))
    assert result.returncode == 1
    assert "bob@corp.example" in result.stdout and "fatal" in result.stdout
    assert items_in(data, "alice@corp.example") == 4 and items_in(data, "carol@corp.example") == 6
    assert items_in(data, "bob@corp.example") == 0
    report = json.loads(sorted((state / "reports").glob("run-*.json"))[-1].read_text())
    assert {r["mailbox"]: r["status"] for r in report}["bob@corp.example"] == "fatal"

    handle.set_faults({})
    rerun = cli(handle, state, "run", "--map", str(users))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert items_in(data, "bob@corp.example") == 5
    assert items_in(data, "alice@corp.example") == 4


def test_item_over_the_size_limit_is_reported_and_the_rest_lands(tmp_path: Path, sandbox):
    handle, data = sandbox
    spec = {
        "store": {"name": "big", "seed": 3},
        "folders": [
            {
                "name": "Inbox",
                "role": "inbox",
                "items": [
                    {"kind": "mail", "subject": "Small before", "body": "a"},
                    {
                        "kind": "mail",
                        "subject": "Quarterly scans (huge)",
                        "body": "see attachment",
                        "attachments": [{"name": "scans.bin", "size": 400_000}],
                    },
                    {"kind": "mail", "subject": "Small after", "body": "b"},
                ],
            }
        ],
    }
    ost = fixtures.cached(spec, format="ost")
    result = cli(
        handle, tmp_path / "state", "run", "--ost", str(ost), "--mailbox", "alice@corp.example", "--impersonate"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == 1
    assert "Inbox" in failed[0] and "Quarterly scans (huge)" in failed[0] and "ErrorMessageSizeExceeded" in failed[0]
    assert items_in(data, "alice@corp.example") == 2
