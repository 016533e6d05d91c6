"""Fidelity on the files users have: Exchange senders, ANSI code pages, drafts, date-only values.

Each test builds a fixture from its spec (fixtures/specs/*.toml), runs the CLI as a process against a
sandbox over HTTP, and reads the mailbox back with plain exchangelib calls written here; the expected
values come from the spec, never from the project's reader or converter.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib.folders import Contacts, Drafts, Inbox, Outbox, SentItems, Tasks

import fixtures
from tests.conftest import own_sandbox, run_cli
from tests.e2e.conftest import ews_cli

OWNER, PASSWORD = "owen@corp.example", "fidelity-pw"
SPECS = Path(fixtures.__file__).parent / "specs"
CAROL_DN = "/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=carol"


def spec(name: str) -> dict[str, Any]:
    with (SPECS / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


def account(handle: Any) -> Account:
    config = Configuration(
        service_endpoint=handle.url, credentials=Credentials(OWNER, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    return Account(OWNER, config=config, autodiscover=False, access_type=DELEGATE)


def rebuild(handle: Any, state: Path, ost: Path, *extra: str) -> dict[str, Any]:
    result = ews_cli(
        handle,
        state,
        "run",
        "--ost",
        str(ost),
        "--mailbox",
        OWNER,
        "--log-level",
        "warning",
        "--json",
        *extra,
        username=OWNER,
        password=PASSWORD,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def by_subject(folder: Any) -> dict[str, Any]:
    return {item.subject: item for item in folder.all()}


def test_exchange_senders_resolve_through_the_store(tmp_path: Path, sandbox):
    handle, _ = sandbox
    ost = fixtures.cached("exchange-senders", format="ost")
    summary = rebuild(handle, tmp_path / "state", ost, "--x500-domain", "x500.corp.example")
    acc = account(handle)
    inbox = by_subject(acc.root.get_default_folder(Inbox))
    sent = by_subject(acc.root.get_default_folder(SentItems))
    # Carol's SMTP address is cached only on a Cc row of another item: the book finds it.
    assert inbox["Notes from Carol"].author.email_address == "carol@corp.example"
    assert inbox["Notes from Carol"].author.name == "Carol Colleague"
    # Nobody knows the ghost: IMCEAEX in the given domain, which Exchange resolves to the X500 proxy.
    ghost = inbox["From someone who left"].author.email_address
    assert ghost.startswith("IMCEAEX-_o=Corp_ou=Exchange") and ghost.endswith("_cn=ghost@x500.corp.example")
    # The owner's DN is cached with no SMTP address anywhere: it is the mailbox's; From is never lost,
    # even when the represented party is cached by name alone.
    for subject in ("Report for Carol", "Reply to the outside"):
        assert sent[subject].author is not None, subject
        assert (sent[subject].author.name, sent[subject].author.email_address) == ("Owen Owner", OWNER)
    # The upper-case spelling of Carol's DN on a recipient row is the same person.
    assert [r.email_address for r in sent["Report for Carol"].to_recipients] == ["carol@corp.example"]
    # Counted from the spec: Carol as sender and represented (2) and on a To row (1); Owen as sender twice and
    # represented once (the other is a name only) and on a To row (1); the ghost twice; Carol's cached Cc row.
    assert summary["addresses"] == {"address book": 3, "mailbox owner": 4, "imceaex": 2, "cached smtp": 1}


def test_sample_ost_sent_items_keep_their_sender(tmp_path: Path, sandbox, samples: Path):
    """The real cached-mode OST: every Sent Item keeps a From (4 of 6 lost it before)."""
    handle, _ = sandbox
    rebuild(handle, tmp_path / "state", samples / "SampleOstFile.ost")
    items = list(account(handle).root.get_default_folder(SentItems).all())
    assert len(items) == 6
    assert {(i.author.name, i.author.email_address) for i in items if i.author} == {
        ("Saqib Razzaq", "saqib.razzaq@ex2010.local")
    }
    assert all(i.author for i in items), [i.subject for i in items if not i.author]


def test_unsent_mail_arrives_as_drafts_and_received_mail_never(tmp_path: Path, sandbox):
    handle, _ = sandbox
    summary = rebuild(handle, tmp_path / "state", fixtures.cached("drafts", format="pst"))
    root = account(handle).root
    drafts = by_subject(root.get_default_folder(Drafts))
    outbox = by_subject(root.get_default_folder(Outbox))
    inbox = by_subject(root.get_default_folder(Inbox))
    # Mail written offline and left in the Outbox becomes a draft the user sees in Drafts, never sent.
    assert {s: i.is_draft for s, i in drafts.items()} == {
        "Draft with foreign headers": True,
        "Plain draft": True,
        "Waiting in the Outbox": True,
    }
    assert outbox == {}
    assert {s: i.is_draft for s, i in inbox.items()} == {
        "Delivered, flagged unsent by an import tool": False,
        "Ordinary received mail": False,
    }
    assert sorted(d["subject"] for d in summary["drafts"]) == [
        "Draft with foreign headers",
        "Plain draft",
        "Waiting in the Outbox",
    ]


@pytest.mark.parametrize("name", ["ansi-cp932", "ansi-cp1251"])
def test_ansi_store_strings_decode_in_their_code_page(tmp_path: Path, sandbox, name: str):
    handle, _ = sandbox
    expected = spec(name)
    summary = rebuild(handle, tmp_path / "state", fixtures.cached(name, format="ansi"))
    root = account(handle).root
    for folder_spec in expected["folders"]:
        if folder_spec.get("role") == "inbox":
            folder = root.get_default_folder(Inbox)
        else:
            folder = root.get_default_folder(Inbox).parent / folder_spec["name"]
        items = by_subject(folder)
        assert sorted(items) == sorted(i["subject"] for i in folder_spec["items"])
        for item_spec in folder_spec["items"]:
            item = items[item_spec["subject"]]
            assert item_spec["body"] in item.text_body
            sender_name = item_spec["sender"].split(" <")[0]
            assert item.author.name == sender_name
    # The folder names carry no code page: the store's dominant one was guessed, and the report says so.
    assert summary["codepage"].startswith(f"cp{expected['store']['codepage']} (the code page most items name")


def test_date_only_values_keep_the_users_date(tmp_path: Path, sandbox):
    handle, _ = sandbox
    rebuild(handle, tmp_path / "state", fixtures.cached("dates", format="pst"))
    root = account(handle).root
    contacts = {c.surname: c for c in root.get_default_folder(Contacts).all()}
    assert contacts["Tokyo"].birthday == date(1990, 6, 15)
    assert contacts["Tokyo"].wedding_anniversary == date(2015, 10, 10)
    assert contacts["Local"].birthday == date(1985, 2, 1)
    assert contacts["Local"].wedding_anniversary == date(2010, 5, 20)
    assert contacts["Honolulu"].birthday == date(1970, 3, 3)
    (task,) = root.get_default_folder(Tasks).all()
    assert (task.start_date, task.due_date) == (date(2024, 3, 4), date(2024, 3, 8))


ORG = "/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="


def _user_ost(user: str, other: str) -> Path:
    """An OST whose owner `user` sent one mail, and received one from `other`, whose SMTP address this
    OST never caches (only the other user's own OST knows that DN is theirs)."""
    spec = {
        "store": {"name": f"{user} mailbox", "seed": 31},
        "folders": [
            {
                "name": "Inbox",
                "role": "inbox",
                "items": [
                    {
                        "subject": f"Hello from {other}",
                        "body": "internal",
                        "headers": False,
                        "sender": {"name": other.title(), "email": ORG + other},
                    }
                ],
            },
            {
                "name": "Sent Items",
                "role": "sentitems",
                "items": [
                    {
                        "subject": f"Sent by {user}",
                        "body": "mine",
                        "sender": {"name": user.title(), "email": ORG + user},
                        "to": ["Outside <someone@example.net>"],
                    }
                ],
            },
        ],
    }
    return fixtures.cached(spec, format="ost")


def test_map_shares_the_address_book_across_the_site(tmp_path: Path):
    users = {"anna": "bert", "bert": "anna"}
    csv_path = tmp_path / "users.csv"
    csv_path.write_text(
        "ost,mailbox\n" + "".join(f"{_user_ost(u, o)},{u}@corp.example\n" for u, o in users.items()), encoding="utf-8"
    )
    with own_sandbox(tmp_path / "data", {"svc": ("svc-pw", True)}, [f"{u}@corp.example" for u in users]) as (handle, _):
        result = run_cli(
            "--map",
            str(csv_path),
            "--server",
            handle.url,
            "--username",
            "svc",
            "--impersonate",
            "--state",
            str(tmp_path / "state"),
            "--log-level",
            "warning",
            "--workers",
            "1",
            env={"REBUILD_PASSWORD": "svc-pw"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        config = Configuration(
            service_endpoint=handle.url,
            credentials=Credentials("svc", "svc-pw"),
            auth_type=NTLM,
            retry_policy=FailFast(),
        )
        for user, other in users.items():
            acc = Account(f"{user}@corp.example", config=config, autodiscover=False, access_type="impersonation")
            (mail,) = acc.root.get_default_folder(Inbox).all()
            # The other user's DN is known only to the other user's OST: it resolves to their new mailbox.
            assert (mail.subject, mail.author.email_address) == (f"Hello from {other}", f"{other}@corp.example")


def test_export_gives_sent_items_their_sender(tmp_path: Path, samples: Path):
    """`rebuild export` resolves senders through the same book: every exported Sent Item has a From."""
    import email
    import email.policy

    result = run_cli("export", "--ost", str(samples / "SampleOstFile.ost"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    sent = sorted((tmp_path / "out" / "Sent Items").glob("*.eml"))
    assert len(sent) == 6
    for path in sent:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["From"].addresses[0].addr_spec == "saqib.razzaq@ex2010.local", path.name
