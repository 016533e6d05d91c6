"""The integrity trial: a partial run, 20 SIGKILLs under faults, a lost journal, then two runs at once.

The OST (fixture spec below) has a localized inbox with nested subfolders, identical items, sticky notes
that differ only in colour, case-only sibling folders, a padded and an over-long folder name. The oracle
is the fixture's manifest (what the builder wrote) mapped by the rules written out here, against the
server listed with plain exchangelib calls in this file: exactly the source, once, in the right folders,
no stray folder. Of the two simultaneous runs exactly one is refused, naming the holder, with exit 3.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib.folders import SHALLOW, FolderCollection

import fixtures
from tests.conftest import own_sandbox, start_cli
from tests.e2e.connection import ews_args
from tests.e2e.kills import kill, stopped_runs

KILLS = 20
MAX_RUNS = 40
SERVICE, PASSWORD, MAILBOX = "svc-trial", "trial-pw", "trial@corp.example"
LONG = "Ein sehr langer Ordnername " * 12  # 324 characters
TWIN = {
    "kind": "mail",
    "subject": "Twin",
    "body": "same body",
    "sender": "a@example.com",
    "to": ["b@example.com"],
    "sent": "2024-03-01T10:00:00",
    "received": "2024-03-01T10:00:05",
    "message_id": "<twin@example.com>",
}
SPEC = {
    "store": {"name": "Integrity trial", "seed": 21},
    "folders": [
        {
            "name": "Posteingang",
            "role": "inbox",
            "folders": [
                {"name": "Projekte", "items": [TWIN, TWIN, TWIN]},
                {
                    "name": "Archiv",
                    "folders": [{"name": "2023", "items": [dict(TWIN, subject="Old", message_id="<o@x>")]}],
                },
            ],
        },
        {
            "name": "Notizen",
            "role": "notes",
            "items": [
                {"kind": "note", "subject": "Note", "body": "Note", "color": "yellow"},
                {"kind": "note", "subject": "Note", "body": "Note", "color": "blue"},
                {"kind": "note", "subject": "Note", "body": "Note", "color": "yellow"},
            ],
        },
        {"name": "CaseTest", "items": [dict(TWIN, subject="Upper", message_id="<u@x>")]},
        {"name": "casetest", "items": [dict(TWIN, subject="Lower", message_id="<l@x>")]},
        {"name": "  Padded\tname ", "items": [dict(TWIN, subject="Padded", message_id="<p@x>")]},
        {"name": LONG, "items": [dict(TWIN, subject="Long", message_id="<lg@x>")]},
    ],
    "bulk": [
        {
            "count": 2500,
            "size_min": 400,
            "size_max": 1500,
            "folders": 4,
            "seed": 9,
            "parent": "Posteingang",
            "attachment_ratio": 0.1,
        }
    ],
}
#: How the server names each source folder: roles by the server's own names, names normalized.
RENAMED = {
    "Posteingang": "Inbox",
    "Notizen": "Notes",
    "casetest": "casetest (2)",
    "  Padded\tname ": "Padded name",
    LONG: LONG.strip()[:255],
}
FAULTS = {
    "seed": 7,
    "rules": [
        {"kind": "commit_then_drop", "rate": 0.15, "operations": ["CreateItem"]},
        {"kind": "throttle", "rate": 0.08, "back_off_ms": 50},
        {"kind": "reset", "rate": 0.03, "operations": ["CreateItem"]},
        {"kind": "delay", "seconds": 0.1, "operations": ["CreateItem"]},  # keeps runs long enough to kill
    ],
}


def expected(manifest) -> Counter:
    """(server folder path, subject) for every item the builder wrote, by the rules above."""
    out: Counter = Counter()
    for item in manifest.items:
        parts = item.folder.split("/")[2:]  # below 'Root - Mailbox/IPM_SUBTREE'
        out[("/".join(RENAMED.get(p.replace("%2F", "/").replace("%25", "%"), p) for p in parts), item.subject)] += 1
    return out


def listing(url: str) -> tuple[Counter, list[str]]:
    """Every item under the mailbox's top of information store as (folder path, subject), and the names of
    the top-level folders, with plain exchangelib."""
    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
    found: Counter = Counter()

    def walk(folder, path: str) -> list[str]:
        names = []
        for child in FolderCollection(account=account, folders=[folder]).find_folders(depth=SHALLOW):
            child_path = f"{path}/{child.name}" if path else child.name
            names.append(child.name)
            for subject in child.all().values_list("subject", flat=True):
                found[(child_path, subject)] += 1
            walk(child, child_path)
        return names

    top = walk(account.msg_folder_root, "")
    return found, top


def rebuild(handle, state: Path, ost: Path, *extra: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    connection = ews_args(handle, state, username=SERVICE, impersonate=True)
    run = ["run", "--ost", str(ost), "--mailbox", MAILBOX, *connection, "--batch-items", "5", "--log-level", "warning"]
    env = {"REBUILD_PASSWORD": PASSWORD, "REBUILD_BACKOFF_INITIAL": "0.05", "REBUILD_BACKOFF_MAX": "0.5"}
    return start_cli(*run, *extra, env={**env, **(env_extra or {})})


def test_partial_killed_lost_and_simultaneous_runs_leave_exactly_the_source(tmp_path: Path):
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    wanted = expected(manifest)
    assert sum(wanted.values()) >= 2500 and wanted[("Inbox/Projekte", "Twin")] == 3
    rng = random.Random(2611)
    state = tmp_path / "state"
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX]) as (handle, _data):
        # a part of the mailbox first (the journal holds it), then the rest under faults and kills: one bulk folder
        # of 625 items and the twins, so the killed runs have uploads in flight for the faults to meet, whatever
        # order a run goes in. The part goes in the shipped batches of 50: no fault is on yet.
        partial = rebuild(
            handle,
            state,
            ost,
            *["--exclude", "Posteingang/Projekte", "--exclude", "Posteingang/Bulk 1-001", "--batch-items", "50"],
        )
        out, err = partial.communicate(timeout=600)
        assert partial.returncode == 0, out + err
        handle.set_faults(FAULTS)
        kills = 0
        for run in stopped_runs(lambda: rebuild(handle, state, ost), kill, rng, (0.9, 2.5), most=MAX_RUNS):
            kills += run.signalled
            if kills == KILLS:
                break
        assert kills == KILLS, f"only {kills} runs were still running when killed"
        stats = handle.stats()  # the faults the killed runs met
        handle.set_faults({**FAULTS, "rules": [r for r in FAULTS["rules"] if r["kind"] != "delay"]})
        shutil.rmtree(state)  # the journal is lost: the server's stamps must be enough
        final = rebuild(handle, state, ost)
        out, err = final.communicate(timeout=900)
        assert final.returncode == 0, out + err
        violations = handle.stats()["schema_violations"]

        # Two runs at once (two state dirs, as from two machines), slowed so that they overlap; a short lease
        # (renewed every second or so) lets the second one see the first renew well before it ends.
        handle.set_faults({"rules": [{"kind": "delay", "seconds": 0.15, "operations": ["FindItem"]}]})
        short = {"REBUILD_LEASE_SECONDS": "10", "REBUILD_EWS_REQUEST_TIMEOUT": "3"}
        pair = [
            rebuild(handle, tmp_path / "one", ost, env_extra=short),
            rebuild(handle, tmp_path / "two", ost, env_extra=short),
        ]
        deadline = time.monotonic() + 600
        while all(p.poll() is None for p in pair) and time.monotonic() < deadline:
            time.sleep(0.05)
        handle.set_faults({})  # one has ended, refused or done: the other need not be slowed any more
        results = [(p.wait(timeout=600), *p.communicate()) for p in pair]
        found, top = listing(handle.url)

    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 3], results
    refused = next(out + err for code, out, err in results if code == 3)
    assert "another run holds this mailbox" in refused and "pid " in refused, refused
    assert violations == 0
    assert stats["faults"]["injected"].get("commit_then_drop", 0) > 0, stats["faults"]
    missing = wanted - found
    doubled = found - wanted
    assert not missing, f"{sum(missing.values())} items missing, e.g. {list(missing)[:5]}"
    assert not doubled, f"{sum(doubled.values())} items more than in the source, e.g. {list(doubled)[:5]}"
    assert "Posteingang" not in top and "Notizen" not in top  # no stray copy of a localized folder
