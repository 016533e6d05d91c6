"""MAPI state that MIME and EWS fields do not carry, as extended properties stamped on upload.

Read state, sent/received times, flags, importance, sensitivity, categories and the original item
class; for items of unknown class, every property that EWS can set, so nothing is silently lost.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pipeline import mapi, props
from pipeline.model import ExtendedProperty, SourceItem

#: Flag bits a client may set when it creates an item; the rest are the store's to compute.
_SETTABLE_FLAGS = mapi.MSGFLAG_READ | mapi.MSGFLAG_UNMODIFIED | mapi.MSGFLAG_FROMME
PR_LAST_VERB_EXECUTED = 0x1081
PR_LAST_VERB_EXECUTION_TIME = 0x1082

#: Tagged properties never copied by the generic carrier: store-computed, bodies (MIME carries them),
#: identifiers of the old store, or ones handled explicitly.
_NOT_CARRIED = {
    0x001A,
    0x0037,
    0x0E1D,
    0x0E04,
    0x0E03,
    0x0E02,
    0x0E07,
    0x0E08,
    0x0E1B,
    0x0E20,
    0x0E21,
    0x0E1F,
    0x0E27,
    0x1000,
    0x1009,
    0x1013,
    0x1016,
    0x1035,
    0x1039,
    0x1042,
    0x007D,
    0x0FF9,
    0x0FFF,
    0x300B,
    0x3007,
    0x3008,
    0x3FDE,
    0x3FFD,
    0x3FFA,
    0x3FFB,
    0x0071,
    0x0070,
}
_NOT_CARRIED_RANGES = (
    (0x0E00, 0x0E05),
    (0x0E09, 0x0E1A),
    (0x0E22, 0x0E2A),
    (0x0E2C, 0x0FFF),
    (0x3000, 0x3FFF),
    (0x6000, 0x67FF),
    (0x7FF0, 0x7FFF),
    (0x8000, 0xFFFF),
)


def ews_type(value: Any) -> str | None:
    """The EWS PropertyType name for a decoded Python value, None when it has no EWS form."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer" if -(2**31) <= value < 2**31 else "Long"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, datetime):
        return "SystemTime"
    if isinstance(value, str):
        return "String"
    if isinstance(value, bytes | bytearray):
        return "Binary"
    if isinstance(value, uuid.UUID):
        return "CLSID"
    if isinstance(value, list | tuple) and value:
        inner = {ews_type(v) for v in value}
        if len(inner) == 1:
            single = inner.pop()
            if single in ("String", "Binary", "SystemTime", "Integer", "Long", "Double", "CLSID"):
                return f"{single}Array"
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, datetime):
        return props.as_time(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


PR_RECEIVED_BY_ENTRYID = 0x003F


def is_draft(item: SourceItem) -> bool:
    """An unsent draft: MSGFLAG_UNSENT decides, unless the item was received.

    Received mail carries who received it (PR_RECEIVED_BY_*, stamped by the delivering store); transport
    headers prove nothing, since other mail programs write them into their drafts too."""
    flags = props.integer(item, mapi.PR_MESSAGE_FLAGS) or 0
    if not flags & mapi.MSGFLAG_UNSENT:
        return False
    return not (
        props.text(item, mapi.PR_RECEIVED_BY_NAME)
        or props.text(item, mapi.PR_RECEIVED_BY_EMAIL_ADDRESS)
        or props.binary(item.prop(PR_RECEIVED_BY_ENTRYID))
    )


def message_flags(item: SourceItem) -> int:
    flags = (props.integer(item, mapi.PR_MESSAGE_FLAGS) or 0) & _SETTABLE_FLAGS
    if is_draft(item):
        flags |= mapi.MSGFLAG_UNSENT
    return flags


def standard(item: SourceItem) -> list[ExtendedProperty]:
    """The properties stamped on every item, whatever its kind."""
    out = [
        ExtendedProperty("Integer", message_flags(item), tag=mapi.PR_MESSAGE_FLAGS),
        ExtendedProperty(
            "String", props.message_class(item), propset_guid=mapi.PS_REBUILD, name=mapi.ORIGINAL_CLASS_PROPERTY
        ),
    ]
    for tag in (
        mapi.PR_MESSAGE_DELIVERY_TIME,
        mapi.PR_CLIENT_SUBMIT_TIME,
        mapi.PR_FLAG_COMPLETE_TIME,
        PR_LAST_VERB_EXECUTION_TIME,
    ):
        value = props.time(item, tag)
        if value is not None:
            out.append(ExtendedProperty("SystemTime", value, tag=tag))
    for tag in (
        mapi.PR_FLAG_STATUS,
        mapi.PR_IMPORTANCE,
        mapi.PR_SENSITIVITY,
        mapi.PR_ICON_INDEX,
        PR_LAST_VERB_EXECUTED,
        mapi.PR_FOLLOWUP_ICON,
        mapi.PR_TODO_ITEM_FLAGS,
    ):
        number = props.integer(item, tag)
        if number is not None:
            out.append(ExtendedProperty("Integer", number, tag=tag))
    for lid in (mapi.LID_TASK_DUE_DATE, mapi.LID_TASK_START_DATE):
        value = props.named_time(item, mapi.PSETID_TASK, lid)
        if value is not None:
            out.append(ExtendedProperty("SystemTime", value, propset_guid=mapi.PSETID_TASK, name=lid))
    request = props.named_text(item, mapi.PSETID_COMMON, mapi.LID_FLAG_REQUEST)
    if request:
        out.append(ExtendedProperty("String", request, propset_guid=mapi.PSETID_COMMON, name=mapi.LID_FLAG_REQUEST))
    keywords = props.categories(item)
    if keywords:
        out.append(
            ExtendedProperty("StringArray", keywords, propset_guid=mapi.PS_PUBLIC_STRINGS, name=mapi.KEYWORDS_NAME)
        )
    return out


def _carried_tag(prop_id: int) -> bool:
    if prop_id in _NOT_CARRIED:
        return False
    return not any(low <= prop_id <= high for low, high in _NOT_CARRIED_RANGES)


def everything(item: SourceItem, already: list[ExtendedProperty]) -> tuple[list[ExtendedProperty], list[str]]:
    """Every other tagged and named property with an EWS type, and the names of those left behind."""
    have_tags = {p.tag for p in already if p.tag is not None}
    have_named = {(p.propset_guid, p.name) for p in already if p.propset_guid}
    out: list[ExtendedProperty] = []
    skipped: list[str] = []
    for prop_id, value in sorted(item.properties.items()):
        if prop_id in have_tags or not _carried_tag(prop_id) or value is None:
            continue
        kind = ews_type(value)
        if kind is None:
            skipped.append(f"0x{prop_id:04X}")
            continue
        out.append(ExtendedProperty(kind, _plain(value), tag=prop_id))
    for (guid, name), value in sorted(item.named.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        if (guid, name) in have_named or value is None:
            continue
        kind = ews_type(value)
        if kind is None:
            skipped.append(f"{guid}/{name}")
            continue
        out.append(ExtendedProperty(kind, _plain(value), propset_guid=guid, name=name))
    return out, skipped
