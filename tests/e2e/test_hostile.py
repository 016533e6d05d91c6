"""Issue 12: hostile input, private state, and a console an admin can act on.

The CLI runs as a process against sandboxes over HTTP. Oracles: the fixture spec (names, subjects, counts),
the sandbox's own store read in the test, file modes from os.stat, Python's csv module, and the raw bytes
of what reached the terminal.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fixtures
from pipeline.sandbox import views
from pipeline.sandbox.store import SandboxStore
from tests.conftest import REPO, own_sandbox, run_cli

ESC_SUBJECT = "\x1b]0;pwned\x07\x1b[2J clear"
FORMULA_SUBJECT = '=HYPERLINK("http://evil.example","click")'
EVIL_FOLDER = "Evil\x1b]0;title\x07"
HOSTILE = {
    "store": {"name": "hostile", "seed": 3},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {"kind": "mail", "subject": ESC_SUBJECT, "body": "x", "sender": "A <a@example.com>"},
                {"kind": "mail", "subject": FORMULA_SUBJECT, "body": "y", "sender": "B <b@example.com>"},
            ],
            "folders": [
                {"name": "Reports?", "items": [{"kind": "mail", "subject": "r1", "body": "1"}]},
                {"name": "Reports*", "items": [{"kind": "mail", "subject": "r2", "body": "2"}]},
                {
                    "name": EVIL_FOLDER,
                    "items": [{"kind": "mail", "subject": "e1", "body": "3"}],
                    # named like the export's file of the item beside it
                    "folders": [{"name": "00001 e1.eml", "items": [{"kind": "mail", "subject": "e2", "body": "4"}]}],
                },
            ],
        },
        {"name": "manifest.json", "items": [{"kind": "mail", "subject": "m1", "body": "5"}]},
    ],
}
HOSTILE_ITEMS = 7
SERVICE, PASSWORD = "svc-rebuild", "S3cret-for-tests"
POSIX = os.name == "posix"


@pytest.fixture(scope="module")
def hostile_ost() -> Path:
    return fixtures.cached(HOSTILE, format="ost")


def raw_control(text: str) -> list[str]:
    """Control characters that reached the output raw (newlines and tabs of the layout excepted)."""
    return sorted({c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0})


def one_line(result: subprocess.CompletedProcess[str], path: Path) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def libpff_refused_variant(source: Path, out: Path) -> Path:
    """A copy of source with an intact header that libpff refuses to open (a bit flipped in the node or
    block B-tree root page). Chosen by trying: libpff's own open is what decides."""
    import pypff

    data = source.read_bytes()
    nbt, bbt = (int.from_bytes(data[off : off + 8], "little") for off in (0xE0, 0xF0))  # Unicode ROOT BREFs
    rng = random.Random(12)
    for _ in range(400):
        damaged = bytearray(data)
        page = rng.choice((nbt, bbt))
        offset = page + rng.randrange(512)
        damaged[offset] ^= 1 << rng.randrange(8)
        out.write_bytes(damaged)
        handle = pypff.file()
        try:
            handle.open(str(out))
            handle.root_folder  # noqa: B018 - the root folder is part of "opens"
        except Exception:  # noqa: BLE001 - refused: the variant we want
            return out
        finally:
            try:
                handle.close()
            except Exception:  # noqa: BLE001
                pass
    pytest.skip("no libpff-refused variant found in 400 tries")


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_at_once_by_verify_and_the_csv_check(tmp_path: Path):
    """inspect, export and the main job meet FIFOs in test_damage_tally; here the two other gates."""
    fifo = tmp_path / "pipe.ost"
    os.mkfifo(fifo)
    state = tmp_path / "state"
    result = run_cli(
        "verify", "--ost", str(fifo), "--mailbox", "alice@sandbox.local", "--state", str(state), timeout=60
    )
    assert result.returncode == 2 and "named pipe" in one_line(result, fifo)
    users = tmp_path / "users.csv"
    users.write_text(f"ost,mailbox\n{fifo},alice@sandbox.local\n", encoding="utf-8")
    result = run_cli("--map", str(users), "--state", str(state), "--reader", "libpff", timeout=60)
    assert result.returncode == 2 and f"{users}:2: ost" in result.stderr and "named pipe" in result.stderr
    result = run_cli("--map", str(fifo), "--state", str(state), timeout=60)  # the CSV itself a FIFO
    assert result.returncode == 2 and "named pipe (FIFO), not a CSV file" in result.stderr, result.stderr
    assert not (state / "sandbox").exists(), "nothing may be created on the server"


def test_gate_refuses_what_is_not_a_regular_file_without_opening_it(tmp_path: Path):
    from pipeline.source import SourceOpenError
    from pipeline.source.gate import regular_file

    cases = {"directory": tmp_path}
    if hasattr(socket, "AF_UNIX"):
        cases["socket"] = tmp_path / "s.ost"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(cases["socket"]))
    if POSIX:
        cases["character device"] = Path(os.devnull)
    cases["no such file"] = tmp_path / "missing.ost"
    for words, path in cases.items():
        with pytest.raises(SourceOpenError, match=words):
            regular_file(path)


def test_file_libpff_refuses_is_one_line_exit_2_and_nothing_reaches_the_server(tmp_path: Path, small_ost: Path):
    bad = libpff_refused_variant(small_ost, tmp_path / "flipped.ost")
    state = tmp_path / "state"
    # The libpff reader (the native one refuses this file itself, with its own reason: tests/source).
    result = run_cli(
        "--ost", str(bad), "--mailbox", "flip@sandbox.local", "--state", str(state), "--reader", "libpff", timeout=60
    )
    assert result.returncode == 2
    reason = one_line(result, bad).split(str(bad), 1)[1]
    assert "libpff_" not in reason and "pypff_" not in reason, "libpff's chain stays in the log"
    assert not (state / "sandbox").exists(), "the sandbox (and the mailbox) must not be created"
    log = (state / "logs" / "rebuild.jsonl").read_text(encoding="utf-8")
    refusals = [json.loads(x) for x in log.splitlines() if '"source refused"' in x]
    assert len(refusals) == 1 and refusals[0]["libpff"], "libpff's chain goes to the log file, once"

    users = tmp_path / "users.csv"
    users.write_text(f"ost,mailbox\n{bad},flip@sandbox.local\n", encoding="utf-8")
    result = run_cli("--map", str(users), "--state", str(state), timeout=60)
    assert result.returncode == 2 and f"{users}:2: ost" in result.stderr, result.stderr
    assert not (state / "sandbox").exists()


def test_bad_header_checksum_is_refused_before_libpff(tmp_path: Path, small_ost: Path):
    data = bytearray(small_ost.read_bytes())
    data[0x30] ^= 0x01  # inside the CRC-covered header, outside signature, magic and version
    bad = tmp_path / "crc.ost"
    bad.write_bytes(data)
    for command in (("inspect", "--ost", str(bad)), ("export", "--ost", str(bad), "--out", str(tmp_path / "o"))):
        result = run_cli(*command, timeout=60)
        assert result.returncode == 2 and "header checksum" in one_line(result, bad)


def test_bad_addresses_are_usage_errors_like_the_csv(tmp_path: Path, small_ost: Path):
    from pipeline.cli.main import main

    state = str(tmp_path / "state")
    for address in ("a@b@c", "user@", "@example.com", "two words@example.com", "x\x1b@example.com"):
        assert main(["--ost", str(small_ost), "--mailbox", address, "--state", state, "--dry-run"]) == 2, address
        users = tmp_path / "users.csv"
        users.write_text(f"ost,mailbox\n{small_ost},{address}\n", encoding="utf-8")
        assert main(["--map", str(users), "--state", state, "--dry-run"]) == 2, address


def test_csv_header_naming_a_column_twice_or_none_is_refused(
    tmp_path: Path, small_ost: Path, capsys: pytest.CaptureFixture[str]
):
    from pipeline.cli.main import main

    users = tmp_path / "users.csv"
    for header, words in (("ost,mailbox,mailbox", "named twice"), ("ost,mailbox,", "empty column name")):
        users.write_text(f"{header}\n{small_ost},a@example.com,b@example.com\n", encoding="utf-8")
        assert main(["--map", str(users), "--state", str(tmp_path / "s"), "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert f"{users}:1: " in err and words in err, err


def test_server_flags_and_a_server_that_is_down(tmp_path: Path, small_ost: Path):
    state = str(tmp_path / "state")
    no_user = run_cli(
        "--ost",
        str(small_ost),
        "--mailbox",
        "a@corp.example",
        "--server",
        "http://127.0.0.1:9/EWS/Exchange.asmx",
        "--state",
        state,
        timeout=60,
    )
    assert no_user.returncode == 2 and "--username" in no_user.stderr
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"
    started = time.monotonic()
    down = run_cli(
        "--ost",
        str(small_ost),
        "--mailbox",
        "a@corp.example",
        "--server",
        url,
        "--username",
        "svc",
        "--state",
        state,
        env={"REBUILD_PASSWORD": "x"},
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert down.returncode == 1 and elapsed < 30, (elapsed, down.stderr)
    lines = down.stderr.strip().splitlines()
    assert "Traceback" not in down.stderr and "TransportError" not in down.stderr
    assert lines[-1] == f"rebuild: cannot reach {url}: connection refused (3 attempts); nothing was done"
    assert sum("trying again" in line for line in lines) == 2, "the retry budget is shown as it is spent"


def test_sandbox_commands_honour_state_before_the_subcommand_and_a_closed_pipe(tmp_path: Path):
    state = tmp_path / "X"
    result = run_cli("sandbox", "--state", str(state), "add-mailbox", "ann@sandbox.local", timeout=60)
    assert result.returncode == 0, result.stderr
    store = SandboxStore(state / "sandbox")
    try:
        assert store.has_mailbox("ann@sandbox.local")
    finally:
        store.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "sandbox", "faults", "--state", str(state)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # `| head` that has already left
    err = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_export_never_lets_two_folders_share_a_directory(tmp_path: Path, hostile_ost: Path):
    out = tmp_path / "out"
    result = run_cli("export", "--ost", str(hostile_ost), "--out", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    files = [p for p in out.rglob("*.eml") if p.is_file()]
    assert len(files) == HOSTILE_ITEMS, "one file per item of the spec: none overwritten"
    reports = sorted(p.name for p in (out / "Inbox").iterdir() if p.is_dir() and p.name.startswith("Reports"))
    assert reports == ["Reports_", "Reports_ (2)"], reports
    assert {p.read_bytes().count(b"Subject: r") for p in out.rglob("Reports_*/*.eml")} == {1}
    assert (out / "manifest.json").is_file() and (out / "manifest.json (2)").is_dir()
    evil = next(p for p in (out / "Inbox").iterdir() if p.name.startswith("Evil"))
    assert (evil / "00001 e1.eml").is_file() and (evil / "_00001 e1.eml").is_dir()
    assert raw_control(result.stdout + result.stderr) == []


def test_export_reports_unreadable_folders_like_inspect(tmp_path: Path, samples: Path):
    # libpff cannot read this sample's Deleted Items (the native reader reads it as the empty folder it is).
    damaged = run_cli(
        "export",
        "--ost",
        str(samples / "damaged-Outlook_part0.pst"),
        "--out",
        str(tmp_path / "d"),
        "--reader",
        "libpff",
        timeout=120,
    )
    inspect = json.loads(
        run_cli("inspect", "--ost", str(samples / "damaged-Outlook_part0.pst"), "--json", "--reader", "libpff").stdout
    )
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text(encoding="utf-8"))
    assert damaged.returncode == 1 and f"{len(manifest['failures'])} failed" in damaged.stdout
    unreadable_folders = {e["node_id"] for e in inspect["errors"] if e["what"] == "folder"}
    assert unreadable_folders <= {f["node_id"] for f in manifest["failures"]}


# -- private state and the console -----------------------------------------------------------------------
def test_run_console_reports_and_private_state(tmp_path: Path, hostile_ost: Path):
    """The main job on hostile names, with the embedded sandbox: escaped console, owner-only state, reports for
    one mailbox, and the closing lines name the state and the next commands, which work as printed."""
    state = tmp_path / "state"
    mailbox = "hostile@sandbox.local"
    result = run_cli("--ost", str(hostile_ost), "--mailbox", mailbox, "--state", str(state), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert raw_control(result.stdout + result.stderr) == [], "ESC/BEL from the OST reached the terminal"
    assert "\\x1b]0;title\\x07" in result.stderr  # the folder name, escaped, in the console log
    log = (state / "logs" / "rebuild.jsonl").read_text(encoding="utf-8")
    assert "\\u001b]0;title\\u0007" in log, "the log keeps the raw value, JSON-escaped"

    if POSIX:
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        for path in state.rglob("*"):
            assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
        assert (state / "sandbox" / "sandbox.sqlite").exists() and (state / "journal.sqlite").exists()

    assert len(list((state / "reports").glob("run-*.json"))) == 1
    assert list((state / "reports").glob("failed-*.csv")) == []  # nothing failed: no empty failures file
    closing = result.stdout.strip().splitlines()[-5:]
    assert closing[2].endswith("(no failures)")
    assert closing[0] == f"state:   {state.resolve()} (journal.sqlite, sandbox/)"
    assert closing[1].startswith("log:     ") and closing[2].startswith("reports: ")
    verify_words = shlex.split(closing[3].removeprefix("next:    "))
    ls_words = shlex.split(closing[4].strip())
    program = [sys.executable, "-m", "pipeline"]  # how run_cli started it: printed so, to run as printed
    assert verify_words[:4] == [*program, "verify"] and ls_words[:5] == [*program, "sandbox", "ls"]
    verify_words, ls_words = verify_words[2:], ls_words[2:]
    verify = run_cli(*verify_words[1:], timeout=120)
    assert verify.returncode == 0 and raw_control(verify.stdout + verify.stderr) == [], verify.stdout
    listing = run_cli(*ls_words[1:], timeout=60)
    assert listing.returncode == 0 and raw_control(listing.stdout) == []
    lines = listing.stdout.splitlines()
    assert "\\x1b]0;pwned\\x07\\x1b[2J clear" in listing.stdout and "tag:0x" not in listing.stdout
    order = [
        line.strip().split(" [")[0].split("  ")[0]
        for line in lines
        if line.startswith("  ") and not line.startswith("    ")
    ]
    assert order.index("Inbox") < order.index("Calendar") < order.index("Sync Issues"), order
    props = run_cli(*ls_words[1:], "--props", timeout=60)
    assert "PR_MESSAGE_FLAGS (0x0e07) = " in props.stdout and "RebuildFingerprint {" in props.stdout
    assert "tag:0x0e07" not in props.stdout and raw_control(props.stdout) == []

    summary = json.loads(sorted((state / "reports").glob("run-*.json"))[-1].read_text())[0]
    status = run_cli("status", "--state", str(state), timeout=60)
    assert f"uploaded {summary['uploaded']}," in status.stdout and f"found {summary['found']}," in status.stdout
    store = SandboxStore(state / "sandbox")
    try:
        on_server = len(views.items(store, mailbox))
    finally:
        store.close()
    assert on_server == HOSTILE_ITEMS and f"journal: {on_server} items on the server" in status.stdout


def test_failed_items_csv_is_spreadsheet_safe(tmp_path: Path, hostile_ost: Path):
    # Every item is refused but the first one created, which is the run's mailbox lease (pipeline/lease.py).
    refuse = {"rules": [{"kind": "item_error", "code": "ErrorItemSave", "after": 1}]}
    with own_sandbox(tmp_path / "data", {SERVICE: (PASSWORD, True)}, ["eve@corp.example"], faults=refuse) as (h, _):
        result = run_cli(
            "--ost",
            str(hostile_ost),
            "--mailbox",
            "eve@corp.example",
            "--server",
            h.url,
            "--username",
            SERVICE,
            "--impersonate",
            "--state",
            str(tmp_path / "state"),
            env={"REBUILD_PASSWORD": PASSWORD},
            timeout=300,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert raw_control(result.stdout + result.stderr) == []
    report = next((tmp_path / "state" / "reports").glob("failed-*.csv"))
    with report.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    subjects = {row["subject"] for row in rows}
    assert "'" + FORMULA_SUBJECT in subjects and FORMULA_SUBJECT not in subjects
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())
    assert "--server" in result.stdout and "-m pipeline verify" in result.stdout


def test_status_creates_nothing_and_old_state_is_tightened(tmp_path: Path, small_ost: Path):
    from pipeline.cli.main import main

    empty = tmp_path / "nothing-ran"
    empty.mkdir()
    assert main(["status", "--state", str(empty)]) == 0
    assert list(empty.iterdir()) == [], "status must not create logs/ where nothing ran"
    if not POSIX:
        return
    old = tmp_path / "old"
    (old / "logs").mkdir(parents=True)
    (old / "journal.sqlite").write_bytes(b"")
    os.chmod(old, 0o755)
    os.chmod(old / "journal.sqlite", 0o644)
    dry_run = ["--ost", str(small_ost), "--mailbox", "old@sandbox.local", "--dry-run", "--log-level", "error"]
    assert main([*dry_run, "--state", str(old)]) == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o700
    assert stat.S_IMODE((old / "journal.sqlite").stat().st_mode) == 0o600
    shared = tmp_path / "home-like"  # a folder holding other things is never chmod'ed as a whole
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    os.chmod(shared, 0o755)
    assert main([*dry_run, "--state", str(shared)]) == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_log_file_rotates_by_size(tmp_path: Path, small_ost: Path, monkeypatch: pytest.MonkeyPatch):
    from pipeline.cli.main import main

    monkeypatch.setenv("REBUILD_LOG_MAX_BYTES", "2000")
    monkeypatch.setenv("REBUILD_LOG_BACKUPS", "2")
    state = tmp_path / "state"
    for _ in range(3):
        assert (
            main(
                [
                    "--ost",
                    str(small_ost),
                    "--mailbox",
                    "rot@sandbox.local",
                    "--state",
                    str(state),
                    "--dry-run",
                    "--log-level",
                    "error",
                ]
            )
            == 0
        )
    names = sorted(p.name for p in (state / "logs").iterdir())
    assert names == ["rebuild.jsonl", "rebuild.jsonl.1", "rebuild.jsonl.2"], names
    assert all(p.stat().st_size <= 2000 + 1000 for p in (state / "logs").iterdir())


def test_inspect_shows_hostile_names_escaped_and_json_keeps_them(hostile_ost: Path):
    text = run_cli("inspect", "--ost", str(hostile_ost), timeout=60)
    as_json = run_cli("inspect", "--ost", str(hostile_ost), "--json", timeout=60)
    assert text.returncode == 0 and as_json.returncode == 0
    assert raw_control(text.stdout + as_json.stdout) == []
    assert "Inbox/Evil\\x1b]0;title\\x07" in text.stdout
    paths = {f["path"] for f in json.loads(as_json.stdout)["folders"]}
    assert f"Inbox/{EVIL_FOLDER}" in paths, "JSON carries the raw name, escaped the JSON way"


def test_inspect_with_a_state_dir_logs_libpff_chain_once(tmp_path: Path, small_ost: Path):
    bad = libpff_refused_variant(small_ost, tmp_path / "flipped.ost")
    state = tmp_path / "state"
    result = run_cli("inspect", "--ost", str(bad), "--state", str(state), "--reader", "libpff", timeout=60)
    assert result.returncode == 2
    one_line(result, bad)
    log = (state / "logs" / "rebuild.jsonl").read_text(encoding="utf-8")
    refusals = [json.loads(x) for x in log.splitlines() if '"source refused"' in x]
    assert len(refusals) == 1 and refusals[0]["libpff"]


def test_a_file_given_as_state_dir_is_a_usage_error(
    tmp_path: Path, small_ost: Path, capsys: pytest.CaptureFixture[str]
):
    from pipeline.cli.main import main

    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("")
    assert main(["--ost", str(small_ost), "--mailbox", "a@corp.example", "--state", str(not_a_dir)]) == 2
    assert "not a usable state directory" in capsys.readouterr().err
