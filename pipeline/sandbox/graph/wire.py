"""The Graph face's wire values: a request as routed (Call), its reply, and Graph's error JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pipeline.sandbox.rows import now_iso


class GraphError(Exception):
    """A request refused or failed as Graph answers it: status, code and message, and headers (Retry-After)."""

    def __init__(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


@dataclass(slots=True)
class GraphReply:
    """An answer of the Graph face, or the fault it acts out (drop: commit then close; reset)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    reset: bool = False


@dataclass(slots=True)
class Call:
    """One request as routed: who, which mailbox, what."""

    app: str
    version: str
    method: str
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base: str  # scheme://host:port, for nextLinks


def json_reply(status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> GraphReply:
    return GraphReply(status, json.dumps(value).encode(), headers=headers or [])


def error_reply(exc: GraphError) -> GraphReply:
    inner = {
        "code": exc.code,
        "message": exc.message,
        "innerError": {"date": now_iso(), "request-id": hashlib.sha1(exc.message.encode()).hexdigest()[:16]},
    }
    return json_reply(exc.status, {"error": inner}, exc.headers)
