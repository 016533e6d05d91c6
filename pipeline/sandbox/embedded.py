"""Starting the sandbox from Python: a child process by default (its own GIL), or a thread for quick tests.

The child watches its stdin and parent pid, so it exits when the handle stops or the parent dies: no orphans.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pipeline.sandbox import admin
from pipeline.sandbox.faults import parse_rules
from pipeline.sandbox.limits import Limits

#: The line `sandbox serve` prints once it listens (JSON after it): what a parent waits for.
READY_PREFIX = "SANDBOX READY "

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


class SandboxStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


class SandboxHandle:
    """A running sandbox: `.url` (EWS endpoint), `.admin_url`, faults and counters, `.stop()`."""

    def __init__(
        self,
        url: str,
        admin_url: str,
        data_dir: Path,
        process: subprocess.Popen[bytes] | None = None,
        thread: threading.Thread | None = None,
        stop_event: threading.Event | None = None,
        log_file: IO[bytes] | None = None,
    ) -> None:
        self.url = url
        self.admin_url = admin_url
        self.data_dir = data_dir
        self._process = process
        self._thread = thread
        self._stop_event = stop_event
        self._log_file = log_file

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """An admin endpoint, called with the data folder's admin token (admin.py)."""
        return admin.call(self.admin_url, self.data_dir, path, payload)

    def set_faults(self, config: dict[str, Any] | None) -> dict[str, Any]:
        """Replace the fault rules (None or {} clears them); answers {"ok": True, "faults": <snapshot>}."""
        return self._admin("faults", config or {})

    def faults(self) -> dict[str, Any]:
        return self._admin("faults")

    def stats(self) -> dict[str, Any]:
        return self._admin("stats")

    def set_graph(self, config: dict[str, Any]) -> dict[str, Any]:
        """Graph face settings: its budgets (graph/throttle.py GraphLimits) and `import_mime` on or off."""
        return self._admin("graph", config)

    def graph_sent(self) -> list[dict[str, Any]]:
        """Every message the Graph face would have sent (invitations, sendMail): tests expect none."""
        return self._admin("graph-sent")

    def graph_log(self) -> list[dict[str, Any]]:
        """The Graph face's requests so far (graph/wirelog.py): when, what, status, which folder."""
        return self._admin("graph-log")

    @property
    def graph_url(self) -> str:
        """The Graph face's base (append /v1.0/… or /beta/…)."""
        return self.url.split("/EWS/")[0]

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            try:
                if process.stdin is not None:
                    process.stdin.close()  # the child's stdin watcher stops the server
            except OSError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stop_event is not None:
            self._stop_event.set()
            if self._thread is not None:
                self._thread.join(timeout)
            self._stop_event = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop(timeout=2)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def start(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: dict[str, Any] | None = None,
    in_process: bool = False,
    log_level: str = "info",
    limits: Limits | None = None,
) -> SandboxHandle:
    """Start a sandbox on `data_dir` (created if needed) and wait until it answers.

    `faults` are rules for this run only (faults.json in the data folder is left alone and still applies
    when `faults` is None); `limits` overrides size limits.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if faults is not None:
        parse_rules(faults)  # a bad config fails here, in the caller, not in the child
    if in_process:
        return _start_thread(data_dir, host, port, limits, faults)
    return _start_process(data_dir, host, port, log_level, limits, faults)


def _start_thread(
    data_dir: Path, host: str, port: int, limits: Limits | None, faults: dict[str, Any] | None
) -> SandboxHandle:
    # Only a sandbox in a thread loads the server (and lxml) into this process; a child process is the default.
    from pipeline.sandbox.server import make_server, serve

    server = make_server(data_dir, host, port, limits=limits)
    if faults is not None:
        server.app.faults.configure(faults)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(server, stop), name="sandbox-server", daemon=True)
    thread.start()
    return SandboxHandle(server.url, server.admin_url, data_dir, thread=thread, stop_event=stop)


def _start_process(
    data_dir: Path,
    host: str,
    port: int,
    log_level: str,
    limits: Limits | None,
    faults: dict[str, Any] | None,
) -> SandboxHandle:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    log_path = data_dir / "server.log"
    # Kept open for the child's lifetime; owner-only like everything in the data folder.
    log_file = os.fdopen(
        os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o600), "ab"
    )
    command = [
        sys.executable,
        "-m",
        "pipeline.sandbox",
        "serve",
        "--log-level",
        log_level,
        "--data",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        "--watch-stdin",
        "--parent-pid",
        str(os.getpid()),
    ]
    if faults is not None:
        command += ["--faults", json.dumps(faults)]
    if limits is not None:
        command += [
            "--max-item-bytes",
            str(limits.max_item_bytes),
            "--max-request-bytes",
            str(limits.max_request_bytes),
            "--oversize-answer",
            limits.oversize_answer,
            "--max-concurrency",
            str(limits.max_concurrency),
            "--search-lag-s",
            str(limits.search_lag_s),
            "--rules-quota-bytes",
            str(limits.rules_quota_bytes),
        ]
    # A session of its own: the terminal's Ctrl-C is meant for `rebuild`, which lets the batches in flight
    # finish against this server; the server ends when its stdin closes or its parent dies.
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,
        cwd=str(REPO_ROOT),
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    info: dict[str, Any] | None = None
    result: list[bytes] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else b""), daemon=True
    )
    reader.start()
    reader.join(max(deadline - time.monotonic(), 0.1))
    line = result[0].decode("utf-8", errors="replace") if result else ""
    if line.startswith(READY_PREFIX):
        info = json.loads(line[len(READY_PREFIX) :])
    if info is None:
        process.kill()
        process.wait()
        log_file.close()
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SandboxStartError(f"sandbox did not start (exit {process.returncode}): {tail}")
    return SandboxHandle(info["url"], info["admin_url"], data_dir, process=process, log_file=log_file)
