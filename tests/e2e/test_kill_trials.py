"""Rerun safety: runs killed with SIGKILL at random moments of their uploads, with commit-then-drop and
throttling on, against a sandbox as strict as Exchange: restricted searches lag 2 s behind writes, 10 requests
at once per account.

In the end the mailbox holds exactly one copy of every item, nothing missing. Each kill comes a random
0-0.4 s after the run stored its first item (read from the sandbox's database), so every one lands mid-upload
whatever the machine's load (counted from the run's start, kills on a loaded machine once all came before the
first upload). A fixed, seeded count of trials keeps the default test command bounded: 10 kills of runs
over 400 items there, 20 over 800 with `-m slow`; tests/e2e/test_integrity_trial.py kills 20 more runs at
moments counted from their start.
"""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import fixtures
from pipeline.fingerprint import PROPERTY_NAME, PROPERTY_SET, fingerprint
from pipeline.model import SourceItem
from pipeline.selection import system_skip as skip_reason
from pipeline.source import open_source
from tests.conftest import own_sandbox, sandbox_items, start_cli
from tests.e2e.connection import ews_args
from tests.e2e.kills import kill, stopped_runs, stored_items, when_it_stores

MAX_RUNS = 40  # runs started at most (one that finishes before its kill time does not count)
SERVICE, PASSWORD, MAILBOX = "svc-rebuild", "kill-trials-pw", "victim@corp.example"


def spec(count: int) -> dict:
    """The trial's OST: `count` bulk items (a fifth with attachments) in three inbox subfolders."""
    return {
        "store": {"name": "Kill trials", "seed": 11},
        "folders": [{"name": "Inbox", "role": "inbox"}, {"name": "Sent Items", "role": "sentitems"}],
        "bulk": [
            {
                "count": count,
                "size_min": 500,
                "size_max": 3000,
                "folders": 3,
                "seed": 5,
                "parent": "Inbox",
                "attachment_ratio": 0.2,
            }
        ],
    }


FAULTS = {
    "seed": 42,
    "search_lag_s": 2,
    "max_concurrency": 10,
    "rules": [
        {"kind": "commit_then_drop", "rate": 0.2, "operations": ["CreateItem"]},
        {"kind": "throttle", "rate": 0.1, "back_off_ms": 50},
        {"kind": "delay", "seconds": 0.1, "operations": ["CreateItem"]},  # keeps runs long enough to kill
    ],
}
FP_KEY = f"name:{PROPERTY_SET}:{PROPERTY_NAME}"


def expected_fingerprints(ost: Path) -> Counter:
    wanted: Counter = Counter()
    with open_source(ost) as source:
        for folder in source.folders():
            if skip_reason(folder) or not folder.path:
                continue
            wanted.update({fingerprint(i) for i in source.items(folder) if isinstance(i, SourceItem)})
    return wanted


def rebuild_process(handle, state: Path, ost: Path) -> subprocess.Popen[str]:
    connection = ews_args(handle, state, username=SERVICE, impersonate=True)
    run = ["run", "--ost", str(ost), "--mailbox", MAILBOX, *connection, "--batch-items", "3", "--log-level", "warning"]
    return start_cli(
        *run, env={"REBUILD_PASSWORD": PASSWORD, "REBUILD_BACKOFF_INITIAL": "0.05", "REBUILD_BACKOFF_MAX": "0.5"}
    )


# (kills, items): each killed run stores 10-40 items before its kill, so the items outnumber what the kills can
# store by far and every run is still uploading when its moment comes; the final rerun has the rest to do.
@pytest.mark.parametrize(("kills", "items"), [(10, 400), pytest.param(20, 800, marks=pytest.mark.slow)])
def test_killed_runs_then_rerun_leave_exactly_one_copy(tmp_path: Path, kills: int, items: int):
    ost = fixtures.cached(spec(items), format="ost")
    rng = random.Random(2026)
    state = tmp_path / "state"
    killed = 0
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=FAULTS) as (handle, data):
        runs = stopped_runs(
            lambda: rebuild_process(handle, state, ost),
            kill,
            rng,
            (0.0, 0.4),
            most=MAX_RUNS,
            ready=when_it_stores(data, MAILBOX),
        )
        for run in runs:
            killed += run.signalled
            if killed == kills:
                break
        left_by_kills = stored_items(data, MAILBOX)
        # The final rerun keeps commit-then-drop and throttling, without the slowing delay.
        handle.set_faults({**FAULTS, "rules": [r for r in FAULTS["rules"] if r["kind"] != "delay"]})
        final = rebuild_process(handle, state, ost)
        out, err = final.communicate(timeout=600)
        stats = handle.stats()
    assert final.returncode == 0, out + err
    assert killed == kills, f"only {killed} runs were still running when killed"
    injected = stats["faults"]["injected"]  # since start-up, across the rule change
    assert injected["commit_then_drop"] > 0 and injected["throttle"] > 0, stats
    assert stats["schema_violations"] == 0
    assert (stats["faults"]["search_lag_s"], stats["faults"]["max_concurrency"]) == (2, 10)
    assert not stats["counters"].get("error:ErrorExceededConnectionCount"), "the client exceeded 10 at once"

    on_server = Counter(item["extended_properties"].get(FP_KEY) for item in sandbox_items(data, MAILBOX))
    wanted = expected_fingerprints(ost)
    duplicates = {fp: n for fp, n in on_server.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} items stored more than once"
    assert set(wanted) - set(on_server) == set(), "items missing after the final rerun"
    assert len(wanted) >= 200
    assert 0 < left_by_kills < len(wanted), "the killed runs stored nothing, or everything: no kill was mid-upload"
