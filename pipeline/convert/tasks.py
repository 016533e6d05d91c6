"""Tasks as EWS Task fields: status, dates, percent complete, effort, owner, companies, recurrence.

Task requests (IPM.TaskRequest*) are messages and go the MIME way; only the task items come here.
"""

from __future__ import annotations

from typing import Any

from pipeline import mapi, props
from pipeline.convert import dates, recurrence
from pipeline.convert.common import base_fields
from pipeline.model import SourceItem

STATUS = {0: "NotStarted", 1: "InProgress", 2: "Completed", 3: "WaitingOnOthers", 4: "Deferred"}


def task_fields(item: SourceItem) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    fields = base_fields(item)
    status = props.named_int(item, mapi.PSETID_TASK, mapi.LID_TASK_STATUS)
    fields["status"] = STATUS.get(status or 0, "NotStarted")
    percent = item.named_prop(mapi.PSETID_TASK, mapi.LID_PERCENT_COMPLETE)
    if isinstance(percent, int | float) and not isinstance(percent, bool):
        fields["percent_complete"] = round(float(percent) * 100 if percent <= 1 else float(percent), 2)
    for name, lid in (
        ("start_date", mapi.LID_TASK_START_DATE),
        ("due_date", mapi.LID_TASK_DUE_DATE),
        ("complete_date", mapi.LID_TASK_DATE_COMPLETED),
    ):
        value = props.named_time(item, mapi.PSETID_TASK, lid)
        if value is not None:
            # Start and due are dates (EWS keeps no time): the date the user saw, not UTC's.
            fields[name] = value if name == "complete_date" else dates.nearest_midnight(value)
    for name, lid in (("actual_work", mapi.LID_TASK_ACTUAL_EFFORT), ("total_work", mapi.LID_TASK_ESTIMATED_EFFORT)):
        minutes = props.named_int(item, mapi.PSETID_TASK, lid)
        if minutes:
            fields[name] = minutes
    owner = props.named_text(item, mapi.PSETID_TASK, mapi.LID_TASK_OWNER)
    if owner:
        fields["owner"] = owner
    companies = props.string_list(item.named_prop(mapi.PSETID_COMMON, mapi.LID_COMPANIES), props.item_codepage(item))
    if companies:
        fields["companies"] = companies
    for name, lid in (("billing_information", mapi.LID_BILLING), ("mileage", mapi.LID_MILEAGE)):
        text = props.named_text(item, mapi.PSETID_COMMON, lid)
        if text:
            fields[name] = text
    blob = props.binary(item.named_prop(mapi.PSETID_TASK, mapi.LID_TASK_RECURRENCE))
    if blob and props.named_bool(item, mapi.PSETID_TASK, mapi.LID_TASK_FRECURRING):
        try:
            rec = recurrence.parse(blob)
            described = recurrence.pattern(rec)
            described.update(start=rec.start_date.date(), end=None, count=None)
            if rec.end_type == recurrence.END_BY_DATE:
                described["end"] = rec.end_date.date()
            elif rec.end_type == recurrence.END_AFTER_N:
                described["count"] = rec.occurrence_count
            fields["recurrence"] = described
        except recurrence.RecurrenceError as exc:
            warnings.append(f"task recurrence not carried: {exc}")
    return fields, warnings
