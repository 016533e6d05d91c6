"""Distribution lists as typed `DistributionList` values: display name and members, read from the
one-off entry ids Outlook keeps for every member (PidLidDistributionListOneOffMembers).

Members that point at contacts of the old store keep their name and address; the link itself to the
old contact cannot survive the move (its entry id means nothing in the new mailbox).
"""

from __future__ import annotations

import dataclasses
import struct

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert.common import common
from pipeline.model import SourceItem

ONE_OFF_PROVIDER = bytes.fromhex("812b1fa4bea310199d6e00dd010f5402")
WRAPPED_PROVIDER = bytes.fromhex("c091add3519dcf11a4a900aa0047faa4")
MAPI_UNICODE = 0x8000


def _strings(data: bytes, count: int, unicode: bool) -> list[str]:
    out: list[str] = []
    pos = 0
    for _ in range(count):
        if unicode:
            end = pos
            while end + 1 < len(data) and data[end : end + 2] != b"\x00\x00":
                end += 2
            out.append(data[pos:end].decode("utf-16-le", errors="replace"))
            pos = end + 2
        else:
            end = data.find(b"\x00", pos)
            end = len(data) if end < 0 else end
            out.append(data[pos:end].decode("cp1252", errors="replace"))
            pos = end + 1
    return out


def parse_one_off(entry_id: bytes) -> v.ListMember | None:
    """A One-Off EntryID (MS-OXCDATA 2.2.5.1): flags, provider UID, version, flags, then the
    display name, address type and address as NUL-terminated strings (UTF-16 with MAPI_UNICODE)."""
    if len(entry_id) < 24 or entry_id[4:20] != ONE_OFF_PROVIDER:
        return None
    (flags,) = struct.unpack_from("<H", entry_id, 22)
    name, kind, address = _strings(entry_id[24:], 3, bool(flags & MAPI_UNICODE))
    return v.ListMember(name or None, address or None, kind or None)


def members(item: SourceItem) -> tuple[list[v.ListMember], list[str]]:
    warnings: list[str] = []
    one_offs = item.named_prop(mapi.PSETID_ADDRESS, mapi.LID_DISTRIBUTION_LIST_ONE_OFF_MEMBERS) or []
    linked = item.named_prop(mapi.PSETID_ADDRESS, mapi.LID_DISTRIBUTION_LIST_MEMBERS) or []
    out = []
    for index, entry_id in enumerate(one_offs if isinstance(one_offs, list) else [one_offs]):
        parsed = parse_one_off(props.binary(entry_id) or b"")
        if parsed is None:
            warnings.append(f"distribution list member {index} has an unreadable entry id")
            continue
        if isinstance(linked, list) and index < len(linked):
            link = props.binary(linked[index]) or b""
            if link[4:20] == WRAPPED_PROVIDER:
                parsed = dataclasses.replace(parsed, linked_contact=True)
        out.append(parsed)
    if not out and linked:
        warnings.append("distribution list members are only entry ids of the old store; not carried")
    return out, warnings


def distribution_list(item: SourceItem) -> tuple[v.DistributionList, list[str]]:
    """The list (with no reminder: EWS's DistributionList has none) and the members it could not carry."""
    fields = common(item)
    fields["reminder"] = None
    name = (
        props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_DISTRIBUTION_LIST_NAME)
        or props.text(item, mapi.PR_DISPLAY_NAME)
        or fields["subject"]
    )
    found, warnings = members(item)
    value = v.DistributionList(
        **fields,
        display_name=name,
        file_as=props.named_text(item, mapi.PSETID_ADDRESS, mapi.LID_FILE_UNDER) or None,
        members=tuple(found),
    )
    return value, warnings
