"""The lease never lapses while its holder writes, under throttling (issue 26): a run against a Graph budget of
12 requests per 10 s keeps renewing (its renewals go ahead of item uploads and wait out Retry-After); a
run whose renewals are all refused with a Retry-After longer than its lease stops writing before the lease
expires; a run over EWS in a storm of ErrorServerBusy (BackOffMilliseconds 2000) never writes outside it.

The oracles are the sandbox's, read in the test: over Graph its request log (`handle.graph_log()`: when
each request arrived, its status and the folder it touched); over EWS its store, watched every 0.1 s (the
lease item's version, new items elsewhere). Every write to the mailbox outside the lease folder must come
no later than lease_seconds after the last lease write the server accepted before it (the take or a
renewal). The run itself is only asked for its exit code. Short leases keep each trial bounded (< 60 s).
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

import fixtures  # noqa: E402
from tests.conftest import own_sandbox  # noqa: E402
from tests.e2e.conftest import ews_cli, graph_cli, own_graph_sandbox  # noqa: E402

MAILBOX = "throttled@corp.example"
LEASE_FOLDER = "Mailbox rebuild lease"  # the folder the lease lives in, as the README names it
WRITES = ("POST", "PATCH", "PUT", "DELETE")
SPEC = {
    "store": {"name": "Throttled lease", "seed": 26},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": 6, "size_min": 300, "size_max": 900, "folders": 1, "seed": 4, "parent": "Inbox"}],
}


@pytest.fixture(scope="module")
def ost() -> Path:
    path, _ = fixtures.cached_build(SPEC, "ost", "permute")
    return path


def run(handle, state: Path, ost: Path, lease_s: int, timeout_s: int) -> subprocess.CompletedProcess[str]:
    env = {
        "REBUILD_LEASE_SECONDS": str(lease_s),
        "REBUILD_GRAPH_REQUEST_TIMEOUT": str(timeout_s),
        "REBUILD_BACKOFF_INITIAL": "0.2",
        "REBUILD_BACKOFF_MAX": "2",
    }
    args = ["run", "--log-level", "warning", "--ost", str(ost), "--mailbox", MAILBOX]
    return graph_cli(handle, state, *args, env=env, timeout=120)


def lease_and_writes(log: list[dict]) -> tuple[list[float], list[dict]]:
    """(arrival times of the lease writes the server accepted, the other accepted writes) of the mailbox."""
    mine = [
        e
        for e in log
        if e["user"] in (MAILBOX, None) and e["method"] in WRITES and (200 <= e["status"] < 300 or e.get("dropped"))
    ]
    lease = sorted(e["at"] for e in mine if e["folder"] == LEASE_FOLDER and e["method"] in ("POST", "PATCH"))
    others = [e for e in mine if e["folder"] != LEASE_FOLDER]
    return lease, others


def late_writes(log: list[dict], lease_s: int) -> list[str]:
    lease, writes = lease_and_writes(log)
    assert lease, "the run never took its lease"
    late = []
    for write in writes:
        before = [t for t in lease if t <= write["at"]]
        if not before or write["at"] > before[-1] + lease_s:
            last = f"{write['at'] - before[-1]:.1f} s after the last renewal" if before else "before any lease"
            late.append(f"{write['method']} {write['path'][:60]} ({write['folder']}): {last}")
    return late


def graph_sandbox(tmp_path: Path):
    return own_graph_sandbox(tmp_path / "sandbox-data", {}, [MAILBOX])


def test_under_a_tight_graph_budget_the_lease_is_renewed_and_never_lapses_while_the_run_writes(
    tmp_path: Path, ost: Path
):
    """12 requests per 10 s for the app and mailbox (Graph answers 429 with Retry-After beyond): the run
    lasts longer than its 24-s lease, keeps renewing it, and never writes outside it."""
    lease_s, timeout_s = 24, 3
    with graph_sandbox(tmp_path) as (handle, _):
        handle.set_graph({"requests": 12, "request_window": 10})
        began = time.time()
        result = run(handle, tmp_path / "state", ost, lease_s, timeout_s)
        log = handle.graph_log()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    throttled = [e for e in log if e["status"] == 429]
    assert throttled, "the budget never bit: this trial tests nothing"
    lease, writes = lease_and_writes(log)
    assert len(writes) >= 6 and len(lease) >= 3, (len(writes), len(lease))
    assert max(e["at"] for e in writes) - began > lease_s / 2, "the run was too short to need its renewals"
    gaps = [b - a for a, b in zip(lease, lease[1:], strict=False)]
    assert max(gaps) < lease_s - timeout_s - 1, f"a renewal came too late under throttling: {max(gaps):.1f} s"
    assert late_writes(log, lease_s) == []


def test_a_run_whose_renewals_are_all_refused_stops_writing_before_its_lease_expires(tmp_path: Path, ost: Path):
    """Every PATCH (the renewals too) answered 429 with Retry-After 60, longer than the 10-s lease: the run
    waits it out no longer than its fence, ends with a lease error, and wrote nothing after expiry."""
    lease_s, timeout_s = 10, 3
    faults = {
        "rules": [
            {"kind": "throttle", "back_off_ms": 60_000, "operations": ["Graph:PATCH:messages"]},
            {"kind": "delay", "seconds": 1.5, "operations": ["Graph:createImportMime"]},
        ]
    }
    with graph_sandbox(tmp_path) as (handle, _):
        handle.set_faults(faults)
        began = time.monotonic()
        result = run(handle, tmp_path / "state", ost, lease_s, timeout_s)
        took = time.monotonic() - began
        log = handle.graph_log()
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "lease" in said.lower(), said[-2000:]
    refused = [e for e in log if e["method"] == "PATCH" and e["folder"] == LEASE_FOLDER and e["status"] == 429]
    assert refused, "no renewal was refused: this trial tests nothing"
    assert took < 45, f"the run slept out the Retry-After ({took:.0f} s) instead of stopping at its fence"
    assert late_writes(log, lease_s) == []


SERVICE, PASSWORD = "svc-storm", "storm-pw"
# (every CreateItem answered 2 s late: the run lasts past its lease's renewals whichever requests the storm hits)
STORM = {
    "seed": 26,
    "rules": [
        {"kind": "throttle", "back_off_ms": 2000, "rate": 0.3},
        {"kind": "delay", "seconds": 2.0, "operations": ["CreateItem"]},
    ],
}


class StoreWatcher(threading.Thread):
    """Watches the sandbox's store from outside: when the lease item changed (its version), and when each
    item outside the lease folder first appeared."""

    def __init__(self, data: Path, mailbox: str) -> None:
        super().__init__(daemon=True)
        self.data, self.mailbox = data, mailbox
        self.renewals: list[float] = []
        self.writes: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        from pipeline.sandbox.store import SandboxStore

        store = SandboxStore(self.data)
        seen_lease: set[tuple[int, int]] = set()
        last_item = 0
        try:
            while not self.done.is_set():
                with store.connection() as conn:
                    now = time.time()
                    rows = conn.execute(
                        "SELECT i.id, i.version, f.name FROM items i JOIN folders f ON f.id=i.folder_id "
                        "JOIN mailboxes m ON m.id=i.mailbox_id WHERE m.address=? AND (f.name=? OR i.id>?)",
                        (self.mailbox, LEASE_FOLDER, last_item),
                    ).fetchall()
                for item_id, version, folder in rows:
                    if folder == LEASE_FOLDER:
                        if (item_id, version) not in seen_lease:
                            seen_lease.add((item_id, version))
                            self.renewals.append(now)
                    elif item_id > last_item:
                        self.writes.append(now)
                last_item = max([last_item, *(r[0] for r in rows if r[2] != LEASE_FOLDER)])
                time.sleep(0.1)
        finally:
            store.close()


def test_in_an_ews_back_off_storm_the_run_never_writes_outside_its_lease(tmp_path: Path, ost: Path):
    """30 % of EWS requests answered ErrorServerBusy with BackOffMilliseconds 2000: the run (a 16-s lease)
    renews through the storm and ends well, and no item appears later than 16 s after the lease item last
    changed. (Before renewals counted from their successful write, this run lost its lease.) The lease leaves
    a renewal 12 s (16 - the 3-s request timeout - 1) to get through: six tries 2 s apart, as the server asks;
    at 12 s (four tries) a run of four refusals in the seeded storm, which the order of the run's other
    requests decides, ended the run as lease-lost, a correct stop but not what this trial is about."""
    lease_s, timeout_s = 16, 3
    mailbox = "storm@corp.example"
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [mailbox], faults=STORM) as (handle, data):
        watcher = StoreWatcher(data, mailbox)
        watcher.start()
        env = {
            "REBUILD_LEASE_SECONDS": str(lease_s),
            "REBUILD_EWS_REQUEST_TIMEOUT": str(timeout_s),
            "REBUILD_BACKOFF_INITIAL": "0.2",
            "REBUILD_BACKOFF_MAX": "2",
        }
        args = ["run", "--ost", str(ost), "--mailbox", mailbox, "--batch-items", "2", "--log-level", "warning"]
        try:
            result = ews_cli(
                handle,
                tmp_path / "state",
                *args,
                username=SERVICE,
                password=PASSWORD,
                impersonate=True,
                env=env,
                timeout=120,
            )
        finally:
            time.sleep(0.3)
            watcher.done.set()
            watcher.join(5)
        storms = handle.stats()["faults"]
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-2000:]  # renewed through the storm: the lease never lapsed
    assert watcher.writes and len(watcher.renewals) >= 3, (watcher.writes, watcher.renewals)
    assert "throttle" in str(storms), f"the storm never blew: {storms}"
    late = [
        w
        for w in watcher.writes
        if not [r for r in watcher.renewals if r <= w] or w > max(r for r in watcher.renewals if r <= w) + lease_s
    ]
    assert late == [], f"{len(late)} items appeared after the lease had expired"


class LeaseRecords(threading.Thread):
    """The most records the mailbox's lease folder held at once, from the sandbox's store every 0.1 s."""

    def __init__(self, data: Path, mailbox: str) -> None:
        super().__init__(daemon=True)
        self.data, self.mailbox, self.most = data, mailbox, 0
        self.done = threading.Event()

    def run(self) -> None:
        from pipeline.sandbox.store import SandboxStore

        store = SandboxStore(self.data)
        try:
            while not self.done.is_set():
                with store.connection() as conn:
                    (count,) = conn.execute(
                        "SELECT count(*) FROM items i JOIN folders f ON f.id=i.folder_id "
                        "JOIN mailboxes m ON m.id=i.mailbox_id WHERE m.address=? AND f.name=?",
                        (self.mailbox, LEASE_FOLDER),
                    ).fetchone()
                self.most = max(self.most, count)
                time.sleep(0.1)
        finally:
            store.close()

    def stop(self) -> int:
        self.done.set()
        self.join(5)
        return self.most


def test_a_lease_write_whose_answer_is_lost_leaves_one_lease_record(tmp_path: Path, ost: Path):
    """The first CreateItem (the lease's record) is committed, then its connection dropped: the run must not
    write a second record beside it (a watcher could read the one renewals never touch and call the live
    holder dead). The sandbox's store, watched every 0.1 s, never holds two records in the lease folder."""
    mailbox = "lost-write@corp.example"
    once = {  # (every CreateItem 0.5 s late: the lease lives long enough for the watcher to see it)
        "rules": [
            {"kind": "commit_then_drop", "operations": ["CreateItem"], "count": 1},
            {"kind": "delay", "seconds": 0.5, "operations": ["CreateItem"]},
        ]
    }
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [mailbox], faults=once) as (handle, data):
        records = LeaseRecords(data, mailbox)
        records.start()
        try:
            result = ews_cli(
                handle,
                tmp_path / "state",
                *("run", "--ost", str(ost), "--mailbox", mailbox, "--log-level", "warning"),
                username=SERVICE,
                password=PASSWORD,
                impersonate=True,
                env={"REBUILD_BACKOFF_INITIAL": "0.2", "REBUILD_BACKOFF_MAX": "1"},
                timeout=120,
            )
        finally:
            most = records.stop()
        dropped = handle.stats()["faults"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "commit_then_drop" in str(dropped), f"the answer was never dropped: {dropped}"
    assert most == 1, f"{most} lease records at once"


def test_over_graph_a_lease_write_whose_answer_is_lost_leaves_one_lease_record(tmp_path: Path, ost: Path):
    """The same over Graph: the lease record's POST is committed, then its connection dropped."""
    once = {
        "rules": [
            {"kind": "commit_then_drop", "operations": ["Graph:createMessage"], "count": 1},
            {"kind": "delay", "seconds": 0.5, "operations": ["Graph:createImportMime"]},
        ]
    }
    with graph_sandbox(tmp_path) as (handle, data):
        handle.set_faults(once)
        records = LeaseRecords(data, MAILBOX)
        records.start()
        try:
            result = run(handle, tmp_path / "state", ost, 24, 3)
        finally:
            most = records.stop()
        dropped = handle.stats()["faults"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "commit_then_drop" in str(dropped), f"the answer was never dropped: {dropped}"
    assert most == 1, f"{most} lease records at once"
