"""JSON $batch over Graph: at most `batch_size` requests, each routed, throttled and faulted like a
request of its own, answered together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, error_reply, json_reply


def batch(g: GraphState, call: Call, guarded: Callable[[Call, bool], GraphReply]) -> GraphReply:
    """Each part goes through `guarded` (the face's throttling, faults and routing) as part of a batch."""
    try:
        document = json.loads(call.body or b"{}")
        requests = document["requests"]
        assert isinstance(requests, list)
    except (ValueError, KeyError, AssertionError):
        return error_reply(GraphError(400, "BadRequest", "Invalid batch payload format."))
    limit = g.throttle.limits.batch_size
    if len(requests) > limit:
        return error_reply(GraphError(400, "BadRequest", f"Number of batch requests exceeds the maximum of {limit}."))
    answers = []
    g.stats.add("graph:batch")
    for entry in requests:
        rid = str(entry.get("id", ""))
        method = str(entry.get("method", "GET")).upper()
        url = str(entry.get("url", ""))
        headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        body = entry.get("body")
        raw = (body if isinstance(body, str) else json.dumps(body)).encode() if body is not None else b""
        parts = urlsplit(url if url.startswith("/") else "/" + url)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        segments = [unquote(s) for s in parts.path.split("/") if s]
        sub = Call(call.app, call.version, method, segments, query, headers, raw, call.base)
        reply = guarded(sub, True)
        answer: dict[str, Any] = {"id": rid, "status": reply.status,
                                  "headers": {"Content-Type": reply.content_type, **dict(reply.headers)}}
        if reply.body:
            answer["body"] = json.loads(reply.body)
        answers.append(answer)
    return json_reply(200, {"responses": answers})
