"""What the Graph face's resources share (the store, counters, budgets, upload sessions, the sent log), and
reading a request body checked against Graph's metadata.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.sandbox.graph import metadata
from pipeline.sandbox.graph.sent import SentLog
from pipeline.sandbox.graph.throttle import Throttle
from pipeline.sandbox.graph.uploads import Uploads
from pipeline.sandbox.graph.wire import Call, GraphError
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.store import SandboxStore

log = logging.getLogger("pipeline.sandbox.graph")


@dataclass(slots=True)
class GraphState:
    """One server's Graph face: its store and counters, the server's limits (read when needed), the
    per-app budgets, open upload sessions and the log of what would have been sent."""

    store: SandboxStore
    stats: Stats
    data_dir: Path
    limits: Callable[[], Limits]
    throttle: Throttle
    uploads: Uploads
    sent: SentLog
    import_mime: bool = True  # False: importMime answers as on a cloud without it


def read_body(g: GraphState, call: Call, entity: str | None = None) -> dict[str, Any]:
    try:
        body = json.loads(call.body or b"{}")
    except ValueError as exc:
        raise GraphError(400, "RequestBodyRead", f"Invalid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    if entity is not None:
        check_body(g, entity, body)
        for prop in body.get("singleValueExtendedProperties") or []:
            check_body(g, "singleValueLegacyExtendedProperty", prop)
    return body


def check_body(g: GraphState, entity: str, part: dict[str, Any]) -> None:
    """A nested object of a request body (a complex type) against the metadata: 400 RequestBodyRead on a
    property the type does not declare, as for the body itself."""
    unknown = metadata.unknown_properties(entity, part)
    if unknown:
        g.stats.add("schema_violations")
        raise GraphError(
            400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.{entity}'."
        )


def check_answer(g: GraphState, entity: str, data: dict[str, Any]) -> None:
    """What the face answers must be what the metadata declares too (counted as schema violations)."""
    unknown = metadata.unknown_properties(entity, data)
    if unknown:
        g.stats.add("schema_violations")
        g.stats.add("graph:answer_violations")
        log.warning("graph face: answer of type %s has undeclared properties %s", entity, unknown[:5])
