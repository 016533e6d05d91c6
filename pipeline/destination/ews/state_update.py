"""A newer state applied to an item already in the mailbox (a merge run's later file): UpdateItem, then MoveItem.

The read state goes as IsRead (messages), the flag status and the categories as the same extended properties
the upload stamps (PR_FLAG_STATUS, PS_PUBLIC_STRINGS 'Keywords'; a flag or categories no longer there are
deleted), the identity stamp rewritten with the new state's newness; then the item moves into the folder of
the copy that decided, when that is another folder (Exchange gives a moved item a new id).
"""

from __future__ import annotations

from typing import Any

from exchangelib.properties import ItemId

from pipeline import mapi
from pipeline.destination.base import StateChange
from pipeline.destination.ews.properties import FINGERPRINT_FIELD, register, register_fingerprint
from pipeline.model import ExtendedProperty

FLAG = ExtendedProperty("Integer", 0, tag=mapi.PR_FLAG_STATUS)
CATEGORIES = ExtendedProperty("StringArray", [], propset_guid=mapi.PS_PUBLIC_STRINGS, name=mapi.KEYWORDS_NAME)


class StateNotApplied(Exception):
    """The server refused the update or the move of one item: its id and the server's answer."""

    def __init__(self, server_id: str, step: str, answer: Exception) -> None:
        super().__init__(f"{step} refused: {type(answer).__name__}: {answer}")
        self.server_id = server_id
        self.step = step
        self.answer = answer


def update_state(account: Any, change: StateChange) -> str:
    """Apply change to its item (one GetItem for its type and change key, one UpdateItem, one MoveItem when
    it moves); the item's id afterwards. StateNotApplied when the server refuses a step."""
    register_fingerprint()
    flag_field, categories_field = register(FLAG), register(CATEGORIES)
    (item,) = list(account.fetch(ids=[ItemId(id=change.server_id)], only_fields=["subject"]))
    if isinstance(item, Exception):
        raise StateNotApplied(change.server_id, "GetItem", item)
    names = {f.name for f in item.FIELDS}
    fields = [FINGERPRINT_FIELD, flag_field, categories_field]
    setattr(item, FINGERPRINT_FIELD, change.stamp)
    setattr(item, flag_field, change.state.flag or None)
    setattr(item, categories_field, list(change.state.categories) or None)
    if "is_read" in names:
        item.is_read = change.state.read
        fields.append("is_read")
    (answer,) = list(account.bulk_update(items=[(item, fields)]))
    if isinstance(answer, Exception):
        raise StateNotApplied(change.server_id, "UpdateItem", answer)
    item_id, changekey = answer
    if not change.move:
        return str(item_id)
    (moved,) = list(account.bulk_move(ids=[(item_id, changekey)], to_folder=change.target.handle))
    if isinstance(moved, Exception):
        raise StateNotApplied(change.server_id, "MoveItem", moved)
    return str(moved[0] if isinstance(moved, tuple) else moved)
