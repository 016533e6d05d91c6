"""The CSV mapping is checked whole before any upload: every error with its line number."""

from __future__ import annotations

from pathlib import Path

import fixtures
from pipeline.cli.mapping import load_mapping


def fake_ost(path: Path) -> Path:
    """A real (fixture-built) OST: the check opens every file with libpff, as the run will."""
    path.write_bytes(fixtures.cached("small", format="ost").read_bytes())
    return path


def test_valid_mapping(tmp_path: Path):
    fake_ost(tmp_path / "a.ost")
    fake_ost(tmp_path / "b.ost")
    csv = tmp_path / "users.csv"
    csv.write_text(
        "ost,mailbox,target_root,impersonate,only\n"
        "a.ost,alice@corp.example,,yes,Inbox;Sent Items\n"
        "\n"
        "b.ost,bob@corp.example,Recovered,no,\n",
        encoding="utf-8",
    )
    rows, errors = load_mapping(csv)
    assert errors == []
    assert [(r.line, r.mailbox, r.impersonate) for r in rows] == [
        (2, "alice@corp.example", True),
        (4, "bob@corp.example", False),
    ]
    assert rows[0].only == ("Inbox", "Sent Items")
    assert rows[1].target_root == "Recovered" and rows[1].ost == (tmp_path / "b.ost").resolve()


def test_every_error_with_its_line(tmp_path: Path):
    fake_ost(tmp_path / "a.ost")
    (tmp_path / "notpst.ost").write_bytes(b"hello")
    csv = tmp_path / "users.csv"
    csv.write_text(
        "ost,mailbox\n"
        "a.ost,alice@corp.example\n"
        "missing.ost,bob@corp.example\n"
        "a.ost,carol@corp\n"
        "notpst.ost,not-an-address\n"
        "a.ost,ALICE@corp.example\n",
        encoding="utf-8",
    )
    rows, errors = load_mapping(csv)
    assert [r.line for r in rows] == [2]
    by_line = {}
    for error in errors:
        by_line.setdefault(error.line, []).append(error.message)
    assert "no such file" in by_line[3][0]
    assert any("already on line 2" in m for m in by_line[4])
    assert any("not an OST/PST" in m for m in by_line[5]) and any("SMTP" in m for m in by_line[5])
    assert by_line[6] == ["ost 'a.ost' is already on line 2"]  # one file, one mailbox
    assert errors[0].render(csv).startswith(f"{csv}:3: ")


def test_a_mailbox_with_several_files_is_one_row_whose_columns_must_agree(tmp_path: Path):
    """One row per file: a mailbox's rows become one job (its first file, then the others in order); rows
    that differ in another column than the file refuse that mailbox, naming all its lines."""
    for name in ("desk.ost", "lap.ost", "arch.pst", "b.ost", "b2.ost"):
        fake_ost(tmp_path / name)
    csv = tmp_path / "users.csv"
    csv.write_text(
        "ost,mailbox,target_root\n"
        "desk.ost,alice@corp.example,\n"
        "b.ost,bob@corp.example,Old\n"
        "lap.ost,Alice@corp.example,\n"
        "b2.ost,bob@corp.example,New\n"
        "arch.pst,alice@corp.example,\n",
        encoding="utf-8",
    )
    rows, errors = load_mapping(csv)
    assert [(r.line, r.ost.name, [p.name for p in r.more], r.lines) for r in rows] == [
        (2, "desk.ost", ["lap.ost", "arch.pst"], (4, 6))
    ]
    assert [(e.line, e.message) for e in errors] == [
        (
            3,
            "mailbox bob@corp.example: lines 3, 5 disagree on target_root (the rows of one mailbox may differ in their ost only)",
        )
    ]


def test_unknown_column_and_bad_encoding(tmp_path: Path):
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox,colour\n", encoding="utf-8")
    _, errors = load_mapping(csv)
    assert errors[0].line == 1 and "unknown column" in errors[0].message
    csv.write_bytes("ost,mailbox\nx.ost,j\xf6rg@corp.example\n".encode("latin-1"))
    _, errors = load_mapping(csv)
    assert errors[0].line == 2 and "UTF-8" in errors[0].message


def test_hostile_csvs_end_in_errors_with_their_line(tmp_path: Path):
    """Cells beyond the csv module's limit, controls in a cell, an unclosed quote, a semicolon file, a header
    naming a column twice or none: each is one error with its line, never an exception."""
    ost = fake_ost(tmp_path / "a.ost")
    cases = {
        "long": (f"ost,mailbox\n{'x' * 200_000},a@corp.example\n", 2, "not readable as CSV"),
        "controls": (
            f"ost,mailbox,target_root\n{ost},a@corp.example,Re\x1b[2Jcovered\n",
            2,
            "control characters in target_root",
        ),
        "quote": (f'ost,mailbox\n"{ost},a@corp.example\n', 2, "no such file"),
        "semicolons": (f"ost;mailbox\n{ost};a@corp.example\n", 1, "unknown column"),
        "twice": (f"ost,mailbox,ost\n{ost},a@corp.example,{ost}\n", 1, "named twice"),
        "trailing comma": (f"ost,mailbox,\n{ost},a@corp.example,\n", 1, "empty column name"),
        "nul": (f"ost,mailbox\n{ost},a@corp.example\x00\n", 2, "control characters in mailbox"),
    }
    for name, (text, line, words) in cases.items():
        csv = tmp_path / f"{name}.csv"
        csv.write_text(text, encoding="utf-8")
        rows, errors = load_mapping(csv)
        assert rows == [] and errors, name
        assert errors[0].line == line and words in errors[0].message, (name, errors)


def test_a_mapping_path_that_is_not_a_file(tmp_path: Path):
    _, errors = load_mapping(tmp_path)
    assert errors[0].message == "the mapping file is a directory, not a CSV file"


def test_a_further_file_the_survey_refuses_leaves_its_mailbox_out_naming_its_line(tmp_path: Path):
    """The local --map run leaves the files to its survey, which opens every file of a mailbox's set: one
    refused file leaves the whole set out, the error naming that file's own line."""
    from pipeline.cli.mapping import refusals

    fake_ost(tmp_path / "desk.ost")
    fake_ost(tmp_path / "b.ost")
    csv = tmp_path / "users.csv"
    csv.write_text(
        "ost,mailbox\ndesk.ost,alice@corp.example\nb.ost,bob@corp.example\nlap.ost,alice@corp.example\n",
        encoding="utf-8",
    )
    rows, errors = load_mapping(csv, survey_later=True)
    assert errors == [] and [r.mailbox for r in rows] == ["alice@corp.example", "bob@corp.example"]
    assert [(line, path.name) for line, path in rows[0].files] == [(2, "desk.ost"), (4, "lap.ost")]
    kept, errors = refusals(rows, {4: "not an Outlook data file"})
    assert [r.mailbox for r in kept] == ["bob@corp.example"]
    assert [(e.line, e.message) for e in errors] == [(4, "ost 'lap.ost': not an Outlook data file")]
    kept, errors = refusals(rows, {2: "truncated"})
    assert [r.mailbox for r in kept] == ["bob@corp.example"] and errors[0].line == 2
