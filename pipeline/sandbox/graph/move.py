"""`POST /users/{id}/messages/{id}/move` and `…/copy` over Graph: a message into another folder of the mailbox.

As Graph documents (learn.microsoft.com/graph/api/message-move, message-copy): the body is
{"destinationId": folder id or well-known name}; the answer is 201 Created with the message in its new
folder, under a new id (Exchange gives a moved or copied item a new one; the old id then answers 404
ErrorItemNotFound). The body is checked against the action's parameters in Microsoft's v1.0 metadata
(`DestinationId`, required; parameter names without regard to case, as Graph's own example writes
`destinationId` against the metadata's `DestinationId`). Graph v1.0 binds move and copy to message and
mailFolder only: events, contacts and To Do tasks have none (the router answers 400 for those paths).
"""

from __future__ import annotations

from typing import Any

from pipeline.sandbox.graph import folders, items, listing, metadata, state
from pipeline.sandbox.graph.kinds import ALL_KINDS, KIND
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply

MESSAGE_KINDS = tuple(k for k in ALL_KINDS if k not in KIND.values())


def _destination(g: GraphState, call: Call, action: str) -> str:
    body: dict[str, Any] = state.read_body(g, call)
    declared = metadata.action_parameters(action, "message") or {"DestinationId": True}
    by_folded = {name.casefold(): name for name in declared}
    unknown = [k for k in body if not k.startswith("@") and k.casefold() not in by_folded]
    if unknown:
        g.stats.add("schema_violations")
        raise GraphError(
            400,
            "RequestBodyRead",
            f"The parameter '{unknown[0]}' in the request payload is not a valid parameter for the operation '{action}'.",
        )
    given = {by_folded[k.casefold()]: v for k, v in body.items() if k.casefold() in by_folded}
    missing = [name for name, required in declared.items() if required and not given.get(name)]
    if missing:
        raise GraphError(400, "ErrorInvalidParameter", f"The value of the parameter '{missing[0]}' is empty.")
    value = given.get("DestinationId")
    if not isinstance(value, str):
        raise GraphError(400, "ErrorInvalidParameter", "The parameter 'DestinationId' must be a string.")
    return value


def move_or_copy(g: GraphState, call: Call, mailbox_id: int, ref: str, action: str) -> GraphReply:
    """`action` is 'move' or 'copy': 201 with the message under its new id."""
    destination = _destination(g, call, action)
    with g.store.write() as conn:
        item = items.stored_item(g, conn, mailbox_id, ref, MESSAGE_KINDS)
        target = folders.resolve_folder(g, conn, mailbox_id, destination)
        if action == "move":
            (new_row,) = g.store.move_items(conn, [item.id], target.id)
            conn.execute("UPDATE graph_items SET item_id=? WHERE item_id=?", (new_row, item.id))
        else:
            new_row = g.store.copy_item(conn, item.id, target.id)
            conn.execute(
                "INSERT INTO graph_items(item_id, body) SELECT ?, body FROM graph_items WHERE item_id=?",
                (new_row, item.id),
            )
        moved = g.store.load_items(conn, [new_row], ext_keys=None)[new_row]
        stored = listing.stored_bodies(g, conn, [new_row]).get(new_row)
    g.stats.add("items_moved" if action == "move" else "items_copied")
    return json_reply(201, listing.item_json(g, mailbox_id, moved, None, None, stored))
