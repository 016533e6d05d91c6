"""A run killed in each phase of the usable-first order resumes and ends exact (issue 25).

One mailbox, `rebuild run` as a process against a sandbox of the test's own over HTTP (EWS), one item per
request, every CreateFolder and CreateItem held a moment by the sandbox's `delay` fault so each phase lasts long
enough to be caught. Five runs one after another, each killed (the whole process group: SIGKILL; elsewhere
TerminateProcess) once the server shows it inside the next phase: 1 the folder tree (and the user's settings),
2 contacts and lists, 3 the calendar, 4 the last 30 days' mail, 5 the rest. A sixth run, without the delay,
completes the mailbox.

The oracles are the test's own: which phase an item belongs to is written in the fixture spec (its subject
starts with "p2 " … "p5 ", and its date puts it in its window); where a run is comes from the sandbox's store
(the rows it committed, read straight from its database, never from the run); the end is compared with the
fixture manifest through a plain exchangelib listing written here. After each kill, once the requests the dead
run left in flight are committed, the earlier phases are all on the server, the phase killed in part, the later
ones not at all, and nothing twice (so each run resumed where the last one stopped, sending nothing again).
At the end the last run's summary and the journal (as `rebuild status` reads it) say complete, and the last
run found present exactly what the killed runs had stored.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import fixtures
from pipeline.state.journal import Journal
from tests.conftest import REPO, own_sandbox

SERVICE, PASSWORD, MAILBOX = "svc-phases", "phase-kills-pw", "pat@corp.example"
NEWEST = datetime(2024, 6, 30, 9, 0)  # the anchor: the newest item of the spec
DELAY = 0.15  # seconds the sandbox holds each CreateFolder and CreateItem while runs are killed
#: The folders the run creates (the others are the mailbox's own), in the tree the spec writes.
TREE = ("Inbox/Projects", "Inbox/Projects/Alpha", "Archive", "Archive/Clients", "Reference", "Reference/Manuals")
CATEGORIES = ("Phase one", "Kept")


def mail(phase: int, folder: str, n: int, when: datetime) -> dict:
    return {
        "kind": "mail",
        "subject": f"p{phase} {folder} {n}",
        "body": f"body {n} of {folder}",
        "sender": "Boss <boss@corp.example>",
        "to": [MAILBOX],
        "sent": when.isoformat(),
        "received": (when + timedelta(minutes=1)).isoformat(),
    }


def appointment(phase: int, n: int, start: datetime, **more: object) -> dict:
    end = start + timedelta(hours=1)
    return {
        "kind": "appointment",
        "subject": f"p{phase} calendar {n}",
        "start": start.isoformat(),
        "end": end.isoformat(),
    } | more


def recent(count: int) -> list[datetime]:
    """Within the last 30 days before NEWEST (NEWEST itself first)."""
    return [NEWEST - timedelta(days=4 * i, hours=i) for i in range(count)]


def old(count: int, first: int = 60) -> list[datetime]:
    """Before the 30 days, over several years."""
    return [NEWEST - timedelta(days=first + 150 * i) for i in range(count)]


SPEC = {
    "store": {"name": "Phase kills", "seed": 25},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [mail(4, "inbox", n, w) for n, w in enumerate(recent(5))]
            + [mail(5, "inbox", n, w) for n, w in enumerate(old(5))],
            "folders": [
                {
                    "name": "Projects",
                    "items": [mail(4, "projects", 0, NEWEST - timedelta(days=2))]
                    + [mail(5, "projects", n, w) for n, w in enumerate(old(2, 75))],
                    "folders": [{"name": "Alpha", "items": [mail(5, "alpha", 0, NEWEST - timedelta(days=400))]}],
                }
            ],
        },
        {
            "name": "Sent Items",
            "role": "sentitems",
            "items": [mail(4, "sent", n, w) for n, w in enumerate(recent(2))]
            + [mail(5, "sent", n, w) for n, w in enumerate(old(2, 90))],
        },
        {
            "name": "Archive",
            "items": [mail(5, "archive", n, w) for n, w in enumerate(old(3, 120))],
            "folders": [{"name": "Clients", "items": [mail(5, "clients", 0, NEWEST - timedelta(days=700))]}],
        },
        {"name": "Reference", "folders": [{"name": "Manuals"}]},
        {
            "name": "Calendar",
            "role": "calendar",
            "items": [appointment(3, 0, datetime(2023, 1, 2, 9), recurrence={"pattern": "weekly", "days": ["mo"]})]
            + [appointment(3, n + 1, NEWEST - timedelta(days=3 + 5 * n)) for n in range(5)]
            + [appointment(5, n, NEWEST - timedelta(days=90 + 100 * n)) for n in range(2)],
            "associated": [
                {"kind": "category_list", "categories": [{"name": name, "color": 4} for name in CATEGORIES]},
                {
                    "kind": "work_hours",
                    "start": "08:00:00",
                    "end": "17:00:00",
                    "days": ["Monday", "Tuesday", "Wednesday"],
                    "time_zone": "W. Europe Standard Time",
                    "bias": -60,
                },
            ],
        },
        {
            "name": "Contacts",
            "role": "contacts",
            "items": [
                {"kind": "contact", "subject": f"p2 contact {n}", "given_name": f"Given{n}", "surname": f"Sur{n}"}
                for n in range(6)
            ]
            + [
                {
                    "kind": "distlist",
                    "subject": "p2 list 0",
                    "members": ["Ann <ann@corp.example>", "Ben <ben@corp.example>"],
                }
            ],
        },
    ],
}


def phase_of(subject: str) -> int | None:
    """The phase the spec gave an item ("p2 …" … "p5 …"); None for what the run keeps of its own (the lease)."""
    head = subject.split(" ", 1)[0]
    return int(head[1:]) if len(head) == 2 and head[0] == "p" and head[1] in "2345" else None


class Server:
    """What the sandbox's store holds for the mailbox, straight from its database (read only)."""

    def __init__(self, data: Path) -> None:
        self.path = data / "sandbox.sqlite"

    def snapshot(self) -> tuple[Counter, set[str], set[str]]:
        """(copies per subject of the spec's items, the TREE folders made, the user configurations made)."""
        db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            (mailbox_id,) = db.execute("SELECT id FROM mailboxes WHERE address = ?", (MAILBOX,)).fetchone()
            subjects = Counter(
                subject
                for (subject,) in db.execute("SELECT subject FROM items WHERE mailbox_id = ?", (mailbox_id,))
                if subject and phase_of(subject)
            )
            folders = {
                row[0]: row[1:]
                for row in db.execute("SELECT id, parent_id, name FROM folders WHERE mailbox_id = ?", (mailbox_id,))
            }
            paths = set()
            for parent, name in folders.values():
                parts = [name]
                while parent in folders and folders[parent][1] != "Top of Information Store":
                    parent, up = folders[parent]
                    parts.insert(0, up)
                paths.add("/".join(parts))
            try:
                configurations = {
                    name
                    for (name,) in db.execute(
                        "SELECT name FROM user_configurations WHERE mailbox_id = ?", (mailbox_id,)
                    )
                }
            except sqlite3.OperationalError:  # made on first use
                configurations = set()
        finally:
            db.close()
        return subjects, paths & set(TREE), configurations

    def quiet(self, seconds: float, bound: float = 10.0) -> tuple[Counter, set[str], set[str]]:
        """The snapshot once it has not changed for `seconds` (a dead run's requests in flight committed)."""
        last, since, deadline = self.snapshot(), time.monotonic(), time.monotonic() + bound
        while time.monotonic() - since < seconds and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.snapshot()
            if now != last:
                last, since = now, time.monotonic()
        return last


def expected(manifest) -> dict[int, Counter]:
    """The spec's items per phase, from the manifest (what the file holds)."""
    out: dict[int, Counter] = {p: Counter() for p in (2, 3, 4, 5)}
    for item in manifest.items:
        out[phase_of(item.subject)][item.subject] += 1
    return out


def inside(phase: int, stored: Counter, tree: set[str], wanted: dict[int, Counter]) -> bool:
    """Whether the server shows a run inside `phase`: some of it there and not all, nothing of a later one."""
    by_phase = Counter(phase_of(s) for s in stored.elements())
    if any(by_phase[p] for p in range(phase + 1, 6)):
        return False
    if phase == 1:
        return 0 < len(tree) < len(TREE) and not stored
    return 0 < by_phase[phase] < sum(wanted[phase].values())


def run_process(handle, state: Path, ost: Path, *more: str, log: Path | None = None) -> subprocess.Popen:
    """`rebuild run` as a process; its console output to `log` (a run to be killed is never waited on to read a
    pipe), or to pipes."""
    command = [sys.executable, "-m", "pipeline", "run", "--ost", str(ost), "--mailbox", MAILBOX, "--server", handle.url]
    command += ["--username", SERVICE, "--impersonate", "--state", str(state), "--order", "usable-first"]
    command += ["--batch-items", "1", "--log-level", "warning", *more]
    env = {**os.environ, "REBUILD_PASSWORD": PASSWORD, "REBUILD_BACKOFF_INITIAL": "0.05", "REBUILD_BACKOFF_MAX": "0.5"}
    output = log.open("w", encoding="utf-8") if log is not None else subprocess.PIPE
    try:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
            text=True,
            start_new_session=hasattr(os, "killpg"),  # its conversion processes die with it
        )
    finally:
        if log is not None:
            output.close()


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to the run and its conversion processes at once (POSIX); TerminateProcess to the run elsewhere."""
    if hasattr(os, "killpg"):
        os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    process.wait(timeout=30)


def listing(handle) -> tuple[dict[str, Counter], set[str], list[str]]:
    """Plain exchangelib over the EWS face: subjects per folder path below the top of the store, every folder
    path, and the names in the calendar's CategoryList."""
    from exchangelib import BASIC, IMPERSONATION, Account, Configuration, Credentials, FailFast
    from exchangelib.folders import Folder

    config = Configuration(
        service_endpoint=handle.url,
        credentials=Credentials(SERVICE, PASSWORD),
        auth_type=BASIC,
        retry_policy=FailFast(),
    )
    account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
    root = account.msg_folder_root
    items: dict[str, Counter] = {}
    paths: set[str] = set()
    for folder in root.walk():
        if not isinstance(folder, Folder):
            continue
        path = folder.absolute.split(root.absolute + "/", 1)[-1]
        paths.add(path)
        if folder.total_count:
            items[path] = Counter(item.subject for item in folder.all().only("subject"))
    xml = account.calendar.get_user_configuration(name="CategoryList").xml_data
    names = [e.get("name") for e in ET.fromstring(xml) if e.tag.endswith("category")]
    return items, paths, names


def kill_chain(tmp_path: Path, phases: tuple[int, ...]) -> None:
    """A run killed inside each of `phases` in turn, each the rerun of the one before; then a last run."""
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    wanted = expected(manifest)
    assert all(len(wanted[p]) >= 5 for p in (2, 3, 4, 5)), "every phase has items to be killed among"
    state = tmp_path / "state"
    faults = {"seed": 25, "rules": [{"kind": "delay", "seconds": DELAY, "operations": ["CreateFolder", "CreateItem"]}]}
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=faults) as (handle, data):
        server = Server(data)
        for phase in phases:
            log = tmp_path / f"run-killed-in-phase-{phase}.log"
            process = run_process(handle, state, ost, log=log)
            deadline, seen = time.monotonic() + 60, False
            try:
                while not seen and process.poll() is None and time.monotonic() < deadline:
                    seen = inside(phase, *server.snapshot()[:2], wanted)
                    if not seen:
                        time.sleep(0.01)
            finally:
                ended = process.poll()
                if ended is None:
                    kill(process)
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            assert ended is None, f"the run ended ({ended}) before it was seen inside phase {phase}: {tail}"
            assert seen, f"no run inside phase {phase} within 60 s: {tail}"
            stored, tree, configurations = server.quiet(DELAY + 0.15)
            by_phase = Counter(phase_of(s) for s in stored.elements())
            where = f"killed in phase {phase}: items per phase {dict(by_phase)}, {len(tree)} folders made"
            assert not [s for s, n in stored.items() if n > 1], f"{where}: an item was sent again"
            # the kill landed in the phase: the earlier ones complete, this one in part, the later ones untouched
            if phase == 1:
                assert 0 < len(tree) < len(TREE) and not stored and not configurations, where
            else:
                assert tree == set(TREE) and {"CategoryList", "WorkHours"} <= configurations, where
                assert all(by_phase[p] == sum(wanted[p].values()) for p in range(2, phase)), where
                assert 0 < by_phase[phase] < sum(wanted[phase].values()), where
            assert not any(by_phase[p] for p in range(phase + 1, 6)), where
        before = sum(server.snapshot()[0].values())
        handle.set_faults({})
        final = run_process(handle, state, ost, "--json")
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, out[-2000:] + err[-2000:]
        items, paths, categories = listing(handle)
        stats = handle.stats()
    assert stats["schema_violations"] == 0
    # 0 missing, 0 doubled: the plain listing is the manifest, folder by folder; the tree and the settings once
    subtree = "Root - Mailbox/IPM_SUBTREE/"
    assert items == {
        folder: Counter(i.subject for i in manifest.items if i.folder == subtree + folder)
        for folder in {i.folder.removeprefix(subtree) for i in manifest.items}
    }
    assert set(TREE) <= paths and sorted(categories) == sorted(CATEGORIES)
    # the summary and the journal say complete; the last run found on the server all the killed runs stored
    summary = json.loads(out)
    total = len(manifest.items)
    assert (summary["status"], summary["failed_total"], summary["found"]) == ("ok", 0, total), summary
    assert summary["present"] == before and summary["uploaded"] == total - before, summary
    journal = Journal(state / "journal.sqlite", read_only=True)  # what `rebuild status` shows
    try:
        (entry,) = journal.status()
    finally:
        journal.close()
    last = entry["last_run"]
    assert last["status"] == "ok" and entry["folders_done"] == entry["folders"], entry
    # usable since a run went past phase 4: the last one, unless one was killed in phase 5 (which may have
    # recorded it, or been killed between the answer of its last usable item and that record)
    assert entry["usable_since"] is not None and entry["usable_since"] < last["finished"], entry
    if 5 not in phases:
        assert last["started"] < entry["usable_since"], entry


def test_a_run_killed_in_each_phase_resumes_there_and_the_last_run_ends_exact(tmp_path: Path):
    """Five runs, each killed inside the next phase, then a sixth to the end: ~15 s on 2 cores (10 s of CPU)."""
    kill_chain(tmp_path, (1, 2, 3, 4, 5))
