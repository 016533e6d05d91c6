"""The plan for the other configuration objects (pipeline/convert/user_settings/options.py), judged against
dictionaries written here by hand from [MS-OXOCFG] 2.2.5.1 and the EWS types they must travel as."""

from __future__ import annotations

from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.merge import ServerConfiguration, SettingAction
from pipeline.convert.user_settings.options import decision, plan_option
from pipeline.model import SourceItem

CALENDAR = (
    b'<?xml version="1.0"?><UserConfiguration><Info version="Outlook.12"/><Data>'
    b'<e k="18-piAutoProcess" v="3-True"/><e k="18-piRemindDefault" v="9-15"/>'
    b'<e k="18-piBig" v="11-8589934592"/><e k="18-piName" v="18-a &amp; b"/></Data></UserConfiguration>'
)


def message(cls: str, streams: dict[int, bytes], folder: str = "Calendar"):
    return read_setting(SourceItem(1, (folder,), cls, {0x001A: cls, **streams}, {}, [], [], associated=True))


def test_restored_with_each_value_typed_as_written():
    option = plan_option(message("IPM.Configuration.Calendar", {0x7C07: CALENDAR}), "calendar", None)
    assert option.plan.action is SettingAction.CREATE
    assert (option.plan.target.folder, option.plan.target.name) == ("calendar", "Calendar")
    written = {k.value: (v.ews_type, v.value) for k, v in option.dictionary}
    assert written == {
        "piAutoProcess": ("Boolean", True),
        "piRemindDefault": ("Integer32", 15),
        "piBig": ("Integer64", 8589934592),
        "piName": ("String", "a & b"),
    }
    assert {k.ews_type for k, _ in option.dictionary} == {"String"}
    assert option.xml is None and option.binary is None


def test_a_mailbox_that_has_one_keeps_it():
    source = message("IPM.Configuration.Calendar", {0x7C07: CALENDAR})
    ours = {"piAutoProcess": True, "piRemindDefault": 15, "piBig": 8589934592, "piName": "a & b"}
    again = plan_option(source, "calendar", ServerConfiguration(values=ours))
    assert (again.plan.action, again.plan.reason, again.dictionary) == (SettingAction.KEEP, "already restored", None)
    changed = plan_option(source, "calendar", ServerConfiguration(values={**ours, "piRemindDefault": 30}))
    assert changed.plan.action is SettingAction.KEEP and "its own" in changed.plan.reason


def test_what_cannot_be_written_as_read_is_left_with_its_reason():
    out_of_range = CALENDAR.replace(b"9-15", b"9-4294967296")
    plan = plan_option(message("IPM.Configuration.Calendar", {0x7C07: out_of_range}), "calendar", None).plan
    assert plan.action is SettingAction.SKIP and "out of range for Integer32" in plan.reason
    unknown_type = CALENDAR.replace(b"9-15", b"99-15")
    plan = plan_option(message("IPM.Configuration.Calendar", {0x7C07: unknown_type}), "calendar", None).plan
    assert plan.action is SettingAction.SKIP and "type code 99" in plan.reason
    empty = plan_option(message("IPM.Configuration.HomeTimeZone", {}), "calendar", None).plan
    assert empty.action is SettingAction.SKIP and "no data" in empty.reason
    nowhere = plan_option(message("IPM.Configuration.Calendar", {0x7C07: CALENDAR}, "Mine"), None, None).plan
    assert nowhere.action is SettingAction.SKIP and "Mine" in nowhere.reason
    broken = plan_option(message("IPM.Configuration.Calendar", {0x7C07: b"<not xml"}), "calendar", None).plan
    assert broken.action is SettingAction.SKIP and broken.reason.startswith("unreadable")


def test_which_are_restored():
    assert decision("calendar")[0] and decision("AvailabilityOptions")[0]
    for name in ("ELC", "MessageManager", "MigrationStatus", "OWA.UserOptions", "SomethingNew"):
        assert not decision(name)[0], name
    assert "Managed Folder Assistant" in decision("ELC")[1]
    assert "Outlook on the web" in decision("OWA.UserOptions")[1]
