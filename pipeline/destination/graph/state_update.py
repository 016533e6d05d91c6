"""A newer state applied to an item already in the mailbox over Graph (a merge run's later file): a PATCH,
then a move.

Messages: one PATCH of the message with isRead, flag.flagStatus ('notFlagged' clears it), categories (an
empty list clears them) and the identity stamp (singleValueExtendedProperties); then, when the copy that
decided lies in another folder, POST …/messages/{id}/move with its destinationId: Graph answers the moved
message under a new id. Events and contacts: categories and the stamp, the flag as PR_FLAG_STATUS (Graph's
event and contact have neither isRead nor flag). To Do tasks: categories by PATCH, the stamp in the task's
open extension (where the upload put it).

Graph v1.0 binds a move action to message and mailFolder only (its metadata, ../shared/graph-metadata: none
on event, contact or todoTask). Moving any other item is refused before a request goes out (StateNotApplied,
step "move"): the item keeps its folder and its older state, the run reports it; never a second copy.
A move that went unanswered is not simply sent again: the target folder is first asked, by the stamp,
whether it landed there.
"""

from __future__ import annotations

from typing import Any

from pipeline.destination.base import StateChange
from pipeline.destination.graph import items
from pipeline.destination.graph.folders import MAIL, TODO, Ref
from pipeline.destination.graph.sender import item_path, items_path
from pipeline.destination.graph.transport import GraphError, GraphHttp, Unanswered

_FLAG_STATUS = {0: "notFlagged", 1: "complete", 2: "flagged"}
FLAG_PROPERTY = "Integer 0x1090"  # PR_FLAG_STATUS, for the kinds whose Graph type has no flag


class StateNotApplied(Exception):
    """Graph refused (or has no way) to apply one item's newer state: the item, the step ('update', 'stamp',
    'move'), why, and Graph's own answer when there was one."""

    def __init__(self, server_id: str, step: str, reason: str, answer: GraphError | None = None) -> None:
        super().__init__(f"{step} not applied: {reason}")
        self.server_id = server_id
        self.step = step
        self.reason = reason
        self.answer = answer


def update_body(kind: str, change: StateChange) -> dict[str, Any]:
    """The PATCH of one item of this folder kind: its newer state, and (but for To Do) its new stamp."""
    state = change.state
    body: dict[str, Any] = {"categories": list(state.categories)}
    if kind == TODO:
        return body
    stamp = [{"id": items.FINGERPRINT_PROPERTY, "value": change.stamp}]
    if kind == MAIL:
        body["isRead"] = state.read
        body["flag"] = {"flagStatus": _FLAG_STATUS.get(state.flag, "notFlagged")}
    else:
        stamp.append({"id": FLAG_PROPERTY, "value": str(state.flag)})
    body["singleValueExtendedProperties"] = stamp
    return body


def update_state(http: GraphHttp, change: StateChange, current: Ref) -> str:
    """Apply change to its item, which lies in a folder of `current`'s kind; the item's id afterwards.
    StateNotApplied when Graph refuses a step or cannot move such an item."""
    target: Ref = change.target.handle
    if change.move and (current.kind != MAIL or target.kind != MAIL):
        what = "a message into another kind of folder" if MAIL in (current.kind, target.kind) else "this item"
        raise StateNotApplied(
            change.server_id,
            "move",
            f"Graph v1.0 cannot move {what} (it has a move action for messages only): "
            f"the item stays in its folder, in its older state",
        )
    path = item_path(current, change.server_id)
    try:
        http.call("PATCH", path, json_body=update_body(current.kind, change))
    except GraphError as exc:
        raise StateNotApplied(change.server_id, "update", str(exc), exc) from exc
    except Unanswered as exc:
        raise StateNotApplied(change.server_id, "update", f"no answer: {exc}") from exc
    if current.kind == TODO:
        extension = {"@odata.type": "microsoft.graph.openTypeExtension", "identity": change.stamp}
        try:
            http.call("PATCH", f"{path}/extensions/{items.EXTENSION_NAME}", json_body=extension)
        except GraphError as exc:
            raise StateNotApplied(change.server_id, "stamp", str(exc), exc) from exc
        except Unanswered as exc:
            raise StateNotApplied(change.server_id, "stamp", f"no answer: {exc}") from exc
    if not change.move:
        return change.server_id
    return _move(http, change, target)


def _move(http: GraphHttp, change: StateChange, target: Ref) -> str:
    """POST …/move (not idempotent: after a lost answer the target is searched by the stamp first)."""
    attempts = http.policy.max_attempts
    last = ""
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            landed = _find(http, target, change.stamp)
            if landed is not None:
                return landed
        try:
            moved = http.call(
                "POST",
                f"/messages/{change.server_id}/move",
                json_body={"destinationId": target.id},
                idempotent=False,
            )
            return str(moved["id"])
        except Unanswered as exc:
            last = f"no answer: {exc}"
        except GraphError as exc:
            if exc.status < 500:
                raise StateNotApplied(change.server_id, "move", str(exc), exc) from exc
            last = str(exc)  # a 5xx on a POST: it may have been done
        except (KeyError, TypeError) as exc:
            raise StateNotApplied(change.server_id, "move", f"an answer without the moved message's id: {exc}") from exc
        http._wait(attempt, None)
    landed = _find(http, target, change.stamp)
    if landed is not None:
        return landed
    raise StateNotApplied(change.server_id, "move", f"gave up after {attempts} attempts: {last}")


def _find(http: GraphHttp, target: Ref, stamp: str) -> str | None:
    """The id of the item stamped `stamp` in the target folder, if a move whose answer was lost landed."""
    literal = stamp.replace("'", "''")
    flt = f"singleValueExtendedProperties/any(ep: ep/id eq '{items.FINGERPRINT_PROPERTY}' and ep/value eq '{literal}')"
    found = http.call("GET", items_path(target), params={"$filter": flt, "$select": "id", "$top": "10"})
    values = (found or {}).get("value") or []
    return str(values[0]["id"]) if values else None
