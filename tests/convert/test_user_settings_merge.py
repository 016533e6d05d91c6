"""The restore's plan for categories and work hours (pipeline/convert/user_settings/merge.py), judged by
ElementTree over the XML it would write and by the fixture spec."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fixtures.settings import category_list_xml, work_hours_xml
from fixtures.spec import CategorySpec, SettingSpec
from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.merge import (
    SelectionError,
    ServerConfiguration,
    SettingAction,
    parse_selection,
    plan_setting,
)
from pipeline.model import SourceItem

SPEC = SettingSpec(
    kind="category_list",
    categories=[CategorySpec("Project X", 7, 2), CategorySpec("Personal", 4), CategorySpec("Waiting & <watching>", -1)],
)


def message(cls: str, xml: bytes):
    return read_setting(SourceItem(1, ("Calendar",), cls, {0x001A: cls, 0x7C08: xml}, {}, [], [], associated=True))


def colours(xml: bytes) -> dict[str, int]:
    return {e.get("name"): int(e.get("color")) for e in ET.fromstring(xml)}


def test_the_selection():
    assert parse_selection("all") == (
        "categories",
        "workhours",
        "autocomplete",
        "searchfolders",
        "junk",
        "shortcuts",
        "rules",
        "options",
    )
    assert parse_selection("none") == parse_selection("") == ()
    assert parse_selection("WorkHours, categories") == ("categories", "workhours")
    assert parse_selection("rules,categories") == ("categories", "rules")
    with pytest.raises(SelectionError, match="unknown setting 'colours'"):
        parse_selection("categories,colours")


def test_categories_on_an_empty_server_travel_byte_for_byte():
    source = message("IPM.Configuration.CategoryList", category_list_xml(SPEC))
    plan = plan_setting(source, None)
    assert plan.action is SettingAction.CREATE and plan.xml == source.xml


@pytest.mark.parametrize(
    "server",
    [
        b'<?xml version="1.0"?><categories xmlns="CategoryList.xsd"/>',
        '\ufeff<categories xmlns="CategoryList.xsd"><category name="personal" color="11"/></categories>'.encode(),
    ],
)
def test_categories_merge_with_the_servers_own(server: bytes):
    plan = plan_setting(message("IPM.Configuration.CategoryList", category_list_xml(SPEC)), ServerConfiguration(server))
    merged = colours(plan.xml)
    had = colours(server)
    assert plan.action is SettingAction.UPDATE
    for name, colour in had.items():
        assert merged[name] == colour  # the server's category keeps its colour
    wanted = {c.name: c.color for c in SPEC.categories if c.name.casefold() not in {n.casefold() for n in had}}
    assert {k: v for k, v in merged.items() if k not in had} == wanted
    again = plan_setting(
        message("IPM.Configuration.CategoryList", category_list_xml(SPEC)), ServerConfiguration(plan.xml)
    )
    assert again.action is SettingAction.KEEP and again.xml is None  # a rerun writes nothing


def test_work_hours_are_written_once_and_the_servers_kept():
    source = message("IPM.Configuration.WorkHours", work_hours_xml(SettingSpec(kind="work_hours")))
    assert plan_setting(source, None).action is SettingAction.CREATE
    same = plan_setting(source, ServerConfiguration(source.xml))
    assert same.action is SettingAction.KEEP and same.reason == "already restored"
    theirs = plan_setting(source, ServerConfiguration(work_hours_xml(SettingSpec(kind="work_hours", start="10:00:00"))))
    assert theirs.action is SettingAction.KEEP and "kept" in theirs.reason


def test_what_cannot_be_read_is_not_restored_and_says_why():
    broken = plan_setting(message("IPM.Configuration.CategoryList", b"<categories"), None)
    assert broken.action is SettingAction.SKIP and broken.reason.startswith("unreadable")
    unreadable_server = plan_setting(
        message("IPM.Configuration.CategoryList", category_list_xml(SPEC)), ServerConfiguration(b"not xml")
    )
    assert unreadable_server.action is SettingAction.KEEP and "cannot be read" in unreadable_server.reason
