"""The user's settings restored (issue 23, categories and work hours over EWS): the CLI as a process against a
sandbox over HTTP; plain exchangelib reads the calendar's user configurations back and ElementTree parses
them here; the expected values come from libpff's bytes of the sample (an independent reader)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from exchangelib.errors import ErrorItemNotFound

from tests.conftest import own_sandbox, run_cli
from tests.e2e.conftest import ews_run
from tests.e2e.connection import ews_account
from tests.source.libpff_fai import associated_contents

SERVICE, PASSWORD = "svc-settings", "S3cret-for-settings"
ALICE, BOB = "alice@corp.example", "bob@corp.example"
NS = {"w": "WorkingHours.xsd"}
USER_OWN = (
    b'<?xml version="1.0" encoding="utf-8"?><categories xmlns="CategoryList.xsd">'
    b'<category name="red category" color="5" keyboardShortcut="0"/>'
    b'<category name="Server Only" color="2" keyboardShortcut="3"/></categories>'
)


@pytest.fixture
def sandbox(tmp_path: Path):
    with own_sandbox(tmp_path / "sandbox-data", {SERVICE: (PASSWORD, True)}, [ALICE, BOB]) as running:
        yield running


def account(handle, address: str):
    return ews_account(handle, address, username=SERVICE, password=PASSWORD)


def rebuild(handle, state: Path, ost: Path, mailbox: str, *args: str):
    return ews_run(
        handle, state, ost, mailbox, "--only", "role:calendar", *args, username=SERVICE, password=PASSWORD
    )  # the settings come from every folder whatever --only says


def categories(xml: bytes) -> dict[str, int]:
    return {e.get("name"): int(e.get("color")) for e in ET.fromstring(xml) if e.tag.endswith("category")}


@pytest.mark.samples
def test_categories_and_work_hours_restored_merged_and_left_alone_on_rerun(samples: Path, sandbox, tmp_path: Path):
    ost = samples / "SampleOstFile.ost"
    by_libpff = associated_contents(ost)
    if by_libpff is None:
        pytest.skip("libpff's shared library is not on this machine")
    [source_categories] = [v[0x7C08] for e in by_libpff.values() for c, v in e if c == "IPM.Configuration.CategoryList"]
    [source_hours] = [v[0x7C08] for e in by_libpff.values() for c, v in e if c == "IPM.Configuration.WorkHours"]
    expected = categories(source_categories)
    assert len(expected) == 6
    handle, _ = sandbox
    alice = account(handle, ALICE)
    alice.calendar.create_user_configuration(name="CategoryList", xml_data=USER_OWN)  # the user's own, first

    first = rebuild(handle, tmp_path / "state", ost, ALICE)
    assert first.returncode == 0, first.stderr
    actions = {s["setting"]: s for s in json.loads(first.stdout)["settings"]}
    assert actions["category_list"]["action"] == "merged" and actions["work_hours"]["action"] == "created"
    assert actions["category_list"]["kept"] == ["Red Category"]

    restored = alice.calendar.get_user_configuration(name="CategoryList")
    found = categories(restored.xml_data)
    assert found["red category"] == 5  # on the server already: keeps the user's colour (names compare as Outlook)
    assert found["Server Only"] == 2
    assert {k: v for k, v in found.items() if k not in ("red category", "Server Only")} == {
        k: v for k, v in expected.items() if k != "Red Category"
    }
    hours = alice.calendar.get_user_configuration(name="WorkHours").xml_data
    assert hours == source_hours  # byte for byte
    root = ET.fromstring(hours)
    assert root.findtext(".//w:TimeZone/w:Name", namespaces=NS) == "Pakistan Standard Time"
    assert (root.findtext(".//w:Start", namespaces=NS), root.findtext(".//w:End", namespaces=NS)) == (
        "08:00:00",
        "17:00:00",
    )

    before = {name: alice.calendar.get_user_configuration(name=name) for name in ("CategoryList", "WorkHours")}
    again = rebuild(handle, tmp_path / "state", ost, ALICE)
    assert again.returncode == 0, again.stderr
    assert {s["action"] for s in json.loads(again.stdout)["settings"]} <= {"kept", "not restored"}  # nothing written
    for name, config in before.items():  # property-level: same bytes, same change key (never written again)
        now = alice.calendar.get_user_configuration(name=name)
        assert (now.xml_data, now.changekey) == (config.xml_data, config.changekey), name


@pytest.mark.samples
def test_settings_none_and_a_list(samples: Path, sandbox, tmp_path: Path):
    handle, _ = sandbox
    ost = samples / "SampleOstFile.ost"
    none = rebuild(handle, tmp_path / "state-none", ost, BOB, "--settings", "none")
    assert none.returncode == 0, none.stderr
    assert json.loads(none.stdout)["settings"] == []
    bob = account(handle, BOB)
    for name in ("CategoryList", "WorkHours"):
        with pytest.raises(ErrorItemNotFound):
            bob.calendar.get_user_configuration(name=name)
    only = rebuild(handle, tmp_path / "state-none", ost, BOB, "--settings", "workhours")
    assert [s["setting"] for s in json.loads(only.stdout)["settings"]] == ["work_hours"]
    with pytest.raises(ErrorItemNotFound):
        bob.calendar.get_user_configuration(name="CategoryList")
    bad = run_cli(
        "run", "--ost", str(ost), "--mailbox", BOB, "--settings", "colours", "--state", str(tmp_path / "state-bad")
    )
    assert bad.returncode == 2 and "argument --settings: unknown setting 'colours'" in bad.stderr
    assert "Traceback" not in bad.stderr
    text = run_cli(
        "run",
        "--server",
        handle.url,
        "--username",
        SERVICE,
        "--impersonate",
        "--state",
        str(tmp_path / "state-none"),
        "--ost",
        str(ost),
        "--mailbox",
        BOB,
        "--settings",
        "all",
        "--only",
        "role:calendar",
        env={"REBUILD_PASSWORD": PASSWORD},
        timeout=600,
    )
    assert "setting category_list: created (added 6)" in text.stdout, text.stdout
    assert "setting work_hours: kept (kept 1); already restored" in text.stdout, text.stdout
