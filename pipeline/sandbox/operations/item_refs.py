"""Resolving ItemId elements of a request to rows of the acting (or an allowed) mailbox.

Shared by GetItem, DeleteItem and UpdateItem, which all answer per id and need the same access checks.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.operations import Context, ResponseError


def parse_ref(ctx: Context, elem: etree._Element) -> tuple[int, int]:
    """(mailbox id, item row id) of an ItemId element, after the mailbox access check."""
    try:
        ref = ids.parse_item_id(elem.get("Id", ""))
    except ids.MalformedId as exc:
        raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
    mailbox = ctx.mailbox_by_id(ref.mailbox_id)
    ctx.faults.check_mailbox(mailbox.address)
    return ref.mailbox_id, ref.row_id


NOT_FOUND = ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
