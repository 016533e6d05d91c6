"""A run of a mailbox's set of files in the test's own process (the default test run's time budget), over HTTP
to the sandbox through the destination given, made as the CLI would make it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.state.journal import Journal


def run_set(destination: Any, state: Path, mailbox: str, files: list[Path], merge: bool = True) -> Any:
    """The files (the first and the `more`) into mailbox, with the state dir `state`; its summary, which must
    say `ok`."""
    settings = load_settings({"state_dir": str(state)}, {})
    options = RunOptions(files[0], mailbox, more=tuple(files[1:]), merge=merge)
    state.mkdir(parents=True, exist_ok=True)
    with Journal(state / "journal.sqlite") as journal:
        summary = MailboxRun(options, settings, destination, journal).run()
    assert summary.status == "ok", summary.fatal or summary.failures
    return summary
