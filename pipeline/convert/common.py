"""Fields every typed (non-MIME) item shares: subject, body, sensitivity, importance, categories,
reminder; in exchangelib's names and vocabulary so the uploader can pass them straight through.
"""

from __future__ import annotations

from typing import Any

from pipeline import mapi, props
from pipeline.convert import bodies
from pipeline.model import SourceItem

SENSITIVITY = {0: "Normal", 1: "Personal", 2: "Private", 3: "Confidential"}
IMPORTANCE = {0: "Low", 1: "Normal", 2: "High"}


def base_fields(item: SourceItem) -> dict[str, Any]:
    """subject, body + body_type ('html' or 'text'), sensitivity, importance, categories, reminder."""
    fields: dict[str, Any] = {"subject": props.text(item, mapi.PR_SUBJECT) or ""}
    text, body_type = bodies.body_for_fields(item)
    if text:
        fields["body"] = text
        fields["body_type"] = body_type
    sensitivity = props.integer(item, mapi.PR_SENSITIVITY)
    if props.named_bool(item, mapi.PSETID_COMMON, mapi.LID_PRIVATE) and not sensitivity:
        sensitivity = 2
    fields["sensitivity"] = SENSITIVITY.get(sensitivity or 0, "Normal")
    fields["importance"] = IMPORTANCE.get(props.integer(item, mapi.PR_IMPORTANCE) or 1, "Normal")
    keywords = props.categories(item)
    if keywords:
        fields["categories"] = keywords
    reminder = props.named_bool(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_SET)
    if reminder is not None:
        fields["reminder_is_set"] = reminder
        delta = props.named_int(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_DELTA)
        if delta is not None and 0 <= delta < 2**31:
            fields["reminder_minutes_before_start"] = delta
        due = props.named_time(item, mapi.PSETID_COMMON, mapi.LID_REMINDER_TIME)
        if due is not None:
            fields["reminder_due_by"] = due
    return fields
