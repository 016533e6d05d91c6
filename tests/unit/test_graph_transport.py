"""The Graph transport against scripted answers (httpx.MockTransport): Retry-After honoured, a creation
that went unanswered never resent blindly, fatal answers stop the mailbox, $batch parts retried alone."""

from __future__ import annotations

import json
import time

import pytest

httpx = pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

from pipeline.destination.base import MailboxFatalError  # noqa: E402
from pipeline.destination.graph.connect import GraphTarget  # noqa: E402
from pipeline.destination.graph.transport import GraphError, GraphHttp, RetryPolicy, Unanswered  # noqa: E402


class _Tokens:
    def header(self) -> str:
        return "Bearer t"


def http_with(answers: list, sleeps: list[float]) -> tuple[GraphHttp, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    target = GraphTarget("https://graph.example", "https://login.example", "t", "c", secret="s")
    http = GraphHttp(
        target,
        "a@b.example",
        RetryPolicy(4, 0.01, 0.02),
        sleep=sleeps.append,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        tokens=_Tokens(),
    )
    return http, seen


def throttled(seconds: str) -> httpx.Response:
    return httpx.Response(
        429,
        headers={"Retry-After": seconds},
        json={"error": {"code": "ApplicationThrottled", "message": "MailboxConcurrency"}},
    )


def test_retry_after_is_honoured_then_the_answer_comes():
    sleeps: list[float] = []
    http, seen = http_with([throttled("7"), httpx.Response(200, json={"id": "x"})], sleeps)
    assert http.call("POST", "/mailFolders/inbox/messages", json_body={}, idempotent=False) == {"id": "x"}
    assert len(seen) == 2 and 7 <= sleeps[0] < 7.5 and http.throttled == 1


def test_an_unanswered_creation_is_not_resent_here():
    http, seen = http_with([httpx.ReadTimeout("slow")], [])
    with pytest.raises(Unanswered):
        http.call("POST", "/mailFolders/inbox/messages", json_body={}, idempotent=False)
    assert len(seen) == 1


def test_an_unanswered_read_is_retried():
    http, seen = http_with([httpx.ConnectError("reset"), httpx.Response(200, json={"value": []})], [])
    assert http.call("GET", "/mailFolders") == {"value": []} and len(seen) == 2


def test_forbidden_stops_the_mailbox_and_bad_request_is_the_items():
    http, _ = http_with([httpx.Response(403, json={"error": {"code": "ErrorAccessDenied", "message": "no"}})], [])
    with pytest.raises(MailboxFatalError):
        http.call("GET", "/mailFolders")
    http, _ = http_with([httpx.Response(400, json={"error": {"code": "RequestBodyRead", "message": "bad"}})], [])
    with pytest.raises(GraphError) as caught:
        http.call("POST", "/mailFolders/inbox/messages", json_body={})
    assert caught.value.status == 400 and caught.value.code == "RequestBodyRead"


def test_batch_parts_answered_429_are_sent_again_alone():
    sleeps: list[float] = []
    first = {
        "responses": [
            {"id": "0", "status": 200, "body": {}},
            {"id": "1", "status": 429, "headers": {"Retry-After": "2"}, "body": {}},
        ]
    }
    second = {"responses": [{"id": "1", "status": 200, "body": {}}]}
    http, seen = http_with([httpx.Response(200, json=first), httpx.Response(200, json=second)], sleeps)
    answers = http.batch(
        [
            {"id": "0", "method": "PATCH", "url": "/messages/a", "body": {}},
            {"id": "1", "method": "PATCH", "url": "/messages/b", "body": {}},
        ]
    )
    assert {k: v["status"] for k, v in answers.items()} == {"0": 200, "1": 200}
    resent = json.loads(seen[1].content)["requests"]
    assert [r["id"] for r in resent] == ["1"] and resent[0]["url"] == "/users/a@b.example/messages/b"
    assert 2 <= sleeps[0] < 2.5


def test_uploads_are_paced_under_the_byte_budget():
    from pipeline.destination.graph.transport import Pacer

    pacer = Pacer(budget=100, window=0.3)
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    pacer.admit(60, sleep)
    pacer.admit(30, sleep)
    assert waited == []  # 90 bytes: within the budget
    started = time.monotonic()
    pacer.admit(30, sleep)  # 120 bytes would be over it: waits until the first upload leaves the window
    assert waited and time.monotonic() - started >= 0.25


def test_item_requests_stay_under_the_request_budget_less_the_lease_share_and_the_lease_is_not_paced():
    """A budget of 10 requests per 0.4 s: items (each $batch part counted) get 5 of them (5 kept for the
    lease); the 6th item request waits for the window, a lease request never does. The oracle is when
    the scripted server saw each request."""
    from pipeline.destination.graph.lanes import Lane

    seen: list[tuple[float, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((time.monotonic(), request.url.path))
        return httpx.Response(200, json={"responses": [{"id": "1", "status": 201, "body": {}}]})

    target = GraphTarget(
        "https://graph.example", "https://login.example", "t", "c", secret="s", request_budget=10, request_window=0.4
    )
    http = GraphHttp(
        target, "a@b.example", client=httpx.Client(transport=httpx.MockTransport(handler)), tokens=_Tokens()
    )
    started = time.monotonic()
    http.call("POST", "/$batch", json_body={"requests": [{"id": str(n)} for n in range(3)]})  # 3 parts
    http.call("POST", "/mailFolders/inbox/messages", json_body={})
    http.call("GET", "/mailFolders/inbox")  # 5: the items' share is spent
    http.call("PATCH", "/mailFolders/lease/messages/x", json_body={}, lane=Lane.LEASE)
    assert seen[-1][0] - started < 0.3  # the lease went at once
    http.call("GET", "/mailFolders/inbox")
    assert seen[-1][0] - started >= 0.35  # the 6th item request waited for the window
