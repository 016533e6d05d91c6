"""One mailbox end to end: the CLI as a process, against the sandbox over HTTP, on fixture-built OSTs.

Also the real samples (skipped without ../shared): tree and counts, drafts, dates, read state, bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

from pipeline.fingerprint import PROPERTY_NAME, PROPERTY_SET
from pipeline.model import FolderRole
from pipeline.sandbox import views
from pipeline.sandbox.store import SandboxStore
from pipeline.source import open_source
from tests.conftest import run_cli, sandbox_items
from tests.e2e.conftest import ews_cli

SERVICE, PASSWORD = "svc-rebuild", "S3cret-for-tests"

FP_KEY = f"name:{PROPERTY_SET}:{PROPERTY_NAME}"


MAILBOXES = ["alice@corp.example", "bob@corp.example"]


def rebuild(handle, state: Path, *args: str, timeout: float = 300):
    return ews_cli(
        handle,
        state,
        "run",
        "--log-level",
        "warning",
        *args,
        username=SERVICE,
        password=PASSWORD,
        impersonate=True,
        timeout=timeout,
    )


def fingerprints(data: Path, mailbox: str) -> Counter:
    return Counter(i["extended_properties"].get(FP_KEY) for i in sandbox_items(data, mailbox))


def server_counts(data: Path, mailbox: str) -> dict[str, int]:
    store = SandboxStore(data)
    try:
        return {"/".join(f["path"]): f["item_count"] for f in views.folder_tree(store, mailbox) if f["item_count"]}
    finally:
        store.close()


def test_fixture_ost_default_sandbox_rerun_and_lost_journal(tmp_path: Path, small_ost: Path):
    """The README's first command: no --server, the embedded sandbox in the state dir."""
    state = tmp_path / "state"
    first = run_cli(
        "--ost",
        str(small_ost),
        "--mailbox",
        "demo@sandbox.local",
        "--state",
        str(state),
        "--json",
        "--log-level",
        "warning",
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["uploaded"] == summary["found"] - sum(summary["skipped"].values()) > 10
    assert summary["failed_total"] == 0

    again = run_cli("--ost", str(small_ost), "--mailbox", "demo@sandbox.local", "--state", str(state))
    assert again.returncode == 0, again.stderr
    assert "uploaded 0" in again.stdout and "nothing new to upload" in again.stdout

    for path in state.glob("journal.sqlite*"):
        path.unlink()
    lost = run_cli("--ost", str(small_ost), "--mailbox", "demo@sandbox.local", "--state", str(state), "--json")
    assert lost.returncode == 0, lost.stderr
    assert json.loads(lost.stdout)["uploaded"] == 0
    prints = fingerprints(state / "sandbox", "demo@sandbox.local")
    assert prints and max(prints.values()) == 1, "no duplicate after a rerun without journal"

    verify = run_cli("verify", "--ost", str(small_ost), "--mailbox", "demo@sandbox.local", "--state", str(state))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_roles_land_in_distinguished_folders(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", "alice@corp.example")
    assert result.returncode == 0, result.stdout + result.stderr
    store = SandboxStore(data)
    try:
        tree = {
            f["distinguished_id"]: f for f in views.folder_tree(store, "alice@corp.example") if f["distinguished_id"]
        }
        items = views.items(store, "alice@corp.example")
    finally:
        store.close()
    with open_source(small_ost) as source:
        expected = {
            f.role.value: f.item_count
            for f in source.folders()
            if f.role
            not in (FolderRole.NONE, FolderRole.SEARCH, FolderRole.SYSTEM, FolderRole.ROOT, FolderRole.IPM_SUBTREE)
            and f.role.is_uploadable
            and f.role.value not in ("syncissues", "conflicts", "localfailures", "serverfailures")
        }
    for role, count in expected.items():
        assert tree[role]["item_count"] == count, role  # 'Posteingang' is the server's Inbox
    mail = [i for i in items if i["item_class"].startswith("IPM.Note") and i["folder_path"] != ("Drafts",)]
    assert mail and not any(i["is_draft"] for i in mail)


def test_target_root_keeps_live_folders_untouched(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = rebuild(
        handle,
        tmp_path / "state",
        "--ost",
        str(small_ost),
        "--mailbox",
        "bob@corp.example",
        "--target-root",
        "Recovered 2026-11-24",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = server_counts(data, "bob@corp.example")
    assert counts and all(path.startswith("Recovered 2026-11-24/") for path in counts), counts


def test_outlook_pst_tree_dates_read_state_and_attachments(tmp_path: Path, sandbox, samples: Path):
    handle, data = sandbox
    pst = samples / "Outlook.pst"
    result = rebuild(handle, tmp_path / "state", "--ost", str(pst), "--mailbox", "alice@corp.example")
    assert result.returncode == 0, result.stdout + result.stderr
    store = SandboxStore(data)
    try:
        tree = {f["distinguished_id"] or "/".join(f["path"]): f for f in views.folder_tree(store, "alice@corp.example")}
        items = views.items(store, "alice@corp.example")
    finally:
        store.close()
    assert tree["inbox"]["item_count"] == 6
    assert tree["Inbox/SubInbox"]["item_count"] == 0
    assert tree["sentitems"]["item_count"] == 5
    assert tree["calendar"]["item_count"] == 1
    assert tree["contacts"]["item_count"] == 1
    by_subject = {}
    for item in items:
        by_subject.setdefault((item["folder_path"], item["subject"]), []).append(item)
    with open_source(pst) as source:
        for folder in source.folders():
            if folder.role not in (FolderRole.INBOX, FolderRole.SENT):
                continue
            server_path = ("Inbox",) if folder.role is FolderRole.INBOX else ("Sent Items",)
            for item in source.items(folder):
                (uploaded,) = by_subject[(server_path, item.subject)]
                assert uploaded["is_draft"] is False
                assert uploaded["is_read"] == bool(item.properties.get(0x0E07, 0) & 1)
                delivered = item.properties.get(0x0E06)
                if delivered:
                    assert uploaded["datetime_received"].startswith(delivered.strftime("%Y-%m-%dT%H:%M:%S"))
                source_files = sorted(hashlib.sha256(a.read()).hexdigest() for a in item.attachments if a.method == 1)
                server_files = sorted(sha for _name, sha in uploaded["attachments"])
                assert set(source_files) <= set(server_files), item.subject


def test_bad_input_is_one_line_exit_2(tmp_path: Path):
    bad = tmp_path / "x.ost"
    bad.write_bytes(b"not an ost at all")
    result = run_cli("--ost", str(bad), "--mailbox", "a@b.example", "--state", str(tmp_path / "s"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and str(bad) in result.stderr


def test_wrong_password_stops_with_one_line(tmp_path: Path, sandbox, small_ost: Path):
    handle, _ = sandbox
    result = run_cli(
        "run",
        "--server",
        handle.url,
        "--username",
        SERVICE,
        "--impersonate",
        "--ost",
        str(small_ost),
        "--mailbox",
        "alice@corp.example",
        "--state",
        str(tmp_path / "s"),
        env={"REBUILD_PASSWORD": "wrong"},
    )
    assert result.returncode == 1
    said = result.stdout + result.stderr
    assert said.count("UnauthorizedError") == 1, said  # printed once: the summary's "stopped" line
    assert "Traceback" not in result.stderr
    assert "wrong" not in (tmp_path / "s" / "logs" / "rebuild.jsonl").read_text()


def test_no_secret_or_body_in_logs(tmp_path: Path, sandbox, small_ost: Path):
    handle, _ = sandbox
    state = tmp_path / "state"
    result = rebuild(handle, state, "--ost", str(small_ost), "--mailbox", "alice@corp.example")
    assert result.returncode == 0, result.stderr
    logs = (state / "logs" / "rebuild.jsonl").read_text()
    assert PASSWORD not in logs
    assert "this is the plain body" not in logs.lower()
    assert shutil.which("true") is not None


def test_series_exceptions_land_and_a_half_done_series_is_finished_by_the_rerun(
    tmp_path: Path, sandbox, small_ost: Path
):
    handle, data = sandbox
    state = tmp_path / "state"
    # UpdateItem refused: the series is created, but its exceptions and final stamp cannot be applied.
    handle.set_faults(
        {"rules": [{"kind": "error", "operations": ["UpdateItem", "DeleteItem"], "code": "ErrorItemSave"}]}
    )
    first = rebuild(handle, state, "--ost", str(small_ost), "--mailbox", "alice@corp.example", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["warnings"].get("series exceptions pending") == 1
    half = run_cli(
        "verify",
        "--ost",
        str(small_ost),
        "--mailbox",
        "alice@corp.example",
        "--server",
        handle.url,
        "--username",
        SERVICE,
        "--impersonate",
        "--state",
        str(state),
        "--json",
        env={"REBUILD_PASSWORD": PASSWORD},
    )
    assert half.returncode == 1 and json.loads(half.stdout)["pending"] == 1, half.stdout
    handle.set_faults({})
    second = rebuild(handle, state, "--ost", str(small_ost), "--mailbox", "alice@corp.example", "--json")
    assert second.returncode == 0, second.stderr
    store = SandboxStore(data)
    try:
        series = [i for i in views.items(store, "alice@corp.example") if i.get("recurrence")]
    finally:
        store.close()
    assert len(series) == 1, "one series, no duplicate"
    assert len(series[0]["deleted_occurrences"]) == 1 and len(series[0]["modified_occurrences"]) == 1
    done = run_cli(
        "verify",
        "--ost",
        str(small_ost),
        "--mailbox",
        "alice@corp.example",
        "--server",
        handle.url,
        "--username",
        SERVICE,
        "--impersonate",
        "--state",
        str(state),
        env={"REBUILD_PASSWORD": PASSWORD},
    )
    assert done.returncode == 0, done.stdout


def test_contact_photo_travels_as_a_contact_photo_attachment(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", "bob@corp.example")
    assert result.returncode == 0, result.stdout + result.stderr
    with open_source(small_ost) as source:
        photos = {
            item.subject: hashlib.sha256(a.read()).hexdigest()
            for folder in source.folders()
            for item in source.items(folder)
            if item.message_class.startswith("IPM.Contact")
            for a in item.attachments
            if a.properties.get(0x7FFF)
        }
    assert photos, "the fixture's contact has a photo"
    contacts = {i["subject"]: i for i in sandbox_items(data, "bob@corp.example") if i["item_class"] == "IPM.Contact"}
    for subject, sha in photos.items():
        assert ("ContactPicture.jpg", sha) in [tuple(a) for a in contacts[subject]["attachments"]]


def test_every_item_keeps_its_class(tmp_path: Path, sandbox, small_ost: Path):
    handle, data = sandbox
    result = rebuild(handle, tmp_path / "state", "--ost", str(small_ost), "--mailbox", "alice@corp.example")
    assert result.returncode == 0, result.stdout + result.stderr
    with open_source(small_ost) as source:
        wanted = {
            item.subject: item.message_class
            for folder in source.folders()
            if folder.role.is_uploadable and not folder.outside_ipm
            for item in source.items(folder)
        }
    got = {i["subject"]: i["item_class"] for i in sandbox_items(data, "alice@corp.example")}
    assert {s: got.get(s) for s in wanted} == wanted  # sticky notes stay notes, journal entries stay journal
