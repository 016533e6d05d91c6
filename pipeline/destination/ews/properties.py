"""Extended properties on uploaded items: the identity stamp, and the preserved MAPI state from convert/.

exchangelib needs one registered ExtendedProperty class per property; they are made once, on demand.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from exchangelib import CalendarItem, Contact, DistributionList, Message, PostItem, Task
from exchangelib.ewsdatetime import EWSDateTime
from exchangelib.extended_properties import ExtendedProperty as EwsExtendedProperty
from exchangelib.items import MeetingCancellation, MeetingRequest, MeetingResponse

from pipeline import fingerprint
from pipeline.destination.ews.class_types import CLASSED_TYPES
from pipeline.destination.ews.classed import ClassedMessage
from pipeline.model import ExtendedProperty

ITEM_CLASSES = (
    Message,
    ClassedMessage,
    CalendarItem,
    Contact,
    DistributionList,
    Task,
    PostItem,
    MeetingRequest,
    MeetingResponse,
    MeetingCancellation,
    *CLASSED_TYPES,
)
FINGERPRINT_FIELD = "rebuild_fingerprint"
PENDING_FIELD = "rebuild_series_pending"

_lock = threading.Lock()
_registered: dict[tuple, str] = {}


def _key(prop: ExtendedProperty) -> tuple:
    if prop.tag is not None:
        return ("tag", prop.tag, prop.mapi_type)
    return ("named", (prop.propset_guid or "").lower(), prop.name, prop.mapi_type)


def _field_name(key: tuple) -> str:
    if key[0] == "tag":
        return f"xp_tag_{key[1]:04x}_{key[2].lower()}"
    name = key[2] if isinstance(key[2], int) else "".join(c if c.isalnum() else "_" for c in key[2])
    return f"xp_{key[1].replace('-', '')[:8]}_{name}_{key[3].lower()}".lower()


def register(prop: ExtendedProperty) -> str:
    """The exchangelib field name for prop, registering it on every item class the first time."""
    key = _key(prop)
    name = _registered.get(key)
    if name is not None:
        return name
    with _lock:
        if key in _registered:
            return _registered[key]
        attrs: dict[str, Any] = {"property_type": prop.mapi_type}
        if prop.tag is not None:
            attrs["property_tag"] = prop.tag
        else:
            attrs["property_set_id"] = prop.propset_guid
            attrs["property_name" if isinstance(prop.name, str) else "property_id"] = prop.name
        name = _stamp_field(prop) or _field_name(key)
        cls = type(f"Xp_{name}", (EwsExtendedProperty,), attrs)
        for item_cls in ITEM_CLASSES:
            item_cls.register(name, cls)
            if name in (FINGERPRINT_FIELD, PENDING_FIELD):
                # exchangelib marks every extended property 'complex' and then reads it with one GetItem per
                # 100 items after the FindItem. EWS's FindItem returns short extended properties itself,
                # so the fingerprint read-back costs one request per 1000 items instead.
                item_cls.get_field_by_fieldname(name).is_complex = False
        _registered[key] = name
        return name


def _stamp_field(prop: ExtendedProperty) -> str | None:
    """The fixed field names of the two stamp properties (pipeline.fingerprint), None for any other."""
    if prop.tag is not None or (prop.propset_guid or "").lower() != fingerprint.PROPERTY_SET:
        return None
    return {fingerprint.PROPERTY_NAME: FINGERPRINT_FIELD, fingerprint.PENDING_PROPERTY_NAME: PENDING_FIELD}.get(
        str(prop.name)
    )


def register_fingerprint() -> str:
    """Registers the identity and pending-series fields; returns the identity's field name."""
    for prop in fingerprint.stamp_properties("", pending=True):
        register(prop)
    return FINGERPRINT_FIELD


def ews_value(value: Any) -> Any:
    """Values as exchangelib wants them: EWSDateTime for times, lists for arrays."""
    if isinstance(value, datetime):
        return EWSDateTime.from_datetime(value) if value.tzinfo else value
    if isinstance(value, tuple | list):
        return [ews_value(v) for v in value]
    return value
