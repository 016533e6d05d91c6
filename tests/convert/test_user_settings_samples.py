"""The user's settings read from the real samples (issue 23), judged by decoders written here: ElementTree
over the XML streams, a small struct reader of the [MS-OXOCFG] nickname cache, and libpff's C API (through
ctypes, tests/source/libpff_fai.py) as the second reader of the associated contents. What the issue says the
OST holds is asserted as plain values: 6 categories with their colours, work hours 08:00-17:00 Monday to
Friday in Pakistan Standard Time, an autocomplete entry with an X500 DN, two search folders."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from pipeline.convert.user_settings import SettingKind, SettingsMessage, read_setting
from pipeline.source import open_source
from tests.nickname_oracle import nickname_rows
from tests.source.libpff_fai import UNREADABLE, associated_contents

pytestmark = pytest.mark.samples

ISSUE_CATEGORIES = {
    "Red Category": 0,
    "Orange Category": 1,
    "Yellow Category": 3,
    "Green Category": 4,
    "Blue Category": 7,
    "Purple Category": 9,
}


def settings(path: Path) -> list[SettingsMessage]:
    with open_source(path) as source:
        return [read_setting(item) for folder in source.folders() for item in source.associated(folder)]


@pytest.fixture(scope="module")
def ost(samples: Path) -> list[SettingsMessage]:
    return settings(samples / "SampleOstFile.ost")


@pytest.fixture(scope="module")
def ost_by_libpff(samples: Path):
    found = associated_contents(samples / "SampleOstFile.ost")
    if found is None:
        pytest.skip("libpff's shared library is not on this machine")
    return found


def one(found: list[SettingsMessage], kind: SettingKind) -> SettingsMessage:
    [message] = [m for m in found if m.kind is kind]
    assert message.problem is None, message.problem
    return message


def libpff_stream(by_libpff, message_class: str, prop_id: int) -> bytes:
    [data] = [
        values[prop_id]
        for entries in by_libpff.values()
        for cls, values in entries
        if cls == message_class and prop_id in values
    ]
    return data


def test_every_sample_message_reads_without_a_problem(ost: list[SettingsMessage]):
    assert len(ost) == 21
    assert [m for m in ost if m.problem is not None] == []
    kinds = Counter(m.kind for m in ost)
    assert kinds == {
        SettingKind.SHORTCUT: 5,
        SettingKind.SEARCH_FOLDER: 2,
        SettingKind.CONFIGURATION: 7,
        SettingKind.JUNK_RULE: 1,
        SettingKind.RULES_STREAM: 1,
        SettingKind.OTHER: 2,
        SettingKind.AUTOCOMPLETE: 1,
        SettingKind.CATEGORY_LIST: 1,
        SettingKind.WORK_HOURS: 1,
    }


def test_the_category_list_as_elementtree_reads_libpffs_bytes(ost, ost_by_libpff):
    record = one(ost, SettingKind.CATEGORY_LIST).record
    xml = libpff_stream(ost_by_libpff, "IPM.Configuration.CategoryList", 0x7C08)
    assert record.raw == xml
    root = ET.fromstring(xml)
    oracle = {e.get("name"): int(e.get("color")) for e in root if e.tag.endswith("category")}
    assert oracle == ISSUE_CATEGORIES
    assert {c.name: c.color for c in record.categories} == oracle
    assert {c.name: c.guid for c in record.categories} == {e.get("name"): e.get("guid") for e in root}
    assert {c.graph_color for c in record.categories} == {
        "preset0",
        "preset1",
        "preset3",
        "preset4",
        "preset7",
        "preset9",
    }


def test_work_hours_as_elementtree_reads_them(ost, ost_by_libpff):
    record = one(ost, SettingKind.WORK_HOURS).record
    xml = libpff_stream(ost_by_libpff, "IPM.Configuration.WorkHours", 0x7C08)
    ns = {"w": "WorkingHours.xsd"}
    root = ET.fromstring(xml)
    assert root.findtext(".//w:TimeSlot/w:Start", namespaces=ns) == "08:00:00" == record.start
    assert root.findtext(".//w:TimeSlot/w:End", namespaces=ns) == "17:00:00" == record.end
    assert root.findtext(".//w:TimeZone/w:Name", namespaces=ns) == "Pakistan Standard Time" == record.time_zone_name
    assert record.work_days == ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    assert record.bias_minutes == -300 and record.raw == xml


def test_the_autocomplete_entry_with_an_x500_dn(ost, ost_by_libpff):
    message = one(ost, SettingKind.AUTOCOMPLETE)
    data = libpff_stream(ost_by_libpff, "IPM.Configuration.Autocomplete", 0x7C09)
    assert len(data) == 1595 and message.binary == data and message.record.raw == data
    oracle = nickname_rows(data)
    assert [(r[0x3001001F], r[0x3002001F], r[0x3003001F], r[0x39FE001F]) for r in oracle] == [
        (e.display_name, e.address_type, e.email_address, e.smtp_address) for e in message.record.entries
    ]
    [entry] = message.record.entries
    assert entry.legacy_dn is not None and entry.legacy_dn.lower().startswith("/o=home organization/")
    assert entry.smtp_address == "saqib.razzaq@ex2010.local"


def test_the_two_search_folders(ost, ost_by_libpff):
    found = [m for m in ost if m.kind is SettingKind.SEARCH_FOLDER]
    assert sorted(m.record.name for m in found) == ["Categorized Mail", "Unread Mail"]
    for message in found:
        oracle = [
            values[0x6845]
            for values in [v for e in ost_by_libpff.values() for c, v in e if c == "IPM.Microsoft.WunderBar.SFInfo"]
        ]
        assert message.record.raw in oracle
        assert struct.unpack_from("<I", message.record.raw)[0] == 0x1004 == message.record.version
        assert len(message.record.folder_entry_ids) == 1  # both search the whole mailbox from its root
    by_name = {m.record.name: m.record for m in found}
    unread, categorized = by_name["Unread Mail"], by_name["Categorized Mail"]
    # Oracles in the bytes: BITMASK (6), BMR_EQZ (0), PR_MESSAGE_FLAGS, MSGFLAG_READ; EXIST (8) of a named tag
    assert struct.pack("<IIII", 6, 0, 0x0E070003, 1) in unread.raw
    assert ("bitmask", 0x0E070003, 1, 0) in {(n.kind, n.tag, n.value, n.op) for n, _, _ in unread.restriction.walk()}
    kind, tag = struct.unpack_from("<II", categorized.raw, len(categorized.raw) - 12)
    assert categorized.restriction.kind == "exist" and (kind, tag) == (8, categorized.restriction.tag)
    assert categorized.restriction.tag >> 16 >= 0x8000  # a named property: the Keywords (categories)


def test_the_junk_rule_and_the_calendar_options(ost):
    junk = one(ost, SettingKind.JUNK_RULE).record
    assert junk.rule.name == "Junk E-mail Rule" and junk.rule.provider == "JunkEmailRule" and junk.rule.enabled
    assert [a.kind for a in junk.rule.actions] == ["move", "tag"]
    assert (junk.safe_senders, junk.safe_recipients, junk.blocked_senders) == ((), (), ())  # lists empty here
    [calendar] = [m for m in ost if m.configuration_name == "Calendar"]
    root = ET.fromstring(calendar.dictionary.raw)
    oracle = {e.get("k").split("-", 1)[1]: e.get("v") for e in root.iter("e")}
    assert oracle["piRemindDefault"] == "9-15" and calendar.dictionary.as_dict()["piRemindDefault"] == 15
    assert set(calendar.dictionary.as_dict()) == set(oracle)


@pytest.mark.parametrize("name", ["SampleOstFile.ost", "Outlook.pst"])
def test_the_native_reader_and_libpff_agree_on_every_sample(samples: Path, name: str):
    by_libpff = associated_contents(samples / name)
    if by_libpff is None:
        pytest.skip("libpff's shared library is not on this machine")
    unreadable = {where: entries for where, entries in by_libpff.items() if any(c == UNREADABLE for c, _ in entries)}
    # libpff cannot open the associated entries of Outlook's pooled search folder under Finder (the native
    # reader does not walk Finder): they are the only ones left out of the comparison.
    assert all(where[-2] == "Finder" for where in unreadable), unreadable
    libpff = Counter(
        (where[-1], cls) for where, entries in by_libpff.items() if where not in unreadable for cls, _ in entries
    )
    native = settings(samples / name)
    assert Counter((m.folder_path[-1], m.message_class) for m in native) == libpff
    streams = Counter(data for where, entries in by_libpff.items() for _, values in entries for data in values.values())
    assert Counter(data for m in native for data in m.raw.values()) == streams
