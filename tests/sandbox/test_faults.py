"""Injected faults as exchangelib (fail-fast) experiences them, switched at run time through the admin API.

Each kind is checked for its effect on the client, its counter, and (for rates) its determinism under a seed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchangelib import IMPERSONATION, Folder, Message
from exchangelib.errors import (
    ErrorInternalServerTransientError,
    ErrorItemSave,
    ErrorMailboxStoreUnavailable,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    TransportError,
)

from pipeline.sandbox import embedded, views
from pipeline.sandbox.store import SandboxStore
from tests.sandbox.helpers import ADMIN, ALICE, BOB, connect, mime_message, populate

CONNECTION_FAILURES = (ErrorTimeoutExpired, ErrorServerBusy, TransportError, ConnectionError)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.SandboxHandle]:
    path: Path = tmp_path_factory.mktemp("faulty")
    populate(path)
    with embedded.start(path) as handle:
        yield handle


@pytest.fixture
def account(faulty):
    faulty.set_faults({})
    yield connect(faulty.url, ALICE)
    faulty.set_faults({})


def _messages(folder, n, tag="m"):
    return [Message(folder=folder, mime_content=mime_message(f"{tag}{i}", index=i)) for i in range(n)]


def test_throttle_answers_server_busy_with_back_off(faulty, account):
    """Ledger: throttle."""
    account.inbox  # noqa: B018 - settle folders before switching faults on
    faulty.set_faults({"rules": [{"kind": "throttle", "count": 1, "back_off_ms": 250, "operations": ["CreateItem"]}]})
    with pytest.raises(ErrorServerBusy) as caught:
        account.bulk_create(folder=account.inbox, items=_messages(account.inbox, 2))
    assert caught.value.back_off == 0.25
    assert len(account.bulk_create(folder=account.inbox, items=_messages(account.inbox, 2))) == 2
    assert faulty.faults()["injected"] == {"throttle": 1}


@pytest.mark.parametrize("kind", ["http_503", "http_500"])
def test_http_errors(faulty, account, kind):
    before = account.inbox.all().count()
    faulty.set_faults({"rules": [{"kind": kind, "count": 1}]})
    with pytest.raises((ErrorInternalServerTransientError, ErrorServerBusy)):
        account.inbox.all().count()
    assert account.inbox.all().count() == before  # the next request is answered as usual
    assert faulty.faults()["injected"] == {kind: 1}


def test_connection_reset(faulty, account):
    before = account.inbox.all().count()
    faulty.set_faults({"rules": [{"kind": "reset", "count": 1, "operations": ["FindItem"]}]})
    with pytest.raises(CONNECTION_FAILURES):
        account.inbox.all().count()
    assert account.inbox.all().count() == before
    assert faulty.faults()["injected"] == {"reset": 1}


def test_delay(faulty, account):
    account.inbox  # noqa: B018
    faulty.set_faults({"rules": [{"kind": "delay", "seconds": 0.6, "count": 1}]})
    started = time.monotonic()
    account.inbox.all().count()
    assert time.monotonic() - started >= 0.6


def test_item_errors_at_a_rate_are_deterministic(faulty, account, unique):
    folder = Folder(parent=account.inbox, name=f"rate-{unique}")
    folder.save()
    config = {"seed": 7, "rules": [{"kind": "item_error", "rate": 0.3, "code": "ErrorItemSave"}]}
    patterns = []
    for _ in range(2):
        faulty.set_faults(config)
        results = account.bulk_create(folder=folder, items=_messages(folder, 20))
        patterns.append([isinstance(r, ErrorItemSave) for r in results])
        assert faulty.faults()["injected"]["item_error"] == sum(patterns[-1])
    assert patterns[0] == patterns[1]
    assert 0 < sum(patterns[0]) < 20
    faulty.set_faults({})
    assert folder.all().count() == 2 * (20 - sum(patterns[0]))


def test_transient_item_error_is_the_default_code(faulty, account, unique):
    """Ledger: transient-item. exchangelib raises a transient per-item error for the whole call; the other items were stored."""
    folder = Folder(parent=account.inbox, name=f"transient-{unique}")
    folder.save()
    faulty.set_faults({"rules": [{"kind": "item_error", "count": 1}]})
    with pytest.raises((ErrorInternalServerTransientError, ErrorServerBusy)):
        account.bulk_create(folder=folder, items=_messages(folder, 3))
    assert folder.all().count() == 2


def test_commit_then_drop_stores_items_but_never_answers(faulty, account, unique):
    folder = Folder(parent=account.inbox, name=f"drop-{unique}")
    folder.save()
    faulty.set_faults({"rules": [{"kind": "commit_then_drop", "count": 1}]})
    with pytest.raises(CONNECTION_FAILURES):
        account.bulk_create(folder=folder, items=_messages(folder, 5, tag=f"drop-{unique}-"))
    stored = views.items(SandboxStore(faulty.data_dir), ALICE[0], ("Inbox", f"drop-{unique}"))
    assert sorted(s["subject"] for s in stored) == [f"drop-{unique}-{i}" for i in range(5)]
    assert faulty.stats()["faults"]["injected"] == {"commit_then_drop": 1}


def test_permanent_error_for_one_mailbox(faulty, account):
    before = account.inbox.all().count()
    faulty.set_faults({"rules": [{"kind": "error", "code": "ErrorMailboxStoreUnavailable", "mailbox": BOB[0]}]})
    bob = connect(faulty.url, ADMIN, address=BOB[0], access=IMPERSONATION)
    with pytest.raises(ErrorMailboxStoreUnavailable):
        bob.inbox.all().count()
    assert account.inbox.all().count() == before  # alice is not affected


def test_faults_given_at_start_and_from_the_file(tmp_path):
    import json

    populate(tmp_path)
    rules = {"rules": [{"kind": "throttle", "count": 1, "operations": ["GetFolder"]}]}
    with embedded.start(tmp_path, faults=rules) as handle:
        assert handle.faults()["rules"][0]["kind"] == "throttle"
        with pytest.raises(ErrorServerBusy):
            connect(handle.url, ALICE).inbox  # noqa: B018
    assert not (tmp_path / "faults.json").exists()  # run-time rules are not persisted
    (tmp_path / "faults.json").write_text(json.dumps({"rules": [{"kind": "http_503", "count": 1}]}))
    with embedded.start(tmp_path, in_process=True) as handle:
        assert handle.faults()["rules"][0]["kind"] == "http_503"
        handle.set_faults({})
    assert json.loads((tmp_path / "faults.json").read_text())["rules"][0]["kind"] == "http_503"


def test_bad_fault_config_is_refused(faulty):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as caught:
        faulty.set_faults({"rules": [{"kind": "meteor"}]})
    assert caught.value.code == 400


def test_fault_tolerant_client_rides_out_throttling(faulty, account, unique):
    """With exchangelib's FaultTolerance policy the back-off is honoured and the batch goes through once."""
    from exchangelib import Account as EwsAccount
    from exchangelib import Configuration, Credentials, FaultTolerance

    # exchangelib caches protocols per endpoint and credentials: use a login no fail-fast test used here
    config = Configuration(
        service_endpoint=faulty.url,
        credentials=Credentials(*BOB),
        auth_type="basic",
        retry_policy=FaultTolerance(max_wait=10),
    )
    patient = EwsAccount(BOB[0], config=config, autodiscover=False, access_type="delegate")
    folder = Folder(parent=patient.inbox, name=f"patient-{unique}")
    folder.save()
    faulty.set_faults({"rules": [{"kind": "throttle", "count": 2, "back_off_ms": 100, "operations": ["CreateItem"]}]})
    results = patient.bulk_create(folder=folder, items=_messages(folder, 3))
    assert not any(isinstance(r, Exception) for r in results)
    assert folder.all().count() == 3
    assert faulty.faults()["injected"] == {"throttle": 2}
