"""Two writers, one mailbox: a run paused past its lease (SIGSTOP, as a suspended VM or laptop) while a second
run takes the mailbox over, then resumed; and the same with the second machine's wall clock 10 minutes off.

The lease is short here (8 s, request timeout 3 s) so each trial is bounded; the fixed trials of the default
run take about half a minute (all four pause trials, with `-m slow`, about a minute). The oracle is a plain exchangelib listing of every folder's stamps written here, against the
identities the fixture's items have; the runs' own words are only checked for their exit codes.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials, ExtendedProperty, FailFast
from exchangelib.folders import DEEP, FolderCollection
from exchangelib.items import Message

import fixtures
from pipeline.fingerprint import PROPERTY_NAME, PROPERTY_SET
from tests.conftest import own_sandbox, start_cli
from tests.e2e.connection import ews_args
from tests.e2e.kills import stored_items

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="SIGSTOP/SIGCONT are POSIX signals")

SERVICE, PASSWORD = "svc-fencing", "fencing-pw"
LEASE_S, TIMEOUT_S = 8, 3
SPEC = {
    "store": {"name": "Fencing trials", "seed": 21},
    "folders": [{"name": "Inbox", "role": "inbox"}],
    "bulk": [{"count": 240, "size_min": 400, "size_max": 1500, "folders": 2, "seed": 9, "parent": "Inbox"}],
}
FAULTS = {"seed": 7, "rules": [{"kind": "delay", "seconds": 0.15, "operations": ["CreateItem"]}]}


class Stamp(ExtendedProperty):
    """The rebuild's identity property, declared here with plain exchangelib."""

    property_set_id = PROPERTY_SET
    property_name = PROPERTY_NAME
    property_type = "String"


if "fencing_stamp" not in {f.name for f in Message.FIELDS}:
    Message.register("fencing_stamp", Stamp)


def server_stamps(url: str, mailbox: str) -> Counter:
    """Every stamped item of the mailbox, by identity (an identity seen twice is a doubled item)."""
    config = Configuration(
        service_endpoint=url, credentials=Credentials(SERVICE, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    found: Counter = Counter()
    for folder in FolderCollection(account=account, folders=[account.msg_folder_root]).find_folders(depth=DEEP):
        if isinstance(folder, Exception) or folder.folder_class not in (None, "IPF.Note"):
            continue
        found.update(v for v in folder.all().values_list("fencing_stamp", flat=True) if v)
    return found


def start(handle, state: Path, ost: Path, mailbox: str, skew_s: int = 0) -> subprocess.Popen[str]:
    env = {
        "REBUILD_PASSWORD": PASSWORD,
        "REBUILD_LEASE_SECONDS": str(LEASE_S),
        "REBUILD_EWS_REQUEST_TIMEOUT": str(TIMEOUT_S),
        "REBUILD_TEST_CLOCK_SKEW_S": str(skew_s),
        "REBUILD_BACKOFF_INITIAL": "0.05",
        "REBUILD_BACKOFF_MAX": "0.5",
    }
    connection = ews_args(handle, state, username=SERVICE, impersonate=True)
    run = ["run", "--ost", str(ost), "--mailbox", mailbox, *connection, "--batch-items", "4", "--log-level", "warning"]
    return start_cli(*run, env=env)


def wait_for_items(data: Path, mailbox: str, at_least: int, process: subprocess.Popen, limit: float = 60) -> None:
    """Until the sandbox holds `at_least` of the mailbox's items (read from its database: a cheap look, not the
    oracle), while the run is still going."""
    deadline = time.monotonic() + limit
    while stored_items(data, mailbox) < at_least:
        assert process.poll() is None, "the run ended before the trial could pause it"
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def ost_and_identities() -> tuple[Path, int]:
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    return ost, manifest.item_count


# (name, second run's wall-clock skew in seconds, resume the paused run while the second one still writes).
# The default run keeps one trial of each claim: a paused run resumed mid-takeover, and one resumed after a
# takeover by a run whose clock is 10 minutes behind (a taker trusting wall clocks would wait 10 minutes);
# a taker whose clock is ahead is the live-holder trial below (one trusting wall clocks would take a live
# holder's mailbox). The other two combinations run with `-m slow`.
SLOW = pytest.mark.slow
TRIALS = [
    pytest.param("paused, resumed mid-takeover", 0, True),
    pytest.param("paused, resumed after the takeover ended", 0, False, marks=SLOW),
    pytest.param("paused; the taker's clock 10 minutes ahead", 600, True, marks=SLOW),
    pytest.param("paused; the taker's clock 10 minutes behind", -600, False),
]


@pytest.mark.parametrize(("name", "skew", "resume_early"), TRIALS, ids=[t.values[0] for t in TRIALS])
def test_a_paused_run_never_writes_after_another_took_its_mailbox(
    tmp_path: Path, ost_and_identities, name: str, skew: int, resume_early: bool, monkeypatch: pytest.MonkeyPatch
):
    ost, total = ost_and_identities
    mailbox = "paused@corp.example"
    # The server drops a request whose next bytes stall past its idle timer (http.sys: 120 s, against the default
    # 300-s lease): here 3 s, so a request half sent when the run was paused can never land after the taker's
    # watch of an 8-s lease, as in production it cannot after a 300-s one.
    monkeypatch.setenv("REBUILD_SANDBOX_IDLE_S", str(TIMEOUT_S))
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [mailbox], faults=FAULTS) as (handle, data):
        first = start(handle, tmp_path / "first", ost, mailbox)
        wait_for_items(data, mailbox, 30, first)
        first.send_signal(signal.SIGSTOP)
        paused_at = time.monotonic()
        try:
            second = start(handle, tmp_path / "second", ost, mailbox, skew_s=skew)
            if resume_early:
                time.sleep(LEASE_S + 3)  # the taker has watched a full period and is writing by now (slowed)
            else:
                handle.set_faults({})  # the first is paused mid-upload: the taker need not be slowed to finish
                second.wait(timeout=180)
        finally:
            first.send_signal(signal.SIGCONT)
        out1, err1 = first.communicate(timeout=120)
        handle.set_faults({})  # the paused run has ended: the taker need not be slowed to finish
        out2, err2 = second.communicate(timeout=180)
        stamps = server_stamps(handle.url, mailbox)
    assert time.monotonic() - paused_at > LEASE_S
    assert second.returncode == 0, out2 + err2
    assert first.returncode != 0, f"the paused run claimed success: {out1}{err1}"
    assert "lease" in (out1 + err1), out1 + err1
    doubled = {k: n for k, n in stamps.items() if n > 1}
    assert not doubled, f"{name}: {len(doubled)} items doubled"
    assert len(stamps) == total, f"{name}: {total - len(stamps)} items missing"


def test_a_live_holder_is_never_taken_over_whatever_the_takers_clock_says(tmp_path: Path, ost_and_identities):
    """With the taker's wall clock 10 minutes ahead, the holder's record looks long expired: the taker still
    watches, sees it renewed, and stops with exit 3 having written nothing."""
    ost, total = ost_and_identities
    mailbox = "live@corp.example"
    with own_sandbox(tmp_path / "sandbox", {SERVICE: (PASSWORD, True)}, [mailbox], faults=FAULTS) as (handle, data):
        first = start(handle, tmp_path / "first", ost, mailbox)
        wait_for_items(data, mailbox, 10, first)
        second = start(handle, tmp_path / "second", ost, mailbox, skew_s=600)
        out2, err2 = second.communicate(timeout=120)
        handle.set_faults({})  # the taker has given up: the holder need not be slowed to finish
        out1, err1 = first.communicate(timeout=180)
        stamps = server_stamps(handle.url, mailbox)
    assert second.returncode == 3, out2 + err2
    assert "another run holds this mailbox" in out2 + err2
    assert first.returncode == 0, out1 + err1
    assert max(stamps.values()) == 1 and len(stamps) == total
