"""A merge run's newer state over Graph against scripted answers (httpx.MockTransport): the PATCH as Graph
documents a message's isRead/flag/categories, a move whose answer was lost found in its target by the stamp
(never moved twice), refusals and kinds Graph cannot move as typed StateNotApplied, nothing sent for those."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

from pipeline.destination.base import ItemState, ServerFolder, StateChange  # noqa: E402
from pipeline.destination.graph.connect import GraphTarget  # noqa: E402
from pipeline.destination.graph.folders import Ref  # noqa: E402
from pipeline.destination.graph.state_update import StateNotApplied, update_state  # noqa: E402
from pipeline.destination.graph.transport import GraphHttp, RetryPolicy  # noqa: E402

STAMP_ID = "String {74594eaa-9d20-45ad-b806-df062a3740a3} Name RebuildFingerprint"


class _Tokens:
    def header(self) -> str:
        return "Bearer t"


def http_with(answers: list) -> tuple[GraphHttp, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    target = GraphTarget("https://graph.example", "https://login.example", "t", "c", secret="s")
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return GraphHttp(
        target, "a@b.example", RetryPolicy(3, 0.01, 0.02), sleep=lambda _s: None, client=client, tokens=_Tokens()
    ), seen


def change(kind: str, move: bool, flag: int = 2, categories: tuple[str, ...] = ("Finance",)) -> StateChange:
    target = ServerFolder("F2", "Projects", Ref(kind, "F2"))
    return StateChange("OLD", target, ItemState(True, flag, categories), "m1:sk:abc/9", move)


def not_found() -> httpx.Response:
    return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "not found"}})


def test_a_message_is_patched_as_graph_documents_then_moved_under_a_new_id():
    http, seen = http_with([httpx.Response(200, json={"id": "OLD"}), httpx.Response(201, json={"id": "NEW"})])
    assert update_state(http, change("mail", True), Ref("mail", "F1")) == "NEW"
    patch, move = seen
    assert (patch.method, patch.url.path) == ("PATCH", "/v1.0/users/a@b.example/messages/OLD")
    assert json.loads(patch.content) == {
        "isRead": True,
        "flag": {"flagStatus": "flagged"},
        "categories": ["Finance"],
        "singleValueExtendedProperties": [{"id": STAMP_ID, "value": "m1:sk:abc/9"}],
    }
    assert (move.method, move.url.path) == ("POST", "/v1.0/users/a@b.example/messages/OLD/move")
    assert json.loads(move.content) == {"destinationId": "F2"}


def test_a_cleared_flag_and_categories_are_sent_as_clearing():
    http, seen = http_with([httpx.Response(200, json={"id": "OLD"})])
    assert update_state(http, change("mail", False, flag=0, categories=()), Ref("mail", "F2")) == "OLD"
    body = json.loads(seen[0].content)
    assert body["flag"] == {"flagStatus": "notFlagged"} and body["categories"] == []


def test_a_lost_move_answer_is_looked_for_in_the_target_not_moved_twice():
    found = httpx.Response(200, json={"value": [{"id": "MOVED"}]})
    http, seen = http_with([httpx.Response(200, json={}), httpx.ReadTimeout("lost"), found])
    assert update_state(http, change("mail", True), Ref("mail", "F1")) == "MOVED"
    assert [r.method for r in seen] == ["PATCH", "POST", "GET"]
    assert seen[2].url.path.endswith("/mailFolders/F2/messages") and "m1:sk:abc/9" in seen[2].url.params["$filter"]


def test_a_refused_update_is_typed_with_graphs_answer():
    http, seen = http_with([not_found()])
    with pytest.raises(StateNotApplied) as caught:
        update_state(http, change("mail", True), Ref("mail", "F1"))
    assert caught.value.step == "update" and caught.value.server_id == "OLD"
    assert caught.value.answer is not None and caught.value.answer.code == "ErrorItemNotFound" and len(seen) == 1


@pytest.mark.parametrize("kind", ["calendar", "contacts", "todo"])
def test_kinds_graph_cannot_move_are_refused_before_any_request(kind: str):
    http, seen = http_with([])
    with pytest.raises(StateNotApplied) as caught:
        update_state(http, change(kind, True), Ref(kind, "F1"))
    assert caught.value.step == "move" and seen == []


def test_an_event_takes_its_flag_as_pr_flag_status_and_a_task_its_stamp_in_its_extension():
    http, seen = http_with([httpx.Response(200, json={})])
    update_state(http, change("calendar", False), Ref("calendar", "F2"))
    body = json.loads(seen[0].content)
    assert "isRead" not in body and "flag" not in body and body["categories"] == ["Finance"]
    assert {"id": "Integer 0x1090", "value": "2"} in body["singleValueExtendedProperties"]
    http, seen = http_with([httpx.Response(200, json={}), httpx.Response(200, json={})])
    update_state(http, change("todo", False), Ref("todo", "L1"))
    assert json.loads(seen[0].content) == {"categories": ["Finance"]}
    assert seen[1].url.path.endswith("/todo/lists/L1/tasks/OLD/extensions/com.mailboxrebuild.identity")
    assert json.loads(seen[1].content)["identity"] == "m1:sk:abc/9"
