"""The end of a run on the console: the summary, then where the state, log and reports are and the command
to run next. One mailbox (`--ost`) and many (`--map`) end the same way and write the same reports.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.options import RunFlags
from pipeline.cli.report import render_summary, render_table
from pipeline.destination.reach import public_url
from pipeline.errors import EXIT_BUSY, EXIT_FAILURES, EXIT_OK
from pipeline.logs.terminal import shown
from pipeline.rebuild.status import FAILED, HELD_ELSEWHERE, RunStatus
from pipeline.settings import Settings
from pipeline.state.problems import state_problem
from pipeline.state.reports import write_reports


def finish(summaries: list[Any], flags: RunFlags, settings: Settings, site: Any = None) -> int:
    """Write the reports (and, for --map, the site page as the run ended: reports/site.html), print the summary
    and what to do next; the exit code of the run. Reports that cannot be written (a full disk) are said in
    one line after the summary, which is printed anyway."""
    reports: list[Path] = []
    unwritten = None
    try:
        reports = write_reports(settings.state_dir / "reports", summaries)
        if site is not None:
            from pipeline.site.server import write_static

            site.finish(summaries, reports)
            reports.append(write_static(site.snapshot(), settings.state_dir / "reports"))
    except OSError as exc:
        problem = state_problem(exc, settings.state_dir / "reports")
        if problem is None:
            raise
        unwritten = f"rebuild: reports not written: {shown(problem)}"
    single = not flags.map
    if flags.as_json:
        data = [s.as_dict() for s in summaries]
        json.dump(data[0] if single else data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        for s in summaries:  # the JSON holds it too; stderr says it once for the person watching
            if s.fatal:
                print(f"rebuild: {shown(s.mailbox)}: {shown(s.fatal)}", file=sys.stderr)
    else:
        print(render_summary(summaries[0]) if single else render_table(summaries))
        print("\n".join(where_and_next(summaries, flags, settings, reports)))
    if unwritten:
        print(unwritten, file=sys.stderr)
    bad = [s for s in summaries if s.status in FAILED or s.failed_total]
    if bad or unwritten:
        return EXIT_FAILURES
    return EXIT_BUSY if any(s.status in HELD_ELSEWHERE for s in summaries) else EXIT_OK


def command_line(words: list[str]) -> str:
    """words as one line the admin can paste into this system's shell."""
    if os.name == "nt":
        return subprocess.list2cmdline(words)
    return " ".join(shlex.quote(w) for w in words)


def program() -> list[str]:
    """How this shell starts this program again: `rebuild` when PATH finds the very command that runs, else the
    path it was started by (a virtual environment's script, not activated), or the interpreter with
    `-m pipeline`; `rebuild` when called as a library."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_spec is not None and main_spec.name in ("pipeline", "pipeline.__main__"):
        return [sys.executable, "-m", "pipeline"]
    started = sys.argv[0] if sys.argv else ""
    if Path(started).stem.lower().removesuffix("-script") != "rebuild":
        return ["rebuild"]
    found = shutil.which("rebuild")
    try:
        if found and Path(found).resolve() == Path(started).resolve():
            return ["rebuild"]
    except OSError:
        pass
    return [started]


def _target_flags(flags: RunFlags, settings: Settings) -> list[str]:
    words = ["--state", str(settings.state_dir)]
    if not settings.uses_sandbox:
        words += ["--server", public_url(settings.ews.server)]  # never a password the URL carries
        if settings.ews.username:
            words += ["--username", settings.ews.username]
        if settings.ews.auth != "ntlm":
            words += ["--auth", settings.ews.auth]
        if flags.impersonate:
            words.append("--impersonate")
    if flags.target_root:
        words += ["--target-root", flags.target_root]
    return words


def next_commands(summaries: list[Any], flags: RunFlags, settings: Settings) -> list[str]:
    """What to run next, by how the run ended."""
    statuses = {s.status for s in summaries}
    if RunStatus.INTERRUPTED in statuses:
        return ["run the same command again to resume (finished folders are skipped at once)"]
    if RunStatus.DRY_RUN in statuses:
        return ["run the same command without --dry-run to upload"]
    hints = []
    if RunStatus.BUSY in statuses:
        hints.append(
            "another run holds the mailbox (see above): wait for it, or if it is gone, run the same "
            "command with --break-lease"
        )
    if RunStatus.LEASE_LOST in statuses:
        hints.append(
            "this run stopped writing when its lease ran out (another run may hold the mailbox now): "
            "when no other run is writing, run the same command again (it reconciles what is there)"
        )
    if statuses & {RunStatus.FATAL, RunStatus.CRASHED}:
        hints.append("fix the cause printed above, then run the same command again (done work is kept)")
    elif any(s.failed_total for s in summaries):
        hints.append("see the failed items in the reports; the same command again retries them")
    if flags.map:
        source = ["--map", str(flags.map)]
    else:
        files = (getattr(summaries[0], "merge", None) or {}).get("files") or [str(summaries[0].source)]
        source = [*(a for f in files for a in ("--ost", f)), "--mailbox", summaries[0].mailbox]  # a set: every file
    hints.append(command_line([*program(), "verify", *source, *_target_flags(flags, settings)]))
    if settings.uses_sandbox:
        for s in summaries[:3]:
            hints.append(
                command_line([*program(), "sandbox", "ls", "--mailbox", s.mailbox, "--state", str(settings.state_dir)])
            )
    return hints


def where_and_next(summaries: list[Any], flags: RunFlags, settings: Settings, reports: list[Path]) -> list[str]:
    """The closing lines: where the state, the log and the reports are, and the next commands."""
    state = settings.state_dir.resolve()
    lines = [
        f"state:   {shown(state)} (journal.sqlite" + (", sandbox/" if settings.uses_sandbox else "") + ")",
        f"log:     {shown(settings.log_dir.resolve() / 'rebuild.jsonl')}",
        f"reports: {', '.join(shown(p.resolve()) for p in reports) or 'not written (see below)'}"
        + ("" if not reports or any(p.name.startswith("failed-") for p in reports) else " (no failures)"),
    ]
    commands = next_commands(summaries, flags, settings)
    lines.append(f"next:    {shown(commands[0])}")
    lines.extend(f"         {shown(c)}" for c in commands[1:])
    return lines


def render_status(status: list[dict[str, Any]]) -> str:
    """`rebuild status`: per mailbox, the last run in the words of its own closing summary, then what the
    journal holds (distinct items: an item found twice in one folder is one journal entry)."""
    lines = []
    for entry in status:
        last = entry.get("last_run", {})
        run = f"last run {last.get('status', '-')}"
        if "found" in last:
            run += (
                f": found {last['found']}, uploaded {last.get('uploaded', 0)}, already present "
                f"{last.get('present', 0)}, skipped {last.get('skipped', 0)}, failed {last.get('failed_total', 0)}"
            )
        items = entry["items"]
        on_server = items.get("uploaded", 0) + items.get("present", 0)
        usable = "usable" if entry.get("usable_since") else "not usable yet"
        lines.append(
            f"{shown(entry['mailbox'])}: {usable}; {run}; journal: {on_server} items on the server, "
            f"{items.get('failed', 0)} failed; folders done {entry.get('folders_done', 0)}/"
            f"{entry.get('folders', 0)}"
        )
    return "\n".join(lines) or "the journal holds no mailbox yet"
