"""The in-doubt check before a resend, against a sandbox whose restricted searches lag (as Exchange's can):
a batch the server committed but never answered is found by the unrestricted read-back, so nothing is stored
twice. Oracle: the sandbox's own store, read directly, and the fault counters.
"""

from __future__ import annotations

from pathlib import Path

from exchangelib import IMPERSONATION, Account, Configuration, Credentials, FailFast

from pipeline.destination.ews.retry import RetryPolicy
from pipeline.destination.ews.upload import Uploader
from pipeline.model import UploadItem
from tests.conftest import own_sandbox, sandbox_items

FP_KEY = "name:74594eaa-9d20-45ad-b806-df062a3740a3:RebuildFingerprint"
MAILBOX = "lag@corp.example"


def upload(n: int) -> UploadItem:
    mime = f"Subject: lag {n}\r\nMessage-ID: <lag{n}@example.com>\r\n\r\nbody {n}\r\n".encode()
    return UploadItem(
        kind="message",
        item_class="IPM.Note",
        folder_path=("Inbox",),
        identity=f"lag-fp{n}",
        subject=f"lag {n}",
        source_node_id=n,
        mime=mime,
    )


def test_commit_then_drop_under_search_lag_makes_no_duplicate(tmp_path: Path):
    faults = {"search_lag_s": 30, "rules": [{"kind": "commit_then_drop", "count": 1, "operations": ["CreateItem"]}]}
    with own_sandbox(tmp_path / "sb", {"svc": ("pw", True)}, [MAILBOX], faults=faults, in_process=True) as (
        handle,
        data,
    ):
        config = Configuration(
            service_endpoint=handle.url, credentials=Credentials("svc", "pw"), retry_policy=FailFast()
        )
        account = Account(MAILBOX, config=config, autodiscover=False, access_type=IMPERSONATION)
        outcomes: list = []
        uploader = Uploader(account, outcomes.extend, RetryPolicy(max_attempts=4, initial=0.01, maximum=0.02))
        uploader.send(account.inbox, [upload(1), upload(2), upload(3)])
        injected = handle.faults()["injected"]
    stored = [i["extended_properties"].get(FP_KEY) for i in sandbox_items(data, MAILBOX, ("Inbox",))]
    assert injected == {"commit_then_drop": 1}
    assert sorted(stored) == ["lag-fp1", "lag-fp2", "lag-fp3"]
    assert sorted(o.state for o in outcomes) == ["present", "present", "present"]
