"""Posts, meeting messages and distribution lists with outside members arrive with their own EWS types and
classes, against a sandbox as strict as Exchange (class must fit the element, OneOff outside members, search
lag, EWSMaxConcurrency). Oracle: the fixture spec below and a plain exchangelib listing written here.
"""

from __future__ import annotations

import json
from pathlib import Path

from exchangelib import IMPERSONATION, Account, Configuration, Credentials, DistributionList, FailFast

import fixtures
from tests.conftest import own_sandbox, run_cli

SERVICE, PASSWORD, MAILBOX = "svc-types", "types-pw", "tess@corp.example"
CLASSES = {  # subject -> (message class in the OST, EWS element it must arrive as)
    "a post": ("IPM.Post", "PostItem"),
    "an invitation": ("IPM.Schedule.Meeting.Request", "MeetingRequest"),
    "a refusal": ("IPM.Schedule.Meeting.Resp.Neg", "MeetingResponse"),
    "a cancellation": ("IPM.Schedule.Meeting.Canceled", "MeetingCancellation"),
    "a forward notice": ("IPM.Schedule.Meeting.Notification.Forward", "MeetingMessage"),
    "a plain mail": ("IPM.Note", "Message"),
}
MEMBERS = ["Ann Outside <ann@example.com>", "Tess Inside <tess@corp.example>"]
SPEC = {
    "store": {"name": "Item types", "seed": 8},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {
                    "kind": "mail",
                    "subject": subject,
                    "message_class": cls,
                    "sender": "Bob <bob@example.com>",
                    "body": f"body of {subject}",
                }
                for subject, (cls, _) in CLASSES.items()
            ],
        },
        {
            "name": "Contacts",
            "role": "contacts",
            "items": [{"kind": "distlist", "subject": "Mixed list", "members": MEMBERS}],
        },
    ],
}
STRICT = {"search_lag_s": 2, "max_concurrency": 10, "rules": []}


def test_posts_meetings_and_lists_arrive_as_their_own_types(tmp_path: Path):
    ost = fixtures.cached(SPEC, format="ost")
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [MAILBOX], faults=STRICT) as (handle, _):
        done = run_cli(
            "run",
            "--ost",
            str(ost),
            "--mailbox",
            MAILBOX,
            "--server",
            handle.url,
            "--username",
            SERVICE,
            "--impersonate",
            "--state",
            str(tmp_path / "state"),
            "--json",
            env={"REBUILD_PASSWORD": PASSWORD},
        )
        config = Configuration(
            service_endpoint=handle.url, credentials=Credentials(SERVICE, PASSWORD), retry_policy=FailFast()
        )
        account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
        arrived = {
            i.subject: (i.item_class, type(i).__name__) for i in account.inbox.all().only("subject", "item_class")
        }
        lists = [c for c in account.contacts.all() if isinstance(c, DistributionList)]
        stats = handle.stats()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["failed_total"] == 0 and summary["uploaded"] == len(CLASSES) + 1
    assert "plain message" not in done.stdout, "no class may fall back to a plain message"
    assert arrived == {subject: (cls, element) for subject, (cls, element) in CLASSES.items()}
    [dl] = lists
    assert sorted((m.mailbox.name, m.mailbox.email_address, m.mailbox.mailbox_type) for m in dl.members) == [
        ("Ann Outside", "ann@example.com", "OneOff"),
        ("Tess Inside", "tess@corp.example", "OneOff"),
    ]
    assert stats["schema_violations"] == 0
    assert not stats["counters"].get("error:ErrorExceededConnectionCount")
