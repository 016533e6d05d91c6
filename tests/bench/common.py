"""Shared helpers of the benchmarks: timed child processes with peak RSS, a private sandbox, result rows.

Every figure is stored as a Row beside a baseline measured in the same run, so the ratio survives noise.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.connection import ews_args

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The package's bytecode, as an installed copy has it (pip compiles at install): this machine's environment
# sets PYTHONDONTWRITEBYTECODE=1, so otherwise every timed `rebuild` process would compile the package from
# source first (about 0.3 s a process), which the baselines (readpst, exchangelib's own .pyc) never pay.
compileall.compile_dir(REPO / "pipeline", quiet=1)
SERVICE, PASSWORD = "svc-bench", "bench-Passw0rd"
TIME_BIN = "/usr/bin/time"


@dataclass
class Row:
    """One figure: what we measured, the baseline measured beside it, their ratio, and the target."""

    bench: str
    figure: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        ratio = f"  ratio {row.ratio:.2f}" if row.ratio is not None else ""
        base = f"  | {row.baseline_name} {row.baseline:.4g}" if row.baseline is not None else ""
        target = f"  (target {row.target})" if row.target else ""
        print(
            f"  {row.figure}: {row.value:.4g} {row.unit}{base}{ratio}{target}{'  ' + row.note if row.note else ''}",
            flush=True,
        )
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def table(self) -> str:
        lines = [
            "| bench | figure | value | baseline | baseline value | ratio | target |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            base = f"{r.baseline:.4g}" if r.baseline is not None else ""
            ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
            lines.append(
                f"| {r.bench} | {r.figure} | {r.value:.4g} {r.unit} | {r.baseline_name} | {base} | "
                f"{ratio} | {r.target} |"
            )
        return "\n".join(lines)

    def dump(self, path: Path) -> None:
        path.write_text(
            json.dumps({"rows": [asdict(r) | {"ratio": r.ratio} for r in self.rows], "notes": self.notes}, indent=1),
            encoding="utf-8",
        )


@dataclass
class Measured:
    wall: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 7200
) -> Measured:
    """Run cmd under /usr/bin/time: wall seconds and the process's own peak RSS (not its children's sum)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-time-{os.getpid()}-{time.monotonic_ns()}"
    wrapped = [TIME_BIN, "-f", "%e %M", "-o", str(out), *cmd] if os.path.exists(TIME_BIN) else cmd
    start = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=timeout)
    wall = time.perf_counter() - start
    rss = 0.0
    if out.exists():
        fields = out.read_text().split()
        out.unlink()
        if len(fields) >= 2:
            rss = int(fields[-1]) / 1024
    return Measured(wall, rss, proc.returncode, proc.stdout, proc.stderr)


def proc_cpu_seconds(pid: int | None) -> float:
    """User+system CPU seconds a live process has used so far (0 when unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_peak_rss_mb(pid: int | None) -> float:
    if not pid:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def sandbox(work: Path, mailboxes: list[str]) -> Iterator[Any]:
    """A sandbox server process of the benchmark's own, with a service account that may impersonate."""
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.store import SandboxStore

    data = work / "sandbox-data"
    shutil.rmtree(data, ignore_errors=True)
    store = SandboxStore(data)
    store.add_account(SERVICE, PASSWORD, impersonation=True)
    for address in mailboxes:
        store.add_mailbox(address)
    store.close()
    handle = start(data, log_level="warning")
    try:
        yield handle
    finally:
        handle.stop()


def rebuild_cmd(handle: Any, state: Path, *args: str) -> list[str]:
    connection = ews_args(handle, state, username=SERVICE, impersonate=True)
    return [PYTHON, "-m", "pipeline", "run", *connection, "--log-level", "warning", *args]


def cli_env() -> dict[str, str]:
    return {"REBUILD_PASSWORD": PASSWORD}


def mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
