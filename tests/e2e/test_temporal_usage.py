"""`--engine temporal`, `rebuild worker` and `rebuild status --temporal` refuse bad usage with one line and
exit code 2, before any server is contacted (these need no Temporal server, nor the extra)."""

from __future__ import annotations

from pathlib import Path

import fixtures
from tests.conftest import run_cli


def users_csv(tmp_path: Path) -> Path:
    ost = fixtures.cached("small", format="ost")
    mapping = tmp_path / "users.csv"
    mapping.write_text(f"ost,mailbox\n{ost},user0@site.example\n", encoding="utf-8")
    return mapping


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


def test_engine_temporal_needs_a_named_server(tmp_path: Path):
    result = run_cli(
        "run",
        "--map",
        str(users_csv(tmp_path)),
        "--engine",
        "temporal",
        "--temporal",
        "127.0.0.1:1",
        "--state",
        str(tmp_path / "state"),
    )
    assert "needs --server URL" in one_line(result)


def test_engine_temporal_needs_host_and_port(tmp_path: Path):
    result = run_cli(
        "run",
        "--map",
        str(users_csv(tmp_path)),
        "--engine",
        "temporal",
        "--temporal",
        "nohost",
        "--server",
        "http://127.0.0.1:1/EWS/Exchange.asmx",
        "--state",
        str(tmp_path / "state"),
    )
    assert "--temporal 'nohost': expected HOST:PORT" in one_line(result)


def test_worker_path_map_must_be_old_equals_new(tmp_path: Path):
    result = run_cli(
        "worker", "--temporal", "127.0.0.1:1", "--path-map", "//fs01/osts", "--state", str(tmp_path / "state")
    )
    assert "expected OLD=NEW" in one_line(result)
