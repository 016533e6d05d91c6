"""The admin endpoints (faults, Graph budgets, stats, sent log) answer only the admin, and never a web page.

Plain HTTP written here (requests, no project client) against a sandbox child process on loopback; what a
refused request did is checked afterwards with the admin token, read from the data folder as an admin would.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipeline.sandbox import embedded
from tests.sandbox.helpers import ADMIN, ALICE, populate

FAULT = {"rules": [{"kind": "http_503", "count": 1}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.SandboxHandle]:
    path = tmp_path_factory.mktemp("admin")
    populate(path)
    with embedded.start(path) as handle:
        yield handle


def _token(handle: embedded.SandboxHandle) -> str:
    return (Path(handle.data_dir) / "admin-token").read_text(encoding="ascii").strip()


def _auth(handle: embedded.SandboxHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(handle)}"}


def _rules(handle: embedded.SandboxHandle) -> list:
    answer = requests.get(f"{handle.admin_url}/faults", headers=_auth(handle), timeout=10)
    assert answer.status_code == 200
    return answer.json()["rules"]


@pytest.fixture(autouse=True)
def _no_rules_left(server: embedded.SandboxHandle) -> Iterator[None]:
    yield
    requests.post(f"{server.admin_url}/faults", json={}, headers=_auth(server), timeout=10)


@pytest.mark.parametrize("endpoint", ["faults", "stats", "graph", "graph-sent"])
def test_every_admin_endpoint_wants_the_token(server, endpoint):
    url = f"{server.admin_url}/{endpoint}"
    bare = requests.get(url, timeout=10)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10).status_code == 401
    # A mailbox account, even one with the impersonation right, is a tenant of the sandbox, not its admin.
    assert requests.get(url, auth=ADMIN, timeout=10).status_code == 401
    assert requests.get(url, auth=ALICE, timeout=10).status_code == 401
    assert requests.get(url, headers=_auth(server), timeout=10).status_code == 200


def test_posts_without_the_token_change_nothing(server):
    for endpoint, payload in (("faults", FAULT), ("graph", {"concurrency": 1})):
        answer = requests.post(f"{server.admin_url}/{endpoint}", json=payload, timeout=10)
        assert answer.status_code == 401
    assert _rules(server) == []
    graph = requests.get(f"{server.admin_url}/graph", headers=_auth(server), timeout=10).json()
    assert graph["concurrency"] == 4  # the default, untouched


def test_a_browser_text_plain_post_from_another_site_sets_no_fault(server):
    """What a page of another site can make a browser send: a 'simple' POST (text/plain, no preflight)."""
    import json

    answer = requests.post(
        f"{server.admin_url}/faults",
        data=json.dumps(FAULT),
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        timeout=10,
    )
    assert answer.status_code in (401, 403)
    assert _rules(server) == []


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:1"}, 403),  # a page of another service on this machine
        ({"Origin": "https://127.0.0.1"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "evil.example"}, 403),  # DNS rebinding: a foreign name resolving to 127.0.0.1
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ],
)
def test_cross_site_shapes_are_refused_even_with_the_token(server, headers, status):
    import json

    sent = {"Content-Type": "application/json", **_auth(server), **headers}
    answer = requests.post(f"{server.admin_url}/faults", data=json.dumps(FAULT), headers=sent, timeout=10)
    assert answer.status_code == status, answer.text
    assert _rules(server) == []


def test_the_admin_with_the_token_and_its_own_origin_sets_faults(server):
    port = server.url.split(":")[2].split("/")[0]
    headers = {**_auth(server), "Origin": f"http://127.0.0.1:{port}"}
    answer = requests.post(f"{server.admin_url}/faults", json=FAULT, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert [r["kind"] for r in _rules(server)] == ["http_503"]
    # and the handle every test uses sends the same token
    assert [r["kind"] for r in server.faults()["rules"]] == ["http_503"]
    assert server.set_faults({})["faults"]["rules"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_token_file_is_owner_only(server):
    mode = stat.S_IMODE(os.stat(Path(server.data_dir) / "admin-token").st_mode)
    assert mode == 0o600


def test_the_cli_without_the_token_says_so_in_one_line(tmp_path, capsys):
    from pipeline.cli.main import main

    data = tmp_path / "sandbox"
    populate(data)
    with embedded.start(data, in_process=True):
        (data / "admin-token").rename(tmp_path / "elsewhere")
        assert main(["sandbox", "stats", "--data", str(data), "--state", str(tmp_path / "state")]) == 2
        err = _cli_lines(capsys)
        assert len(err) == 1 and "admin token" in err[0]
        (data / "admin-token").write_text("wrong", encoding="ascii")
        assert main(["sandbox", "faults", "--clear", "--data", str(data), "--state", str(tmp_path / "state")]) == 2
        err = _cli_lines(capsys)
        assert len(err) == 1 and "refused (401)" in err[0]


def _cli_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What the CLI said (the in-process server's own log lines share stderr here)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("rebuild sandbox:")]
