"""The nickname cache's resolve/merge/stamp plan and the search folders' criteria (convert/user_settings/
nicknames.py, search_criteria.py), judged by the fixture spec's values, a stream decoder written here from
[MS-OXOCFG] 2.2.5.2, and Microsoft's EWS schema for the CreateFolder a search folder becomes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from fixtures.settings import nickname_cache
from fixtures.spec import Address, SettingSpec
from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.merge import ServerConfiguration, SettingAction
from pipeline.convert.user_settings.nicknames import STAMP, digest, plan_autocomplete
from pipeline.convert.user_settings.restrictions import Restriction
from pipeline.convert.user_settings.search_criteria import SearchFolderCriteria, Unmapped, criteria
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition
from pipeline.model import SourceItem
from tests.nickname_oracle import nickname_rows

DN_BOB = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bob"
DN_CAROL = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=carol"
SPEC = SettingSpec(
    kind="autocomplete",
    addresses=[Address("Alice", "alice@example.com"), Address("Bob", DN_BOB), Address("Carol", DN_CAROL)],
)
BOOK = {DN_BOB.casefold(): "bob@contoso.com"}  # what the address book knows
SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "ews-schema" / "messages.xsd"


def lookup(dn: str) -> str | None:
    return BOOK.get(dn.casefold())


def source(spec: SettingSpec = SPEC):
    data = nickname_cache(spec)
    cls = "IPM.Configuration.Autocomplete"
    return read_setting(SourceItem(1, ("Inbox",), cls, {0x001A: cls, 0x7C09: data}, {}, [], [], associated=True))


def test_an_empty_server_gets_every_entry_the_book_resolving_what_it_knows():
    decided = plan_autocomplete(source(), None, lookup)
    assert decided.plan.action is SettingAction.CREATE
    written = nickname_rows(decided.data)
    assert [(r[0x3001001F], r[0x3002001F], r[0x3003001F]) for r in written] == [
        ("Alice", "SMTP", "alice@example.com"),
        ("Bob", "SMTP", "bob@contoso.com"),
        ("Carol", "EX", DN_CAROL),  # nobody knows her address: kept as it was, listed
    ]
    assert written[1][0x300B0102] == b"SMTP:BOB@CONTOSO.COM\0"
    assert written[1][0x0FFF0102][4:20] == bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")  # a one-off entry id
    assert decided.plan.as_dict()["unresolved"] == [DN_CAROL]
    assert decided.stamp == {STAMP: digest(decided.data)}


def test_the_servers_entry_wins_and_a_rerun_writes_nothing():
    own = nickname_cache(SettingSpec(kind="autocomplete", addresses=[Address("Bobby (new)", "BOB@contoso.com")]))
    decided = plan_autocomplete(source(), ServerConfiguration(binary=own), lookup)
    assert decided.plan.action is SettingAction.UPDATE and decided.plan.kept == ("bob@contoso.com",)
    written = nickname_rows(decided.data)
    assert [r[0x3001001F] for r in written] == ["Bobby (new)", "Alice", "Carol"]  # the server's entry, first
    again = plan_autocomplete(source(), ServerConfiguration(binary=decided.data, dictionary=decided.stamp), lookup)
    assert again.plan.action is SettingAction.KEEP and again.data is None and again.plan.reason == "already restored"


def test_a_list_changed_on_the_server_since_the_restore_is_not_touched():
    first = plan_autocomplete(source(), None, lookup)
    changed = nickname_cache(SettingSpec(kind="autocomplete", addresses=[Address("Zed", "zed@example.com")]))
    decided = plan_autocomplete(source(), ServerConfiguration(binary=changed, dictionary=first.stamp), lookup)
    assert decided.plan.action is SettingAction.KEEP and decided.data is None
    assert "changed on the new server" in decided.plan.reason


def test_an_unreadable_server_list_is_kept():
    decided = plan_autocomplete(source(), ServerConfiguration(binary=b"\x01\x02\x03\x04garbage"), lookup)
    assert (
        decided.plan.action is SettingAction.KEEP and decided.data is None and "cannot be read" in decided.plan.reason
    )


def definition(restriction: Restriction | None, folders: tuple[bytes, ...] = (b"ROOT",), deep: bool = True):
    return SearchFolderDefinition(
        name="Mine",
        template_id=0,
        search_folder_id=None,
        storage_type=None,
        version=0x1004,
        flags=0,
        numerical_search=0,
        text_search="",
        deep_search=deep,
        folder_list_text="",
        folder_entry_ids=folders,
        address_count=0,
        restriction=restriction,
        criteria=b"",
        raw=b"",
    )


NODES = {b"ROOT": 1, b"INBOX": 2, b"TRASH": 3, b"SUB": 4}


def folder_of(entry_id: bytes) -> int | None:
    return NODES.get(entry_id)


def names(prop_id: int):
    return {
        0x8020: ("00020329-0000-0000-c000-000000000046", "Keywords"),
        0x8101: ("00062008-0000-0000-c000-000000000046", 0x8516),
    }.get(prop_id)


def below(node: int) -> list[int]:
    return {1: [1, 2, 3, 4], 2: [2, 4]}.get(node, [node])


def test_excluded_parents_become_the_folder_list_and_the_rest_stays_a_condition():
    parent_not_trash = Restriction("property", tag=0x0E090102, value=b"TRASH", op=5)
    unread = Restriction("bitmask", tag=0x0E070003, value=1, op=0)
    mapped = criteria(definition(Restriction("and", (parent_not_trash, unread))), folder_of, names, below)
    assert isinstance(mapped, SearchFolderCriteria)
    assert mapped.folders == (1, 2, 4) and mapped.deep is False
    assert (mapped.condition.kind, mapped.condition.prop.known, mapped.condition.value) == ("compare", "is_read", False)


@pytest.mark.parametrize(
    ("restriction", "why"),
    [
        (Restriction("sub_object", (Restriction("exist", tag=0x0037001F),), tag=0x0E12000D), "sub-object"),
        (Restriction("exist", tag=0x8555001F), "name map"),
        (Restriction("compare_props", tag=0x0037001F, tag2=0x0E1D001F, op=4), "compare-props"),
    ],
)
def test_what_no_server_criteria_express_is_left_with_the_reason(restriction: Restriction, why: str):
    mapped = criteria(definition(restriction), folder_of, names, below)
    assert isinstance(mapped, Unmapped) and why in mapped.reason


def test_a_folder_not_in_the_file_is_left():
    mapped = criteria(definition(None, folders=(b"ELSEWHERE",)), folder_of, names, below)
    assert isinstance(mapped, Unmapped) and "not in this file" in mapped.reason


def test_the_create_folder_request_is_valid_ews():
    """Every kind of condition, as the CreateFolder the EWS destination sends, validated by Microsoft's schema."""
    from pipeline.destination.ews.search_folders import create_payload

    if not SCHEMA.is_file():
        pytest.skip("the EWS schema is not in ../shared")
    restriction = Restriction(
        "and",
        (
            Restriction("not", (Restriction("content", tag=0x001A001F, value="IPM.Task", op=0x10002),)),
            Restriction("exist", tag=0x8020101F),
            Restriction("bitmask", tag=0x10970003, value=1, op=1),
            Restriction("property", tag=0x0E060040, value=datetime(2024, 5, 1, tzinfo=UTC), op=2),
            Restriction("property", tag=0x81010003, value=5, op=4),
            Restriction("content", tag=0x0037001F, value="invoice", op=0x30001),
        ),
    )
    mapped = criteria(definition(restriction), folder_of, names, below)
    assert isinstance(mapped, SearchFolderCriteria)
    payload = create_payload("AAMkParent", mapped, ["AAMkA", "AAMkB"])
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))  # m:CreateFolder is a global element of messages.xsd
    assert schema.validate(etree.ElementTree(payload)), schema.error_log
    text = etree.tostring(payload).decode()
    assert 'ContainmentMode="Prefixed" ContainmentComparison="IgnoreCase"' in text
    assert 'ContainmentMode="Substring" ContainmentComparison="IgnoreCaseAndNonSpacingCharacters"' in text
    assert '<t:FieldURI FieldURI="item:Categories"/>' in text
    assert 'PropertySetId="00062008-0000-0000-c000-000000000046" PropertyId="34070"' in text
    assert 'Constant Value="2024-05-01T00:00:00Z"' in text
    assert text.count("<t:FolderId ") == 3


def test_a_term_excluding_a_folder_not_in_the_file_is_moot():
    parent_not_elsewhere = Restriction("property", tag=0x0E090102, value=b"ELSEWHERE", op=5)
    mapped = criteria(definition(Restriction("and", (parent_not_elsewhere,))), folder_of, names, below)
    assert isinstance(mapped, SearchFolderCriteria) and mapped.condition is None and mapped.folders == (1, 2, 3, 4)
