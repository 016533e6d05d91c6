"""The user's settings mapped to Graph (destination/graph: settings_map, search_filters, rules): pure functions,
judged against values written here from the specs, and the emitted filterQuery run by the sandbox's own
OData evaluator (pipeline/sandbox/graph/odata_filter.py, which shares no code with the destination)."""

from __future__ import annotations

import pytest

from pipeline.convert.user_settings.configuration import Category, CategoryList, WorkHours
from pipeline.convert.user_settings.restrictions import Restriction, RuleAction
from pipeline.convert.user_settings.rules import ExtendedRule
from pipeline.destination.graph import rules, settings_map
from pipeline.destination.graph.search_filters import to_filter
from pipeline.sandbox.graph import odata_filter

KEYWORDS_ID = 0x8020
FOLDERS = {b"junk-entry-id": "JUNK", b"archive-entry-id": "ARCHIVE"}


def folder_id(entry_id: bytes) -> str | None:
    return FOLDERS.get(entry_id)


def property_name(prop_id: int):
    return ("00020329-0000-0000-c000-000000000046", "Keywords") if prop_id == KEYWORDS_ID else None


def category(name: str, color: int, shortcut: int = 0) -> Category:
    return Category(name, color, shortcut, None, None)


def test_categories_merge_by_name_and_map_colours():
    source = CategoryList(
        (category("Red Category", 0), category("Blue", 7, shortcut=2), category("X", -1)), None, None, b""
    )
    plan = settings_map.plan_categories(source, [{"displayName": "red category", "color": "preset9"}])
    assert plan.add == ({"displayName": "Blue", "color": "preset7"}, {"displayName": "X", "color": "none"})
    assert plan.kept == ("Red Category",) and plan.server_had == 1
    assert plan.left and "Blue: Ctrl+F3" in plan.left[0]
    again = settings_map.plan_categories(
        source, [{"displayName": n["displayName"]} for n in plan.add] + [{"displayName": "Red Category"}]
    )
    assert again.add == ()


def test_work_hours_body_and_when_they_are_written():
    record = WorkHours("Pakistan Standard Time", -300, -300, -360, "08:00:00", "17:00:00", ("Monday", "Friday"), b"")
    body = settings_map.working_hours(record)
    assert body == {
        "daysOfWeek": ["monday", "friday"],
        "startTime": "08:00:00.0000000",
        "endTime": "17:00:00.0000000",
        "timeZone": {"name": "Pakistan Standard Time"},
    }
    default = {
        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "startTime": "08:00:00.0000000",
        "endTime": "17:00:00.0000000",
        "timeZone": {"name": "UTC"},
    }
    assert settings_map.is_default(default) and not settings_map.same_hours(body, default)
    assert settings_map.same_hours(body, {**body, "timeZone": {"name": "pakistan standard time"}})
    assert not settings_map.is_default({**default, "startTime": "09:00:00.0000000"})


def content(tag: int, value: str, fuzzy: int) -> Restriction:
    return Restriction("content", tag=tag, value=value, op=fuzzy)


UNREAD = Restriction(
    "and",
    (
        Restriction(
            "not",
            (
                Restriction(
                    "or",
                    (
                        content(0x001A001F, "IPM.Appointment", 0x10000),
                        content(0x001A001F, "IPM.Appointment.", 0x10002),
                    ),
                ),
            ),
        ),
        Restriction(
            "and",
            (
                Restriction("property", tag=0x0E090102, value=b"junk-entry-id", op=5),
                Restriction("property", tag=0x0E090102, value=b"gone-entry-id", op=5),
            ),
        ),
        Restriction(
            "or",
            (
                Restriction("bitmask", tag=0x0E070003, value=1, op=0),
                Restriction("bitmask", tag=0x10970003, value=1, op=1),
            ),
        ),
    ),
)


def message(**fields) -> dict:
    base = {"isRead": True, "categories": [], "parentFolderId": "INBOX", "subject": "s", "importance": "normal"}
    base.update(fields)
    base["singleValueExtendedProperties"] = [{"id": "String 0x1A", "value": fields.get("cls", "IPM.Note")}]
    return base


def test_unread_mail_restriction_as_a_filter_that_selects_what_it_says():
    built = to_filter(UNREAD, folder_id, property_name)
    assert built.query is not None
    tree = odata_filter.parse(built.query)  # the sandbox runs it: Graph's syntax
    assert odata_filter.matches(tree, message(isRead=False))
    assert not odata_filter.matches(tree, message(isRead=True))
    assert not odata_filter.matches(tree, message(isRead=False, parentFolderId="JUNK"))
    assert not odata_filter.matches(tree, message(isRead=False, cls="ipm.appointment"))
    assert len(built.left) == 3  # the class prefix, the folder not in the file, the temporary flag
    assert [line.rsplit(" ", 1)[-1] for line in built.left] == ["more)", "more)", "less)"]
    assert b"gone-entry-id".hex() in built.left[1]


def test_categorized_mail_and_what_cannot_be_said():
    built = to_filter(Restriction("exist", tag=(KEYWORDS_ID << 16) | 0x101F), folder_id, property_name)
    assert built.query == "categories/any(c:c ne '')" and built.left == ()
    tree = odata_filter.parse(built.query)
    assert odata_filter.matches(tree, message(categories=["Red"])) and not odata_filter.matches(tree, message())
    nothing = to_filter(Restriction("size", tag=0x0E080003, value=10, op=2), folder_id, property_name)
    assert nothing.query is None and len(nothing.left) == 1
    quoted = to_filter(content(0x0037001F, "it's", 0x10001), folder_id, property_name)
    assert quoted.query == "contains(subject,'it''s')"
    assert odata_filter.matches(odata_filter.parse(quoted.query), message(subject="IT'S here"))


def rule(condition: Restriction | None, *actions: RuleAction, state: int = 1, name: str = "r") -> ExtendedRule:
    return ExtendedRule(name, "RuleOrganizer", 3, state, 0, 0, None, (), condition, 1, actions, b"", b"")


def test_rules_map_what_graph_has_and_leave_the_rest_with_their_text():
    move = RuleAction("move", 0, 0, b"", b"store", b"archive-entry-id")
    condition = Restriction(
        "and",
        (
            Restriction("or", (content(0x0037001F, "invoice", 0x10001), content(0x0037001F, "bill", 0x10001))),
            Restriction("not", (Restriction("property", tag=0x00170003, value=2, op=4),)),
        ),
    )
    mapped = rules.map_rule(rule(condition, move, state=0x11, name="Invoices"), folder_id)
    assert mapped.body == {
        "displayName": "Invoices",
        "sequence": 3,
        "isEnabled": True,
        "actions": {"moveToFolder": "ARCHIVE", "stopProcessingRules": True},
        "conditions": {"subjectContains": ["invoice", "bill"]},
        "exceptions": {"importance": "high"},
    }
    forward = rules.map_rule(rule(None, RuleAction("forward", 0, 0, b"...")), folder_id)
    assert forward.body is None and "forward" in forward.left[0]
    elsewhere = rules.map_rule(rule(None, RuleAction("move", 0, 0, b"", b"s", b"unknown")), folder_id)
    assert elsewhere.body is None and "not rebuilt" in elsewhere.left[0]
    odd = rules.map_rule(rule(Restriction("size", tag=0x0E080003, value=5, op=2), move), folder_id)
    assert odd.body is None and "size" in odd.left[0]


@pytest.mark.parametrize(
    "text",
    ["isRead eq", "categories/all(c:c eq 'x')", "foo(subject,'x')", "isRead eq false)", "(isRead eq false"],
)
def test_the_sandbox_refuses_filters_it_cannot_run(text):
    with pytest.raises(odata_filter.GraphError) as caught:
        odata_filter.parse(text)
    assert caught.value.code == "ErrorInvalidUrlQueryFilter"
