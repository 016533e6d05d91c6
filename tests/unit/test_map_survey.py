"""`--map` opens each user's file once before the run: the gate's check and the address book share one
opening (the survey), and the run reads the book the survey kept instead of walking the file again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import fixtures
import pipeline.rebuild.run
import pipeline.source
import pipeline.source.gate
from pipeline.cli.main import main
from pipeline.rebuild.run import MailboxRun
from pipeline.source.native import NativeSource


def test_each_file_opened_by_the_survey_and_by_its_run_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    small = fixtures.cached("small", format="ost").read_bytes()
    users = {"alice@corp.example": tmp_path / "a.ost", "bob@corp.example": tmp_path / "b.ost"}
    for path in users.values():
        path.write_bytes(small)
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox\n" + "".join(f"{p.name},{m}\n" for m, p in users.items()), encoding="utf-8")

    opened: Counter[str] = Counter()
    walked: Counter[str] = Counter()
    real_open, real_parties = pipeline.source.open_source, NativeSource.parties

    def counting_open(path, *args, **kwargs):
        opened[Path(path).name] += 1
        return real_open(path, *args, **kwargs)

    def counting_parties(self, folder):
        walked[folder.path_str] += 1
        return real_parties(self, folder)

    for module in (pipeline.source, pipeline.source.gate, pipeline.rebuild.run):
        monkeypatch.setattr(module, "open_source", counting_open)
    monkeypatch.setattr(NativeSource, "parties", counting_parties)

    code = main(["run", "--map", str(csv), "--dry-run", "--workers", "1", "--state", str(tmp_path / "state"), "--json"])
    assert code == 0
    # The survey's opening and the run's, nothing else (the CSV check, the site book and the run used to make 3).
    assert opened == {"a.ost": 2, "b.ost": 2}
    # One pass over each folder's parties per file: the survey's; the run found its book kept.
    assert walked and set(walked.values()) == {2}, walked  # two files, each folder once per file
    books = sorted(p.name for p in (tmp_path / "state" / "addressbooks").iterdir())
    assert len(books) == 3 and sum(name.startswith("site-") for name in books) == 1, books


def test_a_file_the_survey_refuses_is_a_line_of_the_mapping_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "a.ost").write_bytes(fixtures.cached("small", format="ost").read_bytes())
    (tmp_path / "bad.ost").write_bytes(b"not a store at all" * 100)
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox\na.ost,alice@corp.example\nbad.ost,bob@corp.example\n", encoding="utf-8")
    code = main(["run", "--map", str(csv), "--dry-run", "--state", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{csv}:3: ost 'bad.ost':" in err
    assert "nothing was uploaded" in err


def test_every_file_of_a_mailboxs_set_is_surveyed_once_and_its_run_reads_no_book_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A mailbox with two files (two rows): the survey opens both, so the merge run reads every file's book
    from the cache (the run opens each file twice: its index pass and its walk; it walks no parties)."""
    small = fixtures.cached("small", format="ost").read_bytes()
    files = {"desk.ost": "alice@corp.example", "lap.ost": "alice@corp.example", "b.ost": "bob@corp.example"}
    for name in files:
        (tmp_path / name).write_bytes(small)
    csv = tmp_path / "users.csv"
    csv.write_text("ost,mailbox\n" + "".join(f"{n},{m}\n" for n, m in files.items()), encoding="utf-8")

    opened: Counter[str] = Counter()
    walked: Counter[tuple[str, str, str]] = Counter()
    real_open, real_parties, real_run = pipeline.source.open_source, NativeSource.parties, MailboxRun.run
    phase = ["survey"]

    def counting_open(path, *args, **kwargs):
        opened[Path(path).name] += 1
        return real_open(path, *args, **kwargs)

    def counting_parties(self, folder):
        walked[(phase[0], self.path.name, folder.path_str)] += 1
        return real_parties(self, folder)

    def marked_run(self):
        phase[0] = "run"
        return real_run(self)

    for module in (pipeline.source, pipeline.source.gate, pipeline.rebuild.run):
        monkeypatch.setattr(module, "open_source", counting_open)
    monkeypatch.setattr(NativeSource, "parties", counting_parties)
    monkeypatch.setattr(MailboxRun, "run", marked_run)

    state = tmp_path / "state"
    code = main(["run", "--map", str(csv), "--dry-run", "--workers", "1", "--state", str(state), "--json"])
    assert code == 0
    assert opened == {"desk.ost": 3, "lap.ost": 3, "b.ost": 2}
    # each folder's parties read once per file, by the survey; the run (merge or not) found every book kept
    assert {(when, name) for when, name, _ in walked} == {("survey", name) for name in files}, walked
    assert set(walked.values()) == {1}, walked
    books = sorted(p.name for p in (state / "addressbooks").iterdir())
    assert len(books) == 4 and sum(name.startswith("site-") for name in books) == 1, books
