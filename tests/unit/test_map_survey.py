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
