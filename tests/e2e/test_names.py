"""Issue 28, names in bytes: every file name the project writes, and what EWS cannot take in a name.

The CLI runs as a process against a sandbox of the test's own over HTTP. Oracles: the fixture spec
(fixtures/specs/names.toml) and the fixture writer's manifest (the sha256 of each attachment's bytes as it
wrote them), plain exchangelib queries written here, and the file system read with os calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast

import fixtures
from tests.conftest import own_sandbox, run_cli

SERVICE, PASSWORD, MAILBOX = "svc-names", "names-pw", "names@corp.example"
SPEC = tomllib.loads((Path(fixtures.__file__).parent / "specs" / "names.toml").read_text(encoding="utf-8"))
POSIX = os.name == "posix"


def spec_items(role: str) -> list[dict]:
    return next(f for f in SPEC["folders"] if f.get("role") == role)["items"]


def account(url: str) -> Account:
    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    return Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)


def cli(url: str, state: Path, ost: Path, *args: str):
    return run_cli(
        "--ost",
        str(ost),
        "--mailbox",
        MAILBOX,
        "--server",
        url,
        "--username",
        SERVICE,
        "--impersonate",
        "--state",
        str(state),
        "--json",
        *args,
        env={"REBUILD_PASSWORD": PASSWORD},
        timeout=300,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def names() -> tuple[Path, object]:
    return fixtures.cached_build("names", "ost", "permute")


@pytest.fixture(scope="module")
def stripped(tmp_path_factory: pytest.TempPathFactory, names):
    """One run with --large-items strip --max-item-mb 1 and its rerun, the sandbox still up."""
    ost, manifest = names
    root = tmp_path_factory.mktemp("names")
    state = root / "state"
    with own_sandbox(root / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX]) as (handle, _):
        first = cli(handle.url, state, ost, "--large-items", "strip", "--max-item-mb", "1")
        second = cli(handle.url, state, ost, "--large-items", "strip", "--max-item-mb", "1")
        yield handle, state, manifest, first, second


def test_strip_keeps_every_attachment_whatever_its_name(stripped):
    handle, state, manifest, first, second = stripped
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    [item] = [i for i in manifest.items if i.subject == "Scans of the reports"]
    left_out = [a for a in item.attachments if a.size >= 800_000]
    names = [a["name"] for a in spec_items("inbox")[0]["attachments"] if a.get("size", 0) >= 800_000]
    assert sorted(a.name for a in left_out) == sorted(names) and len(names) == 5
    assert max(len(n.encode()) for n in names) == 300

    [server_item] = account(handle.url).inbox.filter(subject="Scans of the reports")
    assert [a.name for a in server_item.attachments] == ["keep.txt"]
    body = str(server_item.text_body or server_item.body)
    noted = re.findall(r"'([^']+)' \(\d+\.\d MB\) saved as (.+?)(?=; '|\. Ask your administrator)", body)
    reports = state / "reports"
    on_disk = {(name, sha256(reports / where)) for name, where in noted}
    assert on_disk == {(a.name, a.sha256) for a in left_out}, "each noted file holds that attachment's bytes"
    files = [p for p in (reports / "large-attachments").rglob("*") if p.is_file()]
    assert len(files) == 5 and {sha256(p) for p in files} == {a.sha256 for a in left_out}
    assert all(len(p.name.encode()) <= 255 for p in files)
    if POSIX:
        assert all(p.stat().st_mode & 0o077 == 0 for p in files)

    assert second.returncode == 0, second.stdout + second.stderr  # the rerun: no crash, nothing saved twice
    rerun = json.loads(second.stdout)
    assert rerun["uploaded"] == 0 and rerun["present"] == len(manifest.items)
    assert len([p for p in (reports / "large-attachments").rglob("*") if p.is_file()]) == 5


def test_long_subjects_of_appointments_and_contacts_arrive_cut_with_a_warning(stripped):
    handle, _state, _manifest, first, _second = stripped
    owner = account(handle.url)
    [long_appointment, planning] = [i["subject"] for i in spec_items("calendar")]
    [contact] = spec_items("contacts")
    assert len(long_appointment) == 300 and len(contact["subject"]) == 300
    calendar = {i.subject for i in owner.calendar.all()}
    contacts = [c.subject for c in owner.contacts.all()]
    assert calendar == {long_appointment[:255], planning}
    assert contacts == [contact["subject"][:255]]
    warnings = json.loads(first.stdout)["warnings"]
    assert warnings.get("subject cut to 255 characters, the most EWS takes for a calendar") == 1, warnings
    assert warnings.get("subject cut to 255 characters, the most EWS takes for a contact") == 1, warnings


def test_a_password_in_the_server_url_is_never_shown(tmp_path: Path):
    secret = "Url-Secr3t-pw"
    spec = {
        "store": {"name": "url", "seed": 5},
        "folders": [{"name": "Inbox", "role": "inbox", "items": [{"kind": "mail", "subject": "one", "body": "x"}]}],
    }
    ost = fixtures.cached(spec, format="ost")
    state = tmp_path / "state"
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX]) as (handle, _):
        url = handle.url.replace("http://", f"http://{SERVICE}:{secret}@", 1)
        result = run_cli(
            "--ost",
            str(ost),
            "--mailbox",
            MAILBOX,
            "--server",
            url,
            "--username",
            SERVICE,
            "--impersonate",
            "--state",
            str(state),
            env={"REBUILD_PASSWORD": PASSWORD},
            timeout=300,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    [closing] = [line for line in result.stdout.splitlines() if line.startswith("next:")]
    assert " -m pipeline verify " in closing and handle.url in closing  # runnable as printed (not on PATH)
    assert secret not in result.stdout + result.stderr
    assert secret not in (state / "logs" / "rebuild.jsonl").read_text(encoding="utf-8")
    bad = run_cli(
        "--ost",
        str(ost),
        "--mailbox",
        MAILBOX,
        "--server",
        f"ftp://{SERVICE}:{secret}@host/x",
        "--username",
        SERVICE,
        "--state",
        str(state),
        env={"REBUILD_PASSWORD": PASSWORD},
        timeout=60,
    )
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr and secret not in bad.stderr


def test_export_of_a_folder_named_with_80_emoji(tmp_path: Path, names):
    ost, manifest = names
    out = tmp_path / "out"
    result = run_cli("export", "--ost", str(ost), "--out", str(out), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    emoji = next(f["name"] for f in SPEC["folders"][0]["folders"])
    assert len(emoji.encode()) == 320
    [folder] = [p for p in (out / "Inbox").iterdir() if p.is_dir()]
    assert folder.name.strip("📁") == "" and len(folder.name.encode()) <= 255
    [mail] = folder.iterdir()
    assert b"In a folder of emoji" in mail.read_bytes()
    written = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(written["items"]) == len(manifest.items) and written["failures"] == []
    assert all((out / entry["file"]).is_file() for entry in written["items"])
    assert all(len(p.name.encode()) <= 255 for p in out.rglob("*"))
    [agenda] = out.rglob("*agenda.txt")
    assert agenda.read_bytes() == spec_items("calendar")[1]["attachments"][0]["data"].encode()
    assert not [p for p in out.rglob("*.partial")], "no temporary file is left"


@pytest.mark.skipif(not POSIX, reason="planting symbolic links needs a POSIX system (or privileges on Windows)")
def test_export_never_writes_through_links_planted_in_out(tmp_path: Path, names):
    """Links planted in an existing --out: a folder, a file, and where a calendar item's attachments go.
    Nothing is written through them, and the calendar item that fails leaves no .ics behind."""
    ost, manifest = names
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    out = tmp_path / "out"
    (out / "Calendar").mkdir(parents=True)
    (out / "Inbox").symlink_to(victim, target_is_directory=True)
    (out / "manifest.json").symlink_to(victim / "precious.txt")
    (out / "Calendar" / "00002 Planning.attachments").symlink_to(victim, target_is_directory=True)
    result = run_cli("export", "--ost", str(ost), "--out", str(out), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text() == "keep me"
    assert not (out / "manifest.json").is_symlink()
    written = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    failed = written["failures"]
    assert len(failed) == 3 and all("symbolic link" in f["reason"] for f in failed), failed  # 2 mails, Planning
    assert {f["folder"].split("/")[0] for f in failed} == {"Inbox", "Calendar"}
    ics = [p.name for p in (out / "Calendar").iterdir() if p.suffix == ".ics"]
    assert len(ics) == 1 and ics[0].startswith("00001 "), ics  # the long appointment; Planning left nothing
    assert not (out / "Calendar" / "00002 Planning.ics").exists()
    assert len(written["items"]) == len(manifest.items) - 3
