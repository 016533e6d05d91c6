"""JSON $batch over Graph: at most `batch_size` requests, each routed, throttled and faulted like a
request of its own, answered together.

As Graph documents (learn.microsoft.com/graph/json-batching): requests without `dependsOn` may run in any
order, up to PARALLEL at once; a request runs only after the requests it depends on, and when one of those
failed it is not run at all but answered 424 Failed Dependency. A `dependsOn` naming an id that is not in
the batch, or a cycle, is a 400 for the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, error_reply, json_reply

#: Sub-requests of one batch run at once (Graph evaluates at most 4 concurrently per mailbox).
PARALLEL = 4


def _sub_call(call: Call, entry: dict[str, Any]) -> Call:
    method = str(entry.get("method", "GET")).upper()
    url = str(entry.get("url", ""))
    headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    body = entry.get("body")
    raw = (body if isinstance(body, str) else json.dumps(body)).encode() if body is not None else b""
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    segments = [unquote(s) for s in parts.path.split("/") if s]
    return Call(call.app, call.version, method, segments, query, headers, raw, call.base)


def _answer(rid: str, reply: GraphReply) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": rid,
        "status": reply.status,
        "headers": {"Content-Type": reply.content_type, **dict(reply.headers)},
    }
    if reply.body:
        answer["body"] = json.loads(reply.body)
    return answer


def _failed_dependency(rid: str, failed: str) -> dict[str, Any]:
    reply = error_reply(
        GraphError(424, "FailedDependency", f"The request was not run: the request '{failed}' it depends on failed.")
    )
    return _answer(rid, reply)


def _dependencies(requests: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each request id's dependencies; GraphError 400 for duplicate or unknown ids and for cycles."""
    order = [str(r.get("id", "")) for r in requests]
    if len(set(order)) != len(order):
        raise GraphError(400, "BadRequest", "Batch request ids must be unique.")
    depends: dict[str, list[str]] = {}
    for rid, entry in zip(order, requests, strict=True):
        named = entry.get("dependsOn") or []
        if not isinstance(named, list) or any(str(d) not in order or str(d) == rid for d in named):
            raise GraphError(400, "BadRequest", f"Request '{rid}' depends on a request that is not in the batch.")
        depends[rid] = [str(d) for d in named]
    done: set[str] = set()
    while len(done) < len(order):
        ready = [r for r in order if r not in done and all(d in done for d in depends[r])]
        if not ready:
            raise GraphError(400, "BadRequest", "The dependsOn of the batch's requests form a cycle.")
        done.update(ready)
    return depends


def batch(g: GraphState, call: Call, guarded: Callable[[Call, bool], GraphReply]) -> GraphReply:
    """Each part goes through `guarded` (the face's throttling, faults and routing) as part of a batch."""
    try:
        document = json.loads(call.body or b"{}")
        requests = document["requests"]
        assert isinstance(requests, list) and all(isinstance(r, dict) for r in requests)
    except (ValueError, KeyError, AssertionError):
        return error_reply(GraphError(400, "BadRequest", "Invalid batch payload format."))
    limit = g.throttle.limits.batch_size
    if len(requests) > limit:
        return error_reply(GraphError(400, "BadRequest", f"Number of batch requests exceeds the maximum of {limit}."))
    try:
        depends = _dependencies(requests)
    except GraphError as exc:
        return error_reply(exc)
    g.stats.add("graph:batch")
    entries = {str(r.get("id", "")): r for r in requests}
    answers: dict[str, dict[str, Any]] = {}
    running: dict[Future[GraphReply], str] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="graph-batch") as pool:
        while len(answers) < len(entries):
            for rid, entry in entries.items():
                if rid in answers or rid in running.values() or any(d not in answers for d in depends[rid]):
                    continue
                failed = next((d for d in depends[rid] if answers[d]["status"] >= 400), None)
                if failed is not None:
                    answers[rid] = _failed_dependency(rid, failed)
                    continue
                if len(running) < PARALLEL:
                    running[pool.submit(guarded, _sub_call(call, entry), True)] = rid
            if not running:
                continue  # only failed dependencies were settled this round: look again
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                rid = running.pop(future)
                answers[rid] = _answer(rid, future.result())
    return json_reply(200, {"responses": [answers[rid] for rid in entries]})
