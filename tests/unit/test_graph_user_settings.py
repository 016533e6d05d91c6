"""GraphSettings.restore against a scripted server (no HTTP): a setting the server refuses is one "failed"
outcome carrying Graph's error and the others go on; a mailbox-fatal answer stops the restore; what no v1.0
API takes is listed only when everything is selected."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.convert.user_settings.configuration import Category, CategoryList, WorkHours
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage
from pipeline.convert.user_settings.rules import JunkEmailRule
from pipeline.destination.base import SettingsLinks
from pipeline.destination.graph.transport import GraphError, Unanswered
from pipeline.destination.graph.user_settings import GraphSettings

LINKS = SettingsLinks(lambda _e: None, lambda _p: None, "ROOT")
ALL = ("categories", "workhours", "searchfolders", "rules")


class Server:
    """Answers GETs from `state`, records writes; `refuse` maps (method, path) to the error it raises."""

    def __init__(self, refuse: dict[tuple[str, str], Exception] | None = None) -> None:
        self.refuse = refuse or {}
        self.writes: list[tuple[str, str, Any]] = []
        self.state: dict[str, Any] = {
            "/outlook/masterCategories": [],
            "/mailboxSettings": {"workingHours": {"daysOfWeek": [], "startTime": "", "endTime": ""}},
        }

    def pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return list(self.state.get(path) or [])

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        if (method, path) in self.refuse:
            raise self.refuse[(method, path)]
        if method == "GET":
            return self.state.get(path)
        self.writes.append((method, path, kwargs.get("json_body")))
        return kwargs.get("json_body")


def message(kind: SettingKind, record: Any, cls: str = "IPM.Configuration.X") -> SettingsMessage:
    return SettingsMessage(("Calendar",), 1, cls, "", kind, record)


CATEGORIES = message(SettingKind.CATEGORY_LIST, CategoryList((Category("A", 3, 0, None, None),), None, None, b""))
HOURS = message(
    SettingKind.WORK_HOURS, WorkHours("Arab Standard Time", -180, -180, -240, "07:30:00", "16:00:00", ("Sunday",), b"")
)
JUNK = message(SettingKind.JUNK_RULE, JunkEmailRule(None, ("a@x",), (), ("b@y",), None, None, None, None))  # type: ignore[arg-type]


def test_a_refused_setting_fails_alone():
    refused = GraphError(400, "ErrorInvalidRequest", "no")
    server = Server({("POST", "/outlook/masterCategories"): refused})
    outcomes = list(GraphSettings(server).restore([CATEGORIES, HOURS, JUNK], ALL, LINKS))  # type: ignore[arg-type]
    by_setting = {o.setting: o for o in outcomes}
    assert by_setting["category_list"].action == "failed" and by_setting["category_list"].error is refused
    assert by_setting["work_hours"].action == "created"
    assert server.writes == [
        (
            "PATCH",
            "/mailboxSettings",
            {
                "workingHours": {
                    "daysOfWeek": ["sunday"],
                    "startTime": "07:30:00.0000000",
                    "endTime": "16:00:00.0000000",
                    "timeZone": {"name": "Arab Standard Time"},
                },
                "timeZone": "Arab Standard Time",
            },
        )
    ]
    assert by_setting["junk_rule"].action == "not restored" and by_setting["junk_rule"].left == (
        "1 safe senders, 0 safe recipients, 1 blocked senders",
    )


def test_a_fatal_answer_stops_the_restore_and_a_narrow_selection_lists_nothing_else():
    server = Server({("GET", "/mailboxSettings"): GraphError(403, "ErrorAccessDenied", "no")})
    with pytest.raises(GraphError):
        list(GraphSettings(server).restore([HOURS], ALL, LINKS))  # type: ignore[arg-type]
    quiet = list(GraphSettings(Server()).restore([CATEGORIES, JUNK], ("categories",), LINKS))  # type: ignore[arg-type]
    assert [o.setting for o in quiet] == ["category_list"]


def test_an_unanswered_write_is_a_failed_setting_that_a_rerun_settles():
    server = Server({("POST", "/outlook/masterCategories"): Unanswered("ReadTimeout")})
    outcomes = list(GraphSettings(server).restore([CATEGORIES, HOURS], ALL, LINKS))  # type: ignore[arg-type]
    assert [(o.setting, o.action) for o in outcomes] == [("category_list", "failed"), ("work_hours", "created")]
    assert outcomes[0].reason == "no answer: ReadTimeout"
