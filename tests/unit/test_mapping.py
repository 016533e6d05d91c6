"""The CSV mapping is checked whole before any upload: every error with its line number."""

from __future__ import annotations

from pathlib import Path

import fixtures
from pipeline.mapping import load_mapping


def fake_ost(path: Path) -> Path:
    """A real (fixture-built) OST: the check opens every file with libpff, as the run will."""
    path.write_bytes(fixtures.cached("small", format="ost").read_bytes())
    return path


def test_valid_mapping(tmp_path: Path):
    fake_ost(tmp_path / "a.ost")
    fake_ost(tmp_path / "b.ost")
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox,target_root,impersonate,only\n"
                   "a.ost,alice@corp.example,,yes,Inbox;Sent Items\n"
                   "\n"
                   "b.ost,bob@corp.example,Recovered,no,\n", encoding="utf-8")
    rows, errors = load_mapping(csv)
    assert errors == []
    assert [(r.line, r.mailbox, r.impersonate) for r in rows] == [(2, "alice@corp.example", True),
                                                                  (4, "bob@corp.example", False)]
    assert rows[0].only == ("Inbox", "Sent Items")
    assert rows[1].target_root == "Recovered" and rows[1].ost == (tmp_path / "b.ost").resolve()


def test_every_error_with_its_line(tmp_path: Path):
    fake_ost(tmp_path / "a.ost")
    (tmp_path / "notpst.ost").write_bytes(b"hello")
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox\n"
                   "a.ost,alice@corp.example\n"
                   "missing.ost,bob@corp.example\n"
                   "a.ost,carol@corp\n"
                   "notpst.ost,not-an-address\n"
                   "a.ost,ALICE@corp.example\n", encoding="utf-8")
    rows, errors = load_mapping(csv)
    assert [r.line for r in rows] == [2]
    by_line = {}
    for error in errors:
        by_line.setdefault(error.line, []).append(error.message)
    assert "no such file" in by_line[3][0]
    assert any("already on line 2" in m for m in by_line[4])
    assert any("not an OST/PST" in m for m in by_line[5]) and any("SMTP" in m for m in by_line[5])
    assert any("mailbox ALICE@corp.example is already on line 2" in m for m in by_line[6])
    assert errors[0].render(csv).startswith(f"{csv}:3: ")


def test_unknown_column_and_bad_encoding(tmp_path: Path):
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox,colour\n", encoding="utf-8")
    _, errors = load_mapping(csv)
    assert errors[0].line == 1 and "unknown column" in errors[0].message
    csv.write_bytes("ost,mailbox\nx.ost,j\xf6rg@corp.example\n".encode("latin-1"))
    _, errors = load_mapping(csv)
    assert errors[0].line == 2 and "UTF-8" in errors[0].message
