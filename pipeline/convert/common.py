"""What every typed (non-MIME) item holds, read from the source: subject, body, sensitivity, importance,
categories, reminder, as the keyword arguments of `pipeline.item_values.TypedItem`.
"""

from __future__ import annotations

from typing import Any

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import bodies
from pipeline.model import SourceItem

SENSITIVITY = {
    0: v.Sensitivity.NORMAL,
    1: v.Sensitivity.PERSONAL,
    2: v.Sensitivity.PRIVATE,
    3: v.Sensitivity.CONFIDENTIAL,
}
IMPORTANCE = {0: v.Importance.LOW, 1: v.Importance.NORMAL, 2: v.Importance.HIGH}


def body(item: SourceItem) -> v.Body | None:
    """The item's body as its typed value carries it: HTML when the item has one, else plain text."""
    text, body_type = bodies.body_for_fields(item)
    return v.Body(text, body_type == "html") if text else None


def reminder(item: SourceItem) -> v.Reminder | None:
    """The reminder flag, lead time and due time; None when the item says nothing of a reminder."""
    is_set = props.named_bool(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_SET)
    if is_set is None:
        return None
    delta = props.named_int(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_DELTA)
    due = props.named_time(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_TIME)
    return v.Reminder(is_set, delta if delta is not None and 0 <= delta < 2**31 else None, due)


def common(item: SourceItem) -> dict[str, Any]:
    """The `TypedItem` fields of one item (keyword arguments for any kind's dataclass)."""
    sensitivity = props.integer(item, mapi.PR_SENSITIVITY)
    if props.named_bool(item, mapi.PSETID_COMMON, mapi.LID_PRIVATE) and not sensitivity:
        sensitivity = 2
    return {
        "subject": props.text(item, mapi.PR_SUBJECT) or "",
        "body": body(item),
        "sensitivity": SENSITIVITY.get(sensitivity or 0, v.Sensitivity.NORMAL),
        "importance": IMPORTANCE.get(props.integer(item, mapi.PR_IMPORTANCE) or 1, v.Importance.NORMAL),
        "categories": tuple(str(c) for c in props.categories(item) or ()),
        "reminder": reminder(item),
    }
