"""The server as a process: restarts keep data, loopback-only binding, schema validation, the CLI commands.

CLI commands run in-process through pipeline.cli.main, the way the rebuild entry point dispatches them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from exchangelib import Folder, Message
from exchangelib.errors import ErrorSchemaValidation

from pipeline.sandbox import embedded
from pipeline.sandbox.ews import schema
from tests.sandbox.helpers import ALICE, connect, mime_message, needs_schema, populate, schema_present

REPO = embedded.REPO_ROOT


def test_restart_keeps_data(tmp_path):
    populate(tmp_path)
    with embedded.start(tmp_path) as first:
        account = connect(first.url, ALICE)
        folder = Folder(parent=account.inbox, name="Kept")
        folder.save()
        account.bulk_create(folder=folder, items=[Message(folder=folder, mime_content=mime_message("kept"))])
        pid = first.pid
    assert pid is not None
    with pytest.raises(OSError):
        os.kill(pid, 0)  # the child is gone, not orphaned
    with embedded.start(tmp_path) as second:
        account = connect(second.url, ALICE)
        folder = account.inbox / "Kept"
        assert [m.subject for m in folder.all().only("subject")] == ["kept"]


def test_child_dies_with_its_parent(tmp_path):
    """A parent that dies without stopping the handle must not leave the server running."""
    script = (
        f"import sys, time; sys.path.insert(0, {str(REPO)!r}); from pipeline.sandbox import embedded; "
        f"h = embedded.start({str(tmp_path)!r}); print(h.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    import time

    for _ in range(50):
        try:
            os.kill(child_pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.kill(child_pid, 9)
        pytest.fail("sandbox child outlived its parent")


def test_serve_refuses_non_loopback_host(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.sandbox",
            "serve",
            "--data",
            str(tmp_path),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


@needs_schema
def test_schema_violation_is_answered_and_counted(tmp_path):
    """Ledger: schema."""
    populate(tmp_path)
    with embedded.start(tmp_path, in_process=True) as handle:
        body = (
            '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
            "<s:Body><m:GetFolder><m:Bogus/></m:GetFolder></s:Body></s:Envelope>"
        )
        answer = requests.post(handle.url, data=body.encode(), auth=ALICE, timeout=30)
        assert answer.status_code == 500
        assert "ErrorSchemaValidation" in answer.text
        assert handle.stats()["schema_violations"] == 1
        # exchangelib maps the fault to its own exception class
        from exchangelib.services.common import EWSService
        from lxml import etree

        with pytest.raises(ErrorSchemaValidation):
            EWSService._raise_soap_errors(
                etree.fromstring(answer.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
            )


def test_schema_absent_means_validation_off(monkeypatch, tmp_path):
    monkeypatch.setenv(schema.ENV_VAR, str(tmp_path / "nowhere"))
    monkeypatch.setattr(schema, "_loaded", False)
    monkeypatch.setattr(schema, "_schema", None)
    assert schema.validate(None) is None  # type: ignore[arg-type]
    assert not schema.available()


def test_zero_schema_violations_after_exchangelib_traffic(sandbox):
    if not schema.schema_dir():
        pytest.skip("EWS schema not found (../shared/ews-schema or REBUILD_EWS_SCHEMA): nothing was validated")
    stats = sandbox.stats()
    assert stats["schema_validation"] is True
    assert stats["schema_violations"] == 0
    assert stats["counters"].get("unknown_operations", 0) == 0


def _cli(*args: str) -> int:
    from pipeline.cli.main import main

    return main(list(args))


def test_cli_commands(tmp_path, monkeypatch, capsys):
    state = str(tmp_path / "state")
    monkeypatch.setenv("REBUILD_SANDBOX_PASSWORD", "s3cret")
    assert _cli("sandbox", "add-mailbox", "dave@sandbox.local", "--name", "Dave", "--state", state) == 0
    assert _cli("sandbox", "add-account", "dave@sandbox.local", "--state", state) == 0
    assert _cli("sandbox", "add-account", "svc@sandbox.local", "--impersonation", "--state", state) == 0
    capsys.readouterr()
    assert _cli("sandbox", "ls", "--json", "--state", state) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["mailboxes"] == [{"address": "dave@sandbox.local", "display_name": "Dave"}]
    assert {"username": "svc@sandbox.local", "impersonation": True} in listing["accounts"]
    assert "s3cret" not in json.dumps(listing)

    data = tmp_path / "state" / "sandbox"
    with embedded.start(data) as handle:
        account = connect(handle.url, ("dave@sandbox.local", "s3cret"))
        account.bulk_create(
            folder=account.inbox, items=[Message(folder=account.inbox, mime_content=mime_message("cli"))]
        )
        assert _cli("sandbox", "faults", "--set", '{"rules": [{"kind": "delay", "seconds": 0}]}', "--state", state) == 0
        assert handle.faults()["rules"][0]["kind"] == "delay"
        assert _cli("sandbox", "faults", "--clear", "--state", state) == 0
        assert handle.faults()["rules"] == []
        capsys.readouterr()
        assert _cli("sandbox", "stats", "--state", state) == 0
        stats = json.loads(capsys.readouterr().out)
        assert stats["running"] == handle.url and stats["counters"]["op:CreateItem"] == 1
    capsys.readouterr()
    assert _cli("sandbox", "ls", "--mailbox", "dave@sandbox.local", "--json", "--state", state) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [i["subject"] for i in shown["items"]] == ["cli"]
    assert any(f["distinguished_id"] == "inbox" and f["item_count"] == 1 for f in shown["folders"])
    assert _cli("sandbox", "ls", "--mailbox", "dave@sandbox.local", "--state", state) == 0
    assert "cli" in capsys.readouterr().out


def test_load_accounts_and_mailboxes_from_a_file(tmp_path, monkeypatch, capsys):
    from pipeline.sandbox.store import SandboxStore

    spec = tmp_path / "users.toml"
    spec.write_text(
        '[[mailboxes]]\naddress = "erin@sandbox.local"\nname = "Erin"\n\n'
        '[[accounts]]\nusername = "svc@sandbox.local"\npassword_env = "SVC_PW"\nimpersonation = true\n'
    )
    state = str(tmp_path / "state")
    assert _cli("sandbox", "load", str(spec), "--state", state) == 2  # SVC_PW not set yet
    monkeypatch.setenv("SVC_PW", "pw")
    assert _cli("sandbox", "load", str(spec), "--state", state) == 0
    store = SandboxStore(tmp_path / "state" / "sandbox")
    assert store.has_mailbox("erin@sandbox.local")
    assert store.check_password("svc@sandbox.local", "pw").impersonation


def _soap(url: str, body: str) -> requests.Response:
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return requests.post(
        url,
        data=envelope.encode(),
        auth=ALICE,
        timeout=30,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )


def test_unknown_operation_is_invalid_request_and_counted(tmp_path):
    populate(tmp_path)
    with embedded.start(tmp_path, in_process=True) as handle:
        answer = _soap(handle.url, "<m:GetRoomLists/>")
        assert answer.status_code == 200
        assert "<m:ResponseCode>ErrorInvalidRequest</m:ResponseCode>" in answer.text
        assert "ServerVersionInfo" in answer.text
        assert handle.stats()["counters"]["unknown_operations"] == 1


def test_deep_find_folder_pages(sandbox):
    import re

    def page(offset: int) -> str:
        return _soap(
            sandbox.url,
            (
                '<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>'
                f'<m:IndexedPageFolderView MaxEntriesReturned="10" Offset="{offset}" BasePoint="Beginning"/>'
                '<m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>'
            ),
        ).text

    first = page(0)
    total = int(re.search(r'TotalItemsInView="(\d+)"', first).group(1))
    assert total > 40 and first.count("<t:FolderId ") == 10
    assert 'IndexedPagingOffset="10"' in first and 'IncludesLastItemInRange="false"' in first
    last = page(total - 3)
    assert last.count("<t:FolderId ") == 3 and 'IncludesLastItemInRange="true"' in last


def test_the_schema_beside_the_repository_is_found():
    """The shared EWS schema, found from the tests' own place: when it is there, the sandbox must find it
    too (a move of schema.py once made it look one folder too high, and validation went off in silence)."""
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "ews-schema"
    if not shared.is_dir():
        pytest.skip(f"no EWS schema at {shared}")
    assert schema_present(), f"the sandbox does not find the schema at {shared}"
