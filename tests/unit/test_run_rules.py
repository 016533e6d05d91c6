"""The rules restore against a destination that cannot write inbox rules (the in-memory fake, as Graph is
until it has its own): every rule of the file is listed as not restored, stream-only ones too, each with
its text; none is dropped. The names come from the fixture spec (the oracle)."""

from __future__ import annotations

from pathlib import Path

import fixtures
from fixtures.spec import load_spec
from pipeline.destination.fake import FakeDestination
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.state.journal import Journal

SPEC = load_spec("rules")


def test_every_rule_is_listed_when_the_destination_cannot_write_rules(tmp_path: Path):
    ost, _ = fixtures.cached_build("rules", "ost", "permute")
    settings = load_settings({"state_dir": str(tmp_path)}, {})
    with Journal(tmp_path / "journal.sqlite") as journal:
        summary = MailboxRun(
            RunOptions(ost, "me@example.com", settings=("rules",)), settings, FakeDestination(), journal
        ).run()
    lines = [s for s in summary.settings if s["setting"] == "rule"]
    spec_rules = [s.rule.name for f in SPEC.folders for s in f.associated if s.kind == "rule"]
    stream_only = [n for f in SPEC.folders for s in f.associated for n in s.outlook_rules if n not in spec_rules]
    assert sorted(s["name"] for s in lines) == sorted(spec_rules + stream_only)
    assert {s["action"] for s in lines} == {"not restored"}
    for line in lines:
        assert line["name"] in line["reason"], line  # the rule's text, one line each
    [client_only] = [s for s in lines if s["name"] in stream_only]
    assert "on this computer only, print it" in client_only["reason"]  # what the fixture writes in the stream
