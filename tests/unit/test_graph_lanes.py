"""The Graph transport's lanes: the lease's requests go ahead of item uploads, every request of the mailbox
waits out a Retry-After the server answered (the lease's too, and no longer), and a request whose wait
outlasted the lease fence is never sent. Scripted answers (httpx.MockTransport) and threads with short waits.
"""

from __future__ import annotations

import threading
import time

import pytest

httpx = pytest.importorskip("httpx", reason="the Graph extra is not installed: pip install -e '.[graph]'")
pytest.importorskip("msal", reason="the Graph extra is not installed: pip install -e '.[graph]'")

from pipeline.destination.graph.connect import GraphTarget  # noqa: E402
from pipeline.destination.graph.lanes import Lane, Lanes  # noqa: E402
from pipeline.destination.graph.transport import GraphHttp, RetryPolicy  # noqa: E402
from pipeline.lease import Fence, LeaseExpired, bound  # noqa: E402


class _Tokens:
    def header(self) -> str:
        return "Bearer t"


def scripted(answers: list, sleeps: list[float]) -> tuple[GraphHttp, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

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


def test_a_waiting_lease_request_takes_the_next_slot_before_waiting_uploads():
    lanes = Lanes(1)
    order: list[str] = []
    first_in = threading.Event()
    release_first = threading.Event()

    def hold_first() -> None:
        with lanes.slot(Lane.ITEMS):
            first_in.set()
            release_first.wait(5)

    def one(name: str, lane: Lane) -> None:
        with lanes.slot(lane):
            order.append(name)

    threads = [threading.Thread(target=hold_first)]
    threads[0].start()
    assert first_in.wait(5)
    for name in ("upload-1", "upload-2"):
        threads.append(threading.Thread(target=one, args=(name, Lane.ITEMS)))
        threads[-1].start()
    time.sleep(0.1)  # both uploads are queued before the lease asks
    threads.append(threading.Thread(target=one, args=("lease", Lane.LEASE)))
    threads[-1].start()
    time.sleep(0.1)
    release_first.set()
    for thread in threads:
        thread.join(5)
    assert order[0] == "lease" and sorted(order[1:]) == ["upload-1", "upload-2"]


def test_a_retry_after_answered_to_an_upload_holds_the_lease_request_until_it_passes_and_no_longer():
    sleeps: list[float] = []
    http, seen = scripted(
        [
            httpx.Response(
                429, headers={"Retry-After": "6"}, json={"error": {"code": "ApplicationThrottled", "message": "x"}}
            ),
            httpx.Response(200, json={"value": []}),
        ],
        sleeps,
    )
    with pytest.raises(Exception):  # noqa: B017 - the upload's own retries are not the point here
        http.once("POST", "/mailFolders/inbox/messages", json_body={})
    assert http.lanes.held_for() == pytest.approx(6)
    assert http.call("GET", "/mailFolders", lane=Lane.LEASE) == {"value": []}
    assert sum(sleeps) == pytest.approx(6) and len(seen) == 2  # waited the Retry-After once, then sent


def test_a_lease_request_throttled_again_waits_each_retry_after_then_renews():
    sleeps: list[float] = []
    busy = {"error": {"code": "ApplicationThrottled", "message": "ApplicationRequests"}}
    http, seen = scripted(
        [
            httpx.Response(429, headers={"Retry-After": "2"}, json=busy),
            httpx.Response(429, headers={"Retry-After": "3"}, json=busy),
            httpx.Response(200, json={"id": "lease"}),
        ],
        sleeps,
    )
    assert http.call("PATCH", "/messages/x", json_body={}, lane=Lane.LEASE) == {"id": "lease"}
    assert sum(sleeps) == pytest.approx(5) and len(seen) == 3 and http.throttled == 2  # 2 s, then 3 s


def test_a_request_whose_wait_outlasted_the_fence_is_never_sent():
    sleeps: list[float] = []
    http, seen = scripted([httpx.Response(200, json={})], sleeps)
    fence = Fence(10, 1, clock=http.lanes.clock)
    fence.acknowledged(http.lanes.clock())  # may write for 9 s
    http.lanes.hold(20)  # a Retry-After longer than the lease has left
    with bound(fence), pytest.raises(LeaseExpired):
        http.call("PATCH", "/messages/x", json_body={}, lane=Lane.LEASE)
    assert seen == [] and 9 <= sum(sleeps) <= 10  # gave up the wait when the fence passed, not 20 s later


def test_a_batch_takes_as_many_slots_as_graph_runs_its_parts_at_once():
    """Graph runs up to 4 parts of a $batch at once and counts each against the mailbox's 4 concurrent
    requests (learn.microsoft.com/graph/json-batching, /graph/throttling-limits): while a 4-wide batch is in
    flight no other request of the mailbox starts, and a 2-wide one leaves two slots."""
    lanes = Lanes(4)
    started = threading.Event()
    with lanes.slot(width=4):
        thread = threading.Thread(target=lambda: (lanes.slot().__enter__(), started.set()), daemon=True)
        thread.start()
        assert not started.wait(0.3)  # no slot while the batch holds all four
    assert started.wait(2)  # the batch left: the request goes
    other = Lanes(4)
    with other.slot(width=2), other.slot(), other.slot():  # two parts and two single requests: four in all
        pass
