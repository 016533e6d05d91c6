"""Issue 24 over Microsoft Graph: two OSTs and an archive PST of one mailbox merged into the sandbox's Graph face.

Runs go in this process (the default run's budget; tests/e2e/test_graph.py runs the CLI as a process) through
the Graph destination over real HTTP. The oracle is a plain-HTTP Graph listing written here (folder, subject,
isRead, flag.flagStatus, categories of every message under the message folder root, by Graph's documented
URLs), against the merged expectation computed from the cache set's spec (fixtures/caches.py), never the
project's own reader, client or verify.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

from fixtures.caches import build_caches, load_cache_set  # noqa: E402
from tests.conftest import own_sandbox  # noqa: E402
from tests.e2e.in_process import run_set  # noqa: E402
from tests.e2e.test_merge import ORDERS, expectation  # noqa: E402
from tests.graph_oracle import CLIENT_ID, SECRET, TENANT, PlainGraph  # noqa: E402

FLAGS = {"notFlagged": 0, "complete": 1, "flagged": 2}
MAILBOXES = [
    "g-order0@corp.example",
    "g-order5@corp.example",
    "g-onebyone@corp.example",
    "g-moved@corp.example",
    "g-move@corp.example",
    "g-upgraded@corp.example",
    *(f"g-order{n}@corp.example" for n in (1, 2, 3, 4)),
]


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("graph-caches")
    return build_caches(load_cache_set("alice"), folder)


@pytest.fixture(scope="module")
def graph_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore

    data = tmp_path_factory.mktemp("graph-merge-sandbox")
    store = SandboxStore(data)
    add_app(store, CLIENT_ID, SECRET)
    store.close()
    with own_sandbox(data, {}, MAILBOXES) as (handle, _):
        yield handle


def listing(base: str, mailbox: str) -> list[tuple]:
    """(folder, subject, read, flag status, categories) of every message in every mail folder under the
    message folder root, through plain Graph HTTP (childFolders walked by hand)."""
    graph = PlainGraph(base, mailbox)
    found = []
    stack = [("msgfolderroot", "")]
    while stack:
        folder_id, name = stack.pop()
        for child in graph.all(f"/mailFolders/{folder_id}/childFolders", includeHiddenFolders="true"):
            if not child.get("isHidden"):
                stack.append((child["id"], child["displayName"]))
        if folder_id == "msgfolderroot":
            continue
        for m in graph.all(f"/mailFolders/{folder_id}/messages"):
            found.append(
                (name, m["subject"], m["isRead"], FLAGS[m["flag"]["flagStatus"]], tuple(sorted(m["categories"])))
            )
    return sorted(found)


def run_graph(handle: Any, state: Path, mailbox: str, files: list[Path], merge: bool = True) -> Any:
    """One run in this process through the Graph destination, over HTTP to the sandbox's Graph face."""
    from pipeline.destination.graph.connect import GraphTarget
    from pipeline.destination.graph.mailbox import GraphDestination

    target = GraphTarget(
        graph_url=handle.graph_url,
        login_url=handle.graph_url,
        tenant=TENANT,
        client_id=CLIENT_ID,
        secret=SECRET,
        sandbox=True,
    )
    return run_set(GraphDestination(target), state, mailbox, files, merge)


def test_two_orders_over_graph_give_the_merged_mailbox_and_a_rerun_changes_nothing(
    tmp_path: Path, graph_sandbox: Any, caches: dict[str, Path]
):
    """The set and its reverse, each into a fresh Graph mailbox: each item once, in its newest folder and
    state; the two mailboxes alike; the same files again upload and change nothing."""
    want = expectation({"desktop", "laptop", "archive"})
    for n, mailbox in ((0, MAILBOXES[0]), (5, MAILBOXES[1])):
        first = run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches[name] for name in ORDERS[n]])
        assert listing(graph_sandbox.graph_url, mailbox) == want, ORDERS[n]
        assert first.uploaded == len(want) and first.failed_total == 0
    again = run_graph(graph_sandbox, tmp_path / "state", MAILBOXES[0], [caches[name] for name in ORDERS[5]])
    assert (again.uploaded, again.updated, again.present) == (0, 0, len(want))
    assert listing(graph_sandbox.graph_url, MAILBOXES[0]) == want


@pytest.mark.slow
def test_the_other_four_orders_over_graph_give_the_same_mailbox(
    tmp_path: Path, graph_sandbox: Any, caches: dict[str, Path]
):
    """The four orders the default run leaves out, each into a fresh Graph mailbox: the same merged mailbox."""
    want = expectation({"desktop", "laptop", "archive"})
    for n in (1, 2, 3, 4):
        mailbox = f"g-order{n}@corp.example"
        run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches[name] for name in ORDERS[n]])
        assert listing(graph_sandbox.graph_url, mailbox) == want, ORDERS[n]


#: The move's answer lost after the sandbox committed it (every move of the mailbox): found in the target by
#: its stamp, never moved twice.
DROP_MOVES = {"kind": "commit_then_drop", "operations": ["Graph:moveMessage"]}


@pytest.mark.parametrize(
    ("mailbox", "order", "drop_moves"),
    [
        # the laptop's older copies first: the desktop's run moves the plan into Projects (POST …/move), and
        # every move's answer is lost
        (MAILBOXES[2], ("laptop", "desktop", "archive"), True),
        # the desktop first: the laptop's run re-flags and files the invoice (PATCH), the rest stays
        (MAILBOXES[3], ("desktop", "laptop", "archive"), False),
    ],
)
def test_one_file_at_a_time_over_graph_ends_as_all_at_once(
    tmp_path: Path, graph_sandbox: Any, caches: dict[str, Path], mailbox: str, order: tuple[str, ...], drop_moves: bool
):
    """Three runs of one file each end in the merged mailbox (items updated and moved, never a second copy);
    a rerun of the whole set changes nothing."""
    given: set[str] = set()
    updated = moved = 0
    if drop_moves:
        graph_sandbox.set_faults({"seed": 1, "rules": [{**DROP_MOVES, "mailbox": mailbox}]})
    try:
        for name in order:
            given.add(name)
            summary = run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches[name]])
            assert summary.failed_total == 0, summary.failures
            updated += summary.updated
            moved += summary.merge["moved"]
            assert listing(graph_sandbox.graph_url, mailbox) == expectation(given), name
        dropped = sum(r.get("injected", 0) for r in graph_sandbox.faults().get("rules", []))
    finally:
        graph_sandbox.set_faults({})
    assert updated >= 1, "a later file's newer state was applied to an item already there"
    if drop_moves:
        assert moved >= 1 and dropped == moved, (moved, dropped)
    again = run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches[name] for name in order])
    assert (again.uploaded, again.updated) == (0, 0)
    assert listing(graph_sandbox.graph_url, mailbox) == expectation(set(order))


def test_a_move_over_graph_is_graphs_own(graph_sandbox: Any):
    """Ledger: graph-move. The sandbox's move as Graph documents it, through plain HTTP: 201 with the message under a new id in
    its new folder, the old id then 404 ErrorItemNotFound; an unknown parameter refused (metadata)."""
    graph = PlainGraph(graph_sandbox.graph_url, MAILBOXES[4])
    made = graph.http.post("/mailFolders/inbox/messages", json={"subject": "to be moved"})
    assert made.status_code == 201, made.text
    old = made.json()["id"]
    bad = graph.http.post(f"/messages/{old}/move", json={"folderId": "drafts"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "RequestBodyRead"
    moved = graph.http.post(f"/messages/{old}/move", json={"destinationId": "drafts"})
    assert moved.status_code == 201, moved.text
    drafts = graph.get("/mailFolders/drafts", **{"$select": "id"})["id"]
    assert moved.json()["id"] != old and moved.json()["parentFolderId"] == drafts
    gone = graph.http.post(f"/messages/{old}/move", json={"destinationId": "inbox"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"
    deleted = graph.http.delete(f"/messages/{moved.json()['id']}")
    assert deleted.status_code == 204


def test_the_sandbox_patches_states_as_graph_does(graph_sandbox: Any):
    """Ledger: graph-patch-states, graph-extension-update. Through plain HTTP: a message's flag and categories set, then cleared by notFlagged and []; an event's
    categories and PR_FLAG_STATUS; a To Do task's open extension replaced by PATCH of the extension."""
    graph = PlainGraph(graph_sandbox.graph_url, MAILBOXES[4])
    message = graph.http.post("/mailFolders/inbox/messages", json={"subject": "states"}).json()["id"]
    set_ = {"isRead": False, "flag": {"flagStatus": "flagged"}, "categories": ["Red"]}
    assert graph.http.patch(f"/messages/{message}", json=set_).status_code == 200
    got = graph.get(f"/messages/{message}")
    assert (got["isRead"], got["flag"]["flagStatus"], got["categories"]) == (False, "flagged", ["Red"])
    cleared = graph.http.patch(f"/messages/{message}", json={"flag": {"flagStatus": "notFlagged"}, "categories": []})
    assert cleared.status_code == 200
    got = graph.get(f"/messages/{message}")
    assert (got["flag"]["flagStatus"], got["categories"]) == ("notFlagged", [])

    event = graph.http.post(
        "/events",
        json={
            "subject": "e",
            "start": {"dateTime": "2025-01-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-01T11:00:00", "timeZone": "UTC"},
        },
    ).json()["id"]
    flag = "Integer 0x1090"
    body = {"categories": ["Blue"], "singleValueExtendedProperties": [{"id": flag, "value": "2"}]}
    assert graph.http.patch(f"/events/{event}", json=body).status_code == 200
    got = graph.get(f"/events/{event}", **{"$expand": f"singleValueExtendedProperties($filter=id eq '{flag}')"})
    assert got["categories"] == ["Blue"] and got["singleValueExtendedProperties"][0]["value"] == "2"
    refused = graph.http.patch(f"/events/{event}", json={"flag": {"flagStatus": "flagged"}})
    assert refused.status_code == 400, "an event has no flag in Graph's metadata"

    (tasks,) = [t for t in graph.all("/todo/lists") if t.get("wellknownListName") == "defaultList"]
    extension = {"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "x.y", "identity": "one"}
    task = graph.http.post(f"/todo/lists/{tasks['id']}/tasks", json={"title": "t", "extensions": [extension]})
    path = f"/todo/lists/{tasks['id']}/tasks/{task.json()['id']}"
    assert graph.http.patch(f"{path}/extensions/x.y", json={"identity": "two"}).status_code == 200
    (got_ext,) = graph.get(path, **{"$expand": "extensions"})["extensions"]
    assert got_ext["identity"] == "two"
    assert graph.http.patch(f"{path}/extensions/none.such", json={"identity": "x"}).status_code == 404


def test_mailboxes_rebuilt_by_one_file_runs_over_graph_are_merged_without_duplicates(
    tmp_path: Path, graph_sandbox: Any, caches: dict[str, Path]
):
    """The upgrade over Graph: the laptop, then the desktop, each rebuilt by the one-file run (per-file
    fingerprints; the moved plan lands in both Inbox and Projects), then the merge of both: each item once,
    the extra copy deleted, states as the spec says."""
    mailbox = MAILBOXES[5]
    run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches["laptop"]], merge=False)
    assert listing(graph_sandbox.graph_url, mailbox) == expectation({"laptop"})
    run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches["desktop"]], merge=False)
    subjects = [entry[1] for entry in listing(graph_sandbox.graph_url, mailbox)]
    assert subjects.count("Project plan") == 2, "the one-file runs keep a copy in each folder"
    merged = run_graph(graph_sandbox, tmp_path / "state", mailbox, [caches["desktop"], caches["laptop"]])
    assert listing(graph_sandbox.graph_url, mailbox) == expectation({"desktop", "laptop"})
    assert merged.duplicates_removed >= 1 and merged.merge["unrecognised_stamps"] == 0


KILLS = 10
KILL_FAULTS = {
    "seed": 24,
    "rules": [
        {"kind": "commit_then_drop", "rate": 0.2, "operations": ["Graph:createImportMime", "Graph:moveMessage"]},
        # slow writes keep each run long enough to be killed inside its uploads, updates and moves
        {
            "kind": "delay",
            "seconds": 0.3,
            "operations": [
                "Graph:createImportMime",
                "Graph:createMessage",
                "Graph:PATCH:messages",
                "Graph:moveMessage",
            ],
        },
    ],
}


@pytest.mark.slow
def test_killed_merge_runs_over_graph_then_a_rerun_leave_each_item_once_in_its_newest_state(
    tmp_path: Path, caches: dict[str, Path]
):
    """The laptop rebuilt alone, then the three-file merge as a process (SIGKILL, no clean-up) killed up to
    KILLS times at random moments while it uploads, updates and moves, then run to its end: 0 missing,
    0 doubled, states as the spec says."""
    import os
    import random
    import subprocess
    import sys
    import time

    from pipeline.sandbox.graph.tokens import add_app
    from pipeline.sandbox.store import SandboxStore
    from tests.conftest import REPO

    rng = random.Random(24)
    mailbox, state, data = "g-killed@corp.example", tmp_path / "state", tmp_path / "sandbox"
    store = SandboxStore(data)
    add_app(store, CLIENT_ID, SECRET)
    store.close()
    with own_sandbox(data, {}, [mailbox]) as (handle, _):
        command = [sys.executable, "-m", "pipeline", "run", "--destination", "graph", "--graph-url", handle.graph_url]
        command += ["--tenant", TENANT, "--client-id", CLIENT_ID, "--state", str(state), "--mailbox", mailbox]
        command += ["--batch-items", "1", "--log-level", "error"]
        env = {**os.environ, "REBUILD_GRAPH_SECRET": SECRET, "REBUILD_BACKOFF_INITIAL": "0.05"}
        first = subprocess.run([*command, "--ost", str(caches["laptop"]), "--merge"], cwd=REPO, env=env, timeout=300)
        assert first.returncode == 0
        handle.set_faults(KILL_FAULTS)
        merge = [*command, *(a for name in ("desktop", "laptop", "archive") for a in ("--ost", str(caches[name])))]
        killed = 0
        for _run in range(2 * KILLS):
            if killed == KILLS:
                break
            process = subprocess.Popen(merge, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + rng.uniform(1.0, 3.0)
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            if process.poll() is None:
                process.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
                killed += 1
            process.wait(timeout=120)
        handle.set_faults({})
        final = subprocess.run([*merge, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        got = listing(handle.graph_url, mailbox)
    assert final.returncode == 0, final.stderr[-2000:]
    assert killed >= 1, "no run was still running when its kill time came"
    assert got == expectation({"desktop", "laptop", "archive"})
