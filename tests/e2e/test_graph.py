"""`rebuild --destination graph`: the CLI as a process against the sandbox's Graph face, on fixture OSTs.

Judged by plain HTTP listings written here (tests/graph_oracle.py), by the fixture spec, and by a plain
exchangelib listing of the same mailbox through the sandbox's EWS face; never by our own client.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

from tests.conftest import sandbox_items, start_cli  # noqa: E402
from tests.e2e.conftest import ews_cli, graph_cli, own_graph_sandbox  # noqa: E402
from tests.e2e.connection import graph_args, graph_env  # noqa: E402
from tests.e2e.kills import kill, stopped_runs, when_it_stores  # noqa: E402
from tests.graph_oracle import PlainGraph, ews_listing, stamp  # noqa: E402

SERVICE, PASSWORD = "svc-rebuild", "S3cret-for-tests"
ALICE, BOB = "alice@corp.example", "bob@corp.example"
#: What fixtures/specs/small.toml holds, per server folder (roles by their server names; notes and journal
#: in mail folders named after the source folders).
SMALL = {
    "Inbox": 7,
    "Inbox/Sub/Folder: with *awkward* \\ chars?": 1,
    "Sent Items": 1,
    "Drafts": 1,
    "Calendar": 3,
    "Contacts": 2,
    "Tasks": 1,
    "Notizen": 1,
    "Journal": 1,
}


@pytest.fixture
def graph_sandbox(tmp_path: Path):
    with own_graph_sandbox(tmp_path / "sandbox-data", {SERVICE: (PASSWORD, True)}, [ALICE, BOB]) as running:
        yield running


def rebuild(handle, state: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return graph_cli(handle, state, "run", "--log-level", "warning", *args, timeout=timeout)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def graph_stamps(graph: PlainGraph) -> Counter:
    """Every stamped item of the mailbox's rebuilt folders, by identity (a duplicate counts twice)."""
    found: Counter = Counter()
    inbox_child = graph.child("inbox", "Sub/Folder: with *awkward* \\ chars?")
    notes = graph.child("msgfolderroot", "Notizen")
    journal = graph.child("msgfolderroot", "Journal")
    for folder in ("inbox", inbox_child, "sentitems", "drafts", notes, journal):
        found.update(stamp(m) for m in graph.messages(folder))
    found.update(stamp(e) for e in graph.events())
    found.update(stamp(c) for c in graph.contacts())
    found.update(stamp(t) for t in graph.tasks())
    return found


def test_small_fixture_over_graph(tmp_path: Path, graph_sandbox, small_ost: Path):
    handle, data = graph_sandbox
    state = tmp_path / "state"
    first = summary_of(rebuild(handle, state, "--ost", str(small_ost), "--mailbox", ALICE, "--json"))
    assert first["uploaded"] == 18 and first["failed_total"] == 0

    graph = PlainGraph(handle.graph_url, ALICE)
    inbox = {m["subject"]: m for m in graph.messages("inbox")}
    assert len(inbox) == 7
    plain = inbox["Plain hello — grüße 你好"]
    assert plain["isRead"] is False and plain["isDraft"] is False  # spec: read = false
    assert plain["receivedDateTime"] == "2024-02-01T10:01:00Z" and plain["sentDateTime"] == "2024-02-01T10:00:00Z"
    assert sorted(plain["categories"]) == ["Projekt X", "Rot"] and plain["flag"]["flagStatus"] == "flagged"
    assert all(not m["isDraft"] and m["isRead"] for s, m in inbox.items() if s != plain["subject"])
    assert inbox["All three bodies"]["flag"]["flagStatus"] == "complete"
    (draft,) = graph.messages("drafts")
    assert draft["subject"] == "Unfinished draft" and draft["isDraft"] is True  # unsent drafts stay drafts
    (sent,) = graph.messages("sentitems")
    assert sent["subject"] == "Sent mail" and not sent["isDraft"]
    assert [m["subject"] for m in graph.messages(graph.child("inbox", "Sub/Folder: with *awkward* \\ chars?"))] == [
        "Inside the awkward folder"
    ]

    events = {e["subject"]: e for e in graph.events()}
    assert set(events) == {"Dentist", "Holiday", "Weekly sync"}
    assert "attendees" not in events["Weekly sync"] or not events["Weekly sync"]["attendees"]
    instances = graph.all(
        f"/events/{events['Weekly sync']['id']}/instances",
        startDateTime="2024-01-01T00:00:00Z",
        endDateTime="2025-01-01T00:00:00Z",
    )
    assert len(instances) == 9  # ten weekly occurrences, one deleted
    assert [i["subject"] for i in instances].count("Weekly sync (moved)") == 1
    assert {c["displayName"] for c in graph.contacts()} == {"Zoë Müller", "Team list"}
    import sqlite3

    with sqlite3.connect(data / "sandbox.sqlite") as db:  # the spec's photo: 2048 bytes of JPEG
        (photo,) = db.execute(
            "SELECT a.size, a.content FROM attachments a JOIN items i ON i.id = a.item_id "
            "WHERE i.subject = 'Zoë Müller' AND a.name = 'ContactPicture.jpg'"
        ).fetchall()
    assert photo[0] == 2048 and bytes(photo[1]).startswith(b"\xff\xd8\xff\xe0")
    assert [t["title"] for t in graph.tasks()] == ["File the report"]
    stamps = graph_stamps(graph)
    assert sum(stamps.values()) == 18 and max(stamps.values()) == 1 and None not in stamps
    assert handle.graph_sent() == [], "nothing may be sent (invitations, mail)"
    # Every request and answer matched Microsoft's v1.0 metadata (when ../shared/graph-metadata is there).
    assert handle.stats()["counters"].get("schema_violations", 0) == 0

    # The same mailbox through the EWS face, listed with plain exchangelib.
    ews = ews_listing(handle.url, SERVICE, PASSWORD, ALICE)
    assert {path: sum(c.values()) for path, c in ews.items()} == SMALL
    assert ews["Inbox"] == Counter(inbox.keys())

    again = summary_of(rebuild(handle, state, "--ost", str(small_ost), "--mailbox", ALICE, "--json"))
    assert again["uploaded"] == 0 and again["present"] == 18
    for path in state.glob("journal.sqlite*"):
        path.unlink()
    lost = summary_of(rebuild(handle, state, "--ost", str(small_ost), "--mailbox", ALICE, "--json"))
    assert lost["uploaded"] == 0 and lost["present"] == 18
    assert graph_stamps(graph) == stamps
    verify = graph_cli(handle, state, "verify", "--ost", str(small_ost), "--mailbox", ALICE)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_throttling_storm_and_lost_answers_make_no_duplicate(tmp_path: Path, graph_sandbox, small_ost: Path):
    """Two requests in flight allowed (429 MailboxConcurrency with Retry-After beyond), random 429s,
    and creations whose answer is lost after the item was stored: every item lands exactly once."""
    handle, data = graph_sandbox
    handle.set_graph({"concurrency": 2, "concurrency_retry_after": 1})
    handle.set_faults(
        {
            "seed": 3,
            "rules": [
                {"kind": "delay", "seconds": 0.2, "operations": ["Graph:createImportMime"]},
                {"kind": "throttle", "rate": 0.05, "back_off_ms": 1000},
                {
                    "kind": "commit_then_drop",
                    "count": 3,
                    "operations": ["Graph:createImportMime", "Graph:createMessage", "Graph:createEvent"],
                },
            ],
        }
    )
    result = rebuild(
        handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", BOB, "--json", "--batch-items", "2"
    )  # batches of two: several in flight, beyond the one allowed
    summary = summary_of(result)
    assert summary["failed_total"] == 0 and summary["uploaded"] + summary["present"] == 18
    counters = handle.stats()["counters"]
    assert counters.get("graph:429:MailboxConcurrency", 0) > 0, counters
    assert summary["retries"] >= counters["graph:429:MailboxConcurrency"]  # each one waited for and resent
    assert handle.faults()["rules"][2]["injected"] == 3
    handle.set_faults({})
    stamps = graph_stamps(PlainGraph(handle.graph_url, BOB))
    assert sum(stamps.values()) == 18 and max(stamps.values()) == 1
    assert handle.graph_sent() == []


def test_without_import_mime_mail_is_created_from_json(tmp_path: Path, graph_sandbox, small_ost: Path):
    """Another cloud (no beta importMime): mail is created from JSON with PR_MESSAGE_FLAGS, not drafts, with
    its original dates, and the report names every item that lost its raw headers."""
    handle, _ = graph_sandbox
    handle.set_graph({"import_mime": False})
    summary = summary_of(rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", ALICE, "--json"))
    assert summary["uploaded"] == 18 and summary["failed_total"] == 0
    lost = [w["subject"] for w in summary["warning_items"] if w["warning"].startswith("raw MIME headers lost")]
    assert len(lost) == 9  # the 7 in the inbox, its subfolder's one and the sent mail (the draft is JSON anyway)
    graph = PlainGraph(handle.graph_url, ALICE)
    inbox = {m["subject"]: m for m in graph.messages("inbox")}
    assert len(inbox) == 7 and not any(m["isDraft"] for m in inbox.values())
    assert inbox["Plain hello — grüße 你好"]["receivedDateTime"] == "2024-02-01T10:01:00Z"
    assert inbox["Plain hello — grüße 你好"]["isRead"] is False
    assert [m["isDraft"] for m in graph.messages("drafts")] == [True]


def _kill_trials(tmp_path: Path, handle, ost: Path, mailbox: str, kills: int, storm: bool = False) -> dict:
    """Runs killed at random moments (SIGKILL: no clean-up), then one run to the end; its summary."""
    rules: list[dict] = [{"kind": "delay", "seconds": 0.15}]
    if storm:
        rules.append({"kind": "throttle", "rate": 0.2, "back_off_ms": 1000})
    handle.set_faults({"seed": 5, "rules": rules})
    state = tmp_path / "state"
    rng = random.Random(11)
    args = ["run", "--log-level", "error", "--ost", str(ost), "--mailbox", mailbox, "--batch-items", "3"]
    runs = stopped_runs(  # each killed 0-0.6 s after it stored its first item (SIGKILL: no clean-up runs)
        lambda: start_cli(*args, *graph_args(handle, state), env=graph_env(), quiet=True),
        kill,
        rng,
        (0.0, 0.6),
        most=kills,
        ready=when_it_stores(handle.data_dir, mailbox),
    )
    signalled = [run.signalled for run in runs]  # all `kills` runs, one after another
    assert any(signalled), "every run ended before its kill: nothing was killed mid-upload"
    handle.set_faults({})
    final = graph_cli(handle, state, *args, "--json")
    summary = json.loads(final.stdout)
    assert final.returncode == 0, final.stderr[-2000:]
    assert summary["failed_total"] == 0
    assert summary["present"] > 0, "the killed runs stored nothing: they were killed too early to test anything"
    return summary


def test_killed_runs_end_with_exactly_the_source(tmp_path: Path, graph_sandbox, small_ost: Path):
    handle, _ = graph_sandbox
    _kill_trials(tmp_path, handle, small_ost, ALICE, kills=2)
    stamps = graph_stamps(PlainGraph(handle.graph_url, ALICE))
    assert sum(stamps.values()) == 18 and max(stamps.values()) == 1
    assert handle.graph_sent() == []


@pytest.mark.slow
def test_twenty_kills_under_429_storms(tmp_path: Path, graph_sandbox, small_ost: Path):
    handle, _ = graph_sandbox
    handle.set_graph({"concurrency": 1})
    _kill_trials(tmp_path, handle, small_ost, ALICE, kills=20, storm=True)
    stamps = graph_stamps(PlainGraph(handle.graph_url, ALICE))
    assert sum(stamps.values()) == 18 and max(stamps.values()) == 1
    assert handle.graph_sent() == []


@pytest.mark.samples
@pytest.mark.parametrize("name", ["Outlook.pst", pytest.param("SampleOstFile.ost", marks=pytest.mark.slow)])
def test_samples_same_folders_and_counts_as_over_ews(tmp_path: Path, graph_sandbox, samples: Path, name: str):
    """The same file over EWS into one mailbox and over Graph into another of the same store: the EWS face
    lists the same folders, counts, drafts and read states for both."""
    handle, _ = graph_sandbox
    source = samples / name
    over_ews = ews_cli(
        handle,
        tmp_path / "ews-state",
        "run",
        "--ost",
        str(source),
        "--mailbox",
        BOB,
        "--json",
        username=SERVICE,
        password=PASSWORD,
        impersonate=True,
    )
    assert over_ews.returncode == 0, over_ews.stderr[-2000:]
    summary = summary_of(rebuild(handle, tmp_path / "state", "--ost", str(source), "--mailbox", ALICE, "--json"))
    assert summary["failed_total"] == 0
    ews_side = ews_listing(handle.url, SERVICE, PASSWORD, BOB)
    graph_side = ews_listing(handle.url, SERVICE, PASSWORD, ALICE)
    assert graph_side == ews_side

    def states(mailbox: str) -> Counter:
        return Counter(
            (i["subject"], i["is_draft"], i["is_read"], i["datetime_sent"])
            for i in sandbox_items(handle.data_dir, mailbox)
        )

    assert states(ALICE) == states(BOB)
    assert handle.graph_sent() == []


def test_a_second_run_of_the_same_mailbox_is_busy(tmp_path: Path, graph_sandbox, small_ost: Path):
    """The lease over Graph: while one run writes, another (another state dir) stops with exit 3 and one line
    naming the holder as soon as it sees the holder renew (a short lease here: renewals every second or so);
    the first run ends well and releases the lease."""
    handle, _ = graph_sandbox
    creations = [
        "Graph:createImportMime",
        "Graph:createMessage",
        "Graph:createEvent",
        "Graph:createContact",
        "Graph:createTask",
    ]  # slow enough (18 × 0.8 s, 4 at a time) for the second run to meet it
    handle.set_faults({"rules": [{"kind": "delay", "seconds": 0.8, "operations": creations}]})
    short_lease = {"REBUILD_LEASE_SECONDS": "10", "REBUILD_GRAPH_REQUEST_TIMEOUT": "3"}
    args = ["run", "--ost", str(small_ost), "--mailbox", ALICE]
    first = start_cli(
        *args, "--log-level", "error", *graph_args(handle, tmp_path / "first"), env=graph_env(**short_lease), quiet=True
    )
    try:
        graph = PlainGraph(handle.graph_url, ALICE)
        deadline = time.monotonic() + 60
        while not graph.get(
            "/mailFolders", **{"$filter": "displayName eq 'Mailbox rebuild lease'", "includeHiddenFolders": "true"}
        )["value"]:
            assert time.monotonic() < deadline and first.poll() is None, "the first run never took its lease"
            time.sleep(0.05)
        second = graph_cli(handle, tmp_path / "second", *args, "--log-level", "warning", env=short_lease)
        assert second.returncode == 3, second.stdout + second.stderr
        said = second.stdout + second.stderr  # the closing summary names the holder
        assert "another run holds this mailbox" in said and f"pid {first.pid}" in said
    finally:
        first.wait(timeout=120)
        handle.set_faults({})
    assert first.returncode == 0
    assert not graph.get(
        "/mailFolders", **{"$filter": "displayName eq 'Mailbox rebuild lease'", "includeHiddenFolders": "true"}
    )["value"], "the lease is released"


def test_an_import_never_finished_is_finished_by_the_rerun_not_imported_again(
    tmp_path: Path, graph_sandbox, small_ost: Path
):
    """Every finishing PATCH refused: the imported messages stay without their stamp (the run says so, exit 1);
    the rerun finds them by the imported identity header and finishes them instead of importing them again."""
    handle, _ = graph_sandbox
    handle.set_faults(
        {"rules": [{"kind": "error", "code": "ErrorInternalServerError", "operations": ["Graph:PATCH:messages"]}]}
    )
    env_fast = {"REBUILD_MAX_ATTEMPTS": "2", "REBUILD_BACKOFF_INITIAL": "0.05"}
    first = graph_cli(
        handle,
        tmp_path / "state",
        *["run", "--log-level", "error", "--ost", str(small_ost), "--mailbox", ALICE, "--json"],
        env=env_fast,
    )
    assert first.returncode == 1
    unfinished = json.loads(first.stdout)["failed_total"]
    assert unfinished == 9  # the imported mails: 7 in the inbox, 1 in its subfolder, 1 sent
    imported = handle.stats()["counters"]["graph:imported"]
    handle.set_faults({})
    summary = summary_of(rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", ALICE, "--json"))
    assert summary["uploaded"] == 9 and summary["failed_total"] == 0
    assert handle.stats()["counters"]["graph:imported"] == imported, "nothing was imported twice"
    graph = PlainGraph(handle.graph_url, ALICE)
    inbox = graph.messages("inbox")
    assert len(inbox) == 7 and all(stamp(m) for m in inbox)
    assert {m["subject"]: m["isRead"] for m in inbox}["Plain hello — grüße 你好"] is False


LARGE_SPEC = {
    "store": {"name": "Large attachments", "seed": 3},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {
                    "kind": "mail",
                    "subject": "Four megabytes",
                    "body": "see attached",
                    "sender": "A <a@example.com>",
                    "to": ["B <b@example.com>"],
                    "sent": "2024-05-01T10:00:00",
                    "received": "2024-05-01T10:01:00",
                    "attachments": [{"name": "big.bin", "size": 4_200_000}, {"name": "small.txt", "data": "small"}],
                }
            ],
        },
        {
            "name": "Drafts",
            "role": "drafts",
            "items": [
                {
                    "subject": "Draft with a big file",
                    "body": "draft",
                    "to": ["B <b@example.com>"],
                    "attachments": [{"name": "draft.bin", "size": 3_500_000}],
                }
            ],
        },
    ],
}


def test_large_attachments_of_json_messages_go_through_upload_sessions(tmp_path: Path, graph_sandbox):
    """Without importMime, attachments over 3 MB travel through upload sessions after the message; the
    server's attachments have the spec's sizes and the source's bytes."""
    import hashlib
    import sqlite3

    import fixtures

    ost = fixtures.cached(LARGE_SPEC, format="ost")
    handle, data = graph_sandbox
    handle.set_graph({"import_mime": False})
    summary = summary_of(rebuild(handle, tmp_path / "state", "--ost", str(ost), "--mailbox", ALICE, "--json"))
    assert summary["uploaded"] == 2 and summary["failed_total"] == 0
    assert handle.stats()["counters"]["graph:upload_sessions"] == 2
    graph = PlainGraph(handle.graph_url, ALICE)
    (mail,) = graph.messages("inbox")
    assert mail["isDraft"] is False and mail["hasAttachments"] is True
    with sqlite3.connect(data / "sandbox.sqlite") as db:
        rows = db.execute("SELECT name, size, sha256 FROM attachments").fetchall()
    assert {name: size for name, size, _ in rows} == {"big.bin": 4_200_000, "small.txt": 5, "draft.bin": 3_500_000}
    found = {name: digest for name, _, digest in rows}
    assert found["small.txt"] == hashlib.sha256(b"small").hexdigest()
    from pipeline.source import open_source

    expected = {}
    with open_source(ost) as source:
        for folder in source.folders():
            for entry in source.items(folder):
                for attachment in getattr(entry, "attachments", []):
                    expected[attachment.filename] = hashlib.sha256(attachment.read()).hexdigest()
    assert found == expected
    again = summary_of(rebuild(handle, tmp_path / "state", "--ost", str(ost), "--mailbox", ALICE, "--json"))
    assert again["uploaded"] == 0


def test_target_root_keeps_everything_apart_from_the_live_folders(tmp_path: Path, graph_sandbox, small_ost: Path):
    handle, _ = graph_sandbox
    root = "Recovered 2026"
    summary = summary_of(
        rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", BOB, "--json", "--target-root", root)
    )
    assert summary["uploaded"] == 18
    graph = PlainGraph(handle.graph_url, BOB)
    assert graph.messages("inbox") == [] and graph.events() == [] and graph.contacts() == []
    top = graph.child("msgfolderroot", root)
    assert len(graph.messages(graph.child(top, "Posteingang"))) == 7
    (calendar,) = [c for c in graph.all("/calendars") if c["name"] == f"{root} - Kalender"]
    assert len(graph.all(f"/calendars/{calendar['id']}/events")) == 3
    (contacts,) = [f for f in graph.all("/contactFolders") if f["displayName"] == f"{root} - Kontakte"]
    assert len(graph.all(f"/contactFolders/{contacts['id']}/contacts")) == 2
    (tasks,) = [t for t in graph.all("/todo/lists") if t["displayName"] == f"{root} - Aufgaben"]
    assert len(graph.all(f"/todo/lists/{tasks['id']}/tasks")) == 1
    verify = graph_cli(
        handle, tmp_path / "state", "verify", "--ost", str(small_ost), "--mailbox", BOB, "--target-root", root
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
