"""Mistakes an admin makes, caught: a mistyped mailbox on the embedded sandbox is refused (naming the nearest
existing address) unless --create; `verify` of a mailbox that does not exist says so in one line; `inspect`
never cuts a long folder path so that its deepest folder is nameless.

Oracles: the sandbox's own SQLite file read with plain SQL, the process's output and exit codes, the fixture
spec's folder names.
"""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import fixtures
from tests.conftest import REPO, run_cli

SPEC = {
    "store": {"name": "typo", "seed": 11},
    "folders": [{"name": "Inbox", "role": "inbox", "items": [{"kind": "mail", "subject": "one", "body": "x"}]}],
}


def _mailboxes(state: Path) -> set[str]:
    with sqlite3.connect(state / "sandbox" / "sandbox.sqlite") as db:
        return {row[0] for row in db.execute("SELECT address FROM mailboxes")}


def test_a_mistyped_mailbox_is_refused_unless_create_and_verify_says_missing_in_one_line(tmp_path: Path):
    ost, state = fixtures.cached(SPEC, format="ost"), tmp_path / "state"
    first = run_cli("--ost", str(ost), "--mailbox", "alice@corp.example", "--state", str(state))
    assert first.returncode == 0, first.stderr  # the sandbox's first mailbox: made without asking
    assert _mailboxes(state) == {"alice@corp.example"}

    typo = run_cli("--ost", str(ost), "--mailbox", "alcie@corp.example", "--state", str(state))
    assert typo.returncode == 2, typo.stdout + typo.stderr
    lines = typo.stderr.strip().splitlines()
    assert len(lines) == 1 and "alcie@corp.example" in lines[0] and "alice@corp.example" in lines[0], lines
    assert "--create" in lines[0] and typo.stdout == ""
    assert _mailboxes(state) == {"alice@corp.example"}  # nothing made, nothing uploaded

    missing = run_cli("verify", "--ost", str(ost), "--mailbox", "alcie@corp.example", "--state", str(state))
    assert missing.returncode == 1
    out = missing.stdout.strip().splitlines()
    assert len(out) == 1 and "alcie@corp.example" in out[0] and "no such mailbox" in out[0], out
    assert "missing 0" not in missing.stdout and missing.stderr.strip() == ""

    made = run_cli("--ost", str(ost), "--mailbox", "bob@corp.example", "--create", "--state", str(state))
    assert made.returncode == 0, made.stderr
    assert _mailboxes(state) == {"alice@corp.example", "bob@corp.example"}


def test_inspect_shows_the_whole_path_of_a_deep_long_folder(small_ost: Path):
    spec = tomllib.loads((REPO / "fixtures" / "specs" / "small.toml").read_text(encoding="utf-8"))
    longest = max((f["name"] for f in _walk(spec["folders"])), key=len)
    assert len(longest) > 48
    result = run_cli("inspect", "--ost", str(small_ost))
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if longest[:20] in line]
    assert line.endswith(longest)  # the deepest folder's whole name, never cut


def _walk(folders: list[dict]) -> list[dict]:
    found = []
    for folder in folders:
        found.append(folder)
        found.extend(_walk(folder.get("folders", [])))
    return found
