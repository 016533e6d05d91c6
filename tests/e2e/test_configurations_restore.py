"""The other configuration objects restored over EWS (issue 23: calendar, availability and other options): the CLI
as a process against a sandbox over HTTP. The expected parts come from libpff's bytes of each sample, the
roaming dictionary decoded here with ElementTree from [MS-OXOCFG] 2.2.5.1 (`<e k="18-name" v="9-15"/>`, the
prefix a System.TypeCode); what the server holds is read back with plain exchangelib, and the dictionary's EWS
types with a raw GetUserConfiguration written here. A rerun is compared by change key; a user's change is kept."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from exchangelib import Account
from exchangelib.errors import ErrorItemNotFound

from tests.conftest import own_sandbox
from tests.e2e.conftest import ews_run
from tests.e2e.connection import ews_account
from tests.source.libpff_fai import associated_contents

SERVICE, PASSWORD = "svc-configurations", "S3cret-for-configurations"
ALICE, BOB = "alice@corp.example", "bob@corp.example"
#: System.TypeCode -> (EWS dictionary type, how its text reads).
TYPES = {3: ("Boolean", lambda t: t == "True"), 9: ("Integer32", int), 18: ("String", str)}
#: The folder each sample's configuration sits in (its role), and what the restore must do with it.
RESTORED = {"Calendar", "AvailabilityOptions", "ConversationPrefs", "TCPrefs", "ContactPrefs", "RssRule"}
SERVER_OWNED = {"ELC", "MessageManager", "MigrationStatus"}
FOLDER = {"Inbox": "inbox", "Calendar": "calendar", "Contacts": "contacts"}
M, T = (
    "http://schemas.microsoft.com/exchange/services/2006/messages",
    "http://schemas.microsoft.com/exchange/services/2006/types",
)


@pytest.fixture
def sandbox(tmp_path: Path):
    with own_sandbox(tmp_path / "sandbox-data", {SERVICE: (PASSWORD, True)}, [ALICE, BOB]) as running:
        yield running


def account(handle, address: str):
    return ews_account(handle, address, username=SERVICE, password=PASSWORD)


def rebuild(handle, state: Path, ost: Path, mailbox: str):
    return ews_run(
        handle,
        state,
        ost,
        mailbox,
        "--only",
        "role:calendar",
        "--settings",
        "options",
        username=SERVICE,
        password=PASSWORD,
    )


def dictionary(raw: bytes) -> dict[str, tuple[str, object]]:
    """A roaming dictionary's entries: key -> (EWS type, value)."""
    out = {}
    for entry in ET.fromstring(raw).iter("e"):
        key_code, _, key = entry.get("k").partition("-")
        value_code, _, text = entry.get("v").partition("-")
        assert int(key_code) == 18
        ews_type, read = TYPES[int(value_code)]
        out[key] = (ews_type, read(text))
    return out


def source_configurations(path: Path) -> dict[str, tuple[str, dict[int, bytes]]]:
    """IPM.Configuration.<name> -> (the role of its folder, its streams), by libpff."""
    found = associated_contents(path)
    if found is None:
        pytest.skip("libpff's shared library is not on this machine")
    return {
        cls.removeprefix("IPM.Configuration."): (FOLDER.get(folder[-1], ""), streams)
        for folder, entries in found.items()
        for cls, streams in entries
        if cls.startswith("IPM.Configuration.")
    }


def wire_types(handle, mailbox: str, folder: str, name: str) -> dict[str, tuple[str, str]]:
    """GetUserConfiguration over plain HTTP: key -> (EWS type, value text) of its dictionary, as the server says."""
    body = (
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{M}" xmlns:t="{T}"><s:Header>'
        '<t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID>'
        f"<t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
        f'</s:Header><s:Body><m:GetUserConfiguration><m:UserConfigurationName Name="{name}">'
        f'<t:DistinguishedFolderId Id="{folder}"/></m:UserConfigurationName>'
        "<m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration></s:Body></s:Envelope>"
    )
    answer = requests.post(
        handle.url, data=body.encode(), auth=(SERVICE, PASSWORD), headers={"Content-Type": "text/xml"}, timeout=30
    )
    assert answer.status_code == 200, answer.text[:300]
    out = {}
    for entry in ET.fromstring(answer.content).iter(f"{{{T}}}DictionaryEntry"):
        key, value = entry.find(f"{{{T}}}DictionaryKey"), entry.find(f"{{{T}}}DictionaryValue")
        out[key.findtext(f"{{{T}}}Value")] = (value.findtext(f"{{{T}}}Type"), value.findtext(f"{{{T}}}Value"))
    return out


def check_restored(handle, alice: Account, mailbox: str, name: str, folder: str, streams: dict[int, bytes]) -> None:
    found = getattr(alice, folder).get_user_configuration(name=name)
    expected = dictionary(streams[0x7C07]) if streams.get(0x7C07) else {}
    assert dict(found.dictionary or {}) == {k: v for k, (_, v) in expected.items()}, name  # typed values
    assert (found.xml_data, found.binary_data) == (streams.get(0x7C08), streams.get(0x7C09)), name  # byte for byte
    on_wire = wire_types(handle, mailbox, folder, name)
    assert {k: t for k, (t, _) in on_wire.items()} == {k: t for k, (t, _) in expected.items()}, name


@pytest.mark.samples
def test_options_restored_byte_faithful_rerun_changes_nothing_user_change_kept(samples: Path, sandbox, tmp_path):
    handle, _ = sandbox
    ost = samples / "SampleOstFile.ost"
    source = source_configurations(ost)
    assert RESTORED <= set(source) and "ELC" in source
    first = rebuild(handle, tmp_path / "state", ost, ALICE)
    assert first.returncode == 0, first.stderr
    report = {s.get("name"): s for s in json.loads(first.stdout)["settings"] if s["setting"] == "configuration"}
    alice = account(handle, ALICE)
    for name in RESTORED:
        folder, streams = source[name]
        assert report[name]["action"] == "created" and report[name]["folder"] == folder, report[name]
        check_restored(handle, alice, ALICE, name, folder, streams)
    for name in SERVER_OWNED & set(source):  # left: listed with the reason, nothing on the server
        assert report[name]["action"] == "not restored" and "server" in report[name]["reason"], report[name]
        with pytest.raises(ErrorItemNotFound):
            getattr(alice, source[name][0]).get_user_configuration(name=name)

    alice.calendar.update_user_configuration(name="Calendar", dictionary={"piRemindDefault": 30})  # the user's own
    before = {n: getattr(alice, source[n][0]).get_user_configuration(name=n) for n in RESTORED}
    again = rebuild(handle, tmp_path / "state", ost, ALICE)
    assert again.returncode == 0, again.stderr
    settings = [s for s in json.loads(again.stdout)["settings"] if s["setting"] == "configuration"]
    assert {s["action"] for s in settings} <= {"kept", "not restored"}
    reasons = {s["name"]: s["reason"] for s in settings}
    assert "its own" in reasons["Calendar"] and reasons["AvailabilityOptions"] == "already restored"
    for name, config in before.items():  # never written again: same change key, same parts
        now = getattr(alice, source[name][0]).get_user_configuration(name=name)
        assert (now.changekey, now.dictionary, now.xml_data) == (config.changekey, config.dictionary, config.xml_data)
    assert alice.calendar.get_user_configuration(name="Calendar").dictionary == {"piRemindDefault": 30}


@pytest.mark.samples
def test_options_of_a_pst(samples: Path, sandbox, tmp_path):
    handle, _ = sandbox
    pst = samples / "Outlook.pst"
    source = source_configurations(pst)
    assert {"Calendar", "AvailabilityOptions", "RssRule", "HomeTimeZone"} <= set(source)
    done = rebuild(handle, tmp_path / "state", pst, BOB)
    assert done.returncode == 0, done.stderr
    report = {s.get("name"): s for s in json.loads(done.stdout)["settings"] if s["setting"] == "configuration"}
    bob = account(handle, BOB)
    for name, (folder, streams) in source.items():
        if name in RESTORED:
            assert report[name]["action"] == "created", report[name]
            check_restored(handle, bob, BOB, name, folder, streams)
        elif name == "HomeTimeZone" and not any(streams.get(p) for p in (0x7C07, 0x7C08, 0x7C09)):
            assert report[name]["action"] == "not restored" and "no data" in report[name]["reason"]
            with pytest.raises(ErrorItemNotFound):
                bob.calendar.get_user_configuration(name=name)
