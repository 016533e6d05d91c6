"""The folder recreator against the sandbox: reruns create nothing twice, and a name already taken by a
folder of another class is resolved by the documented rule ('Name (kind)' beside it)."""

from __future__ import annotations

from pathlib import Path

from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials, FailFast, Folder

import fixtures
from pipeline.sandbox import views
from pipeline.sandbox.store import SandboxStore
from tests.conftest import run_cli

USER, PASSWORD = "gina@corp.example", "folders-pw"
SPEC = {
    "store": {"name": "folders", "seed": 9},
    "folders": [
        {"name": "Inbox", "role": "inbox"},
        {
            "name": "Projekte",
            "items": [{"kind": "mail", "subject": "Plan", "body": "plan"}],
            "folders": [{"name": "Alt", "items": [{"kind": "mail", "subject": "Old plan", "body": "old"}]}],
        },
    ],
}


def tree(data: Path) -> dict[str, tuple[str, int]]:
    store = SandboxStore(data)
    try:
        return {"/".join(f["path"]): (f["folder_class"], f["item_count"]) for f in views.folder_tree(store, USER)}
    finally:
        store.close()


def test_class_conflict_gets_a_sibling_and_reruns_reuse_it(tmp_path: Path, sandbox):
    handle, data = sandbox
    account = Account(
        USER,
        config=Configuration(
            service_endpoint=handle.url,
            credentials=Credentials(USER, PASSWORD),
            auth_type=NTLM,
            retry_policy=FailFast(),
        ),
        autodiscover=False,
        access_type=DELEGATE,
    )
    Folder(parent=account.msg_folder_root, name="projekte", folder_class="IPF.Appointment").save()
    ost = fixtures.cached(SPEC, format="ost")
    args = (
        "run",
        "--ost",
        str(ost),
        "--mailbox",
        USER,
        "--server",
        handle.url,
        "--username",
        USER,
        "--state",
        str(tmp_path / "state"),
        "--log-level",
        "warning",
    )
    first = run_cli(*args, env={"REBUILD_PASSWORD": PASSWORD})
    assert first.returncode == 0, first.stdout + first.stderr
    folders = tree(data)
    assert folders["projekte"] == ("IPF.Appointment", 0), "the user's calendar folder is left alone"
    assert folders["Projekte (mail)"] == ("IPF.Note", 1)
    assert folders["Projekte (mail)/Alt"] == ("IPF.Note", 1)
    (tmp_path / "state" / "journal.sqlite").unlink()
    again = run_cli(*args, env={"REBUILD_PASSWORD": PASSWORD})
    assert again.returncode == 0, again.stdout + again.stderr
    assert tree(data) == folders, "a rerun without journal creates no folder and no item twice"


def test_names_exchange_keeps_apart_stay_apart(tmp_path: Path, sandbox):
    """Ledger: folder-names. 'Straße' and 'Strasse' (equal under Python's casefold, apart for Exchange) and a
    name with a trailing space each get a server folder of their own, on the first run and on a rerun. The
    client trims surrounding spaces itself (folder_plan.py, the same on every run), so 'Archiv ' and
    'Archiv' become siblings 'Archiv' and 'Archiv (2)'."""
    handle, data = sandbox
    spec = {
        "store": {"name": "names", "seed": 12},
        "folders": [
            {"name": "Inbox", "role": "inbox"},
            {"name": "Straße", "items": [{"kind": "mail", "subject": "eszett", "body": "a"}]},
            {"name": "Strasse", "items": [{"kind": "mail", "subject": "double s", "body": "b"}]},
            {"name": "Archiv ", "items": [{"kind": "mail", "subject": "trailing space", "body": "c"}]},
            {"name": "Archiv", "items": [{"kind": "mail", "subject": "no space", "body": "d"}]},
        ],
    }
    ost = fixtures.cached(spec, format="ost")
    args = (
        "run",
        "--ost",
        str(ost),
        "--mailbox",
        USER,
        "--server",
        handle.url,
        "--username",
        USER,
        "--state",
        str(tmp_path / "state"),
        "--log-level",
        "warning",
    )
    for _ in range(2):
        done = run_cli(*args, env={"REBUILD_PASSWORD": PASSWORD})
        assert done.returncode == 0, done.stdout + done.stderr
        folders = tree(data)
        assert {name: folders.get(name) for name in ("Straße", "Strasse", "Archiv", "Archiv (2)")} == {
            "Straße": ("IPF.Note", 1),
            "Strasse": ("IPF.Note", 1),
            "Archiv": ("IPF.Note", 1),
            "Archiv (2)": ("IPF.Note", 1),
        }
