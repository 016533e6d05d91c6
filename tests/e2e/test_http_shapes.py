"""The CLI against the HTTP answers Exchange gives besides SOAP: requests too large for the front end (507
with Connection: close, as on-premises Exchange answers) are split until they fit, and 401s used as
throttling on an authenticated NTLM connection are ridden out. Oracle: the fixture spec's item count and the
sandbox's store read directly, each fingerprint exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import fixtures
from pipeline.sandbox.limits import Limits
from tests.conftest import own_sandbox, run_cli, sandbox_items
from tests.e2e.conftest import ews_cli

SERVICE, PASSWORD, MAILBOX = "svc-http", "http-pw", "hugo@corp.example"
FP_KEY = "name:74594eaa-9d20-45ad-b806-df062a3740a3:RebuildFingerprint"
COUNT = 40
SPEC = {
    "store": {"name": "HTTP shapes", "seed": 21},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": COUNT, "size_min": 15_000, "size_max": 30_000, "folders": 1, "seed": 3, "parent": "Inbox"}],
}


def rebuild(handle, state: Path):
    return ews_cli(
        handle,
        state,
        "run",
        "--ost",
        str(fixtures.cached(SPEC, format="ost")),
        "--mailbox",
        MAILBOX,
        "--json",
        "--batch-items",
        "20",
        username=SERVICE,
        password=PASSWORD,
        impersonate=True,
        env={"REBUILD_BACKOFF_INITIAL": "0.05", "REBUILD_BACKOFF_MAX": "0.2"},
    )


def once_each(data: Path) -> bool:
    stored = Counter(i["extended_properties"].get(FP_KEY) for i in sandbox_items(data, MAILBOX))
    return len(stored) == COUNT and set(stored.values()) == {1}


def test_requests_too_large_are_split_not_retried(tmp_path: Path):
    limits = Limits(max_request_bytes=300_000, oversize_answer="507")  # 20 items of 20-40 KB do not fit
    with own_sandbox(tmp_path / "sb", {SERVICE: (PASSWORD, True)}, [MAILBOX], limits=limits) as (handle, data):
        done = rebuild(handle, tmp_path / "state")
        stats = handle.stats()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["uploaded"] == COUNT and summary["failed_total"] == 0
    assert stats["counters"]["http_507"] >= 1
    assert once_each(data)


def test_401_throttling_on_ntlm_connections_is_ridden_out(tmp_path: Path):
    faults = {"seed": 5, "rules": [{"kind": "http_401_throttle", "rate": 0.3, "operations": ["CreateItem"]}]}
    with own_sandbox(tmp_path / "sb", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=faults) as (handle, data):
        done = rebuild(handle, tmp_path / "state")
        injected = handle.faults()["injected"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert injected.get("http_401_throttle", 0) >= 1
    assert json.loads(done.stdout)["failed_total"] == 0
    assert once_each(data)


@pytest.mark.parametrize("cap", [2, 8])
def test_concurrent_requests_against_the_servers_limit(tmp_path: Path, cap: int):
    """Four batches in flight against EWSMaxConcurrency 2: with max_concurrent_requests 2 the server never
    refuses one; with 8 it does (ErrorExceededConnectionCount), and the run still completes (exchangelib's
    pool shrinking used to deadlock on that answer, see target/pool.py)."""
    faults = {"max_concurrency": 2, "rules": [{"kind": "delay", "seconds": 0.2, "operations": ["CreateItem"]}]}
    with own_sandbox(tmp_path / "sb", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=faults) as (handle, data):
        done = run_cli(
            "run",
            "--ost",
            str(fixtures.cached(SPEC, format="ost")),
            "--mailbox",
            MAILBOX,
            "--server",
            handle.url,
            "--username",
            SERVICE,
            "--impersonate",
            "--state",
            str(tmp_path / "state"),
            "--json",
            "--batch-items",
            "5",
            timeout=120,
            env={
                "REBUILD_PASSWORD": PASSWORD,
                "REBUILD_REQUESTS_IN_FLIGHT": "4",
                "REBUILD_MAX_CONCURRENT_REQUESTS": str(cap),
                "REBUILD_BACKOFF_INITIAL": "0.05",
                "REBUILD_BACKOFF_MAX": "0.2",
            },
        )
        stats = handle.stats()
    assert done.returncode == 0, done.stdout + done.stderr
    assert stats["counters"]["op:CreateItem"] >= COUNT // 5
    refused = stats["counters"].get("error:ErrorExceededConnectionCount", 0)
    assert (refused == 0) if cap == 2 else (refused > 0), stats["counters"]
    assert once_each(data)
