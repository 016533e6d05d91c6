"""Tasks as typed `Task` values: status, dates, percent complete, effort, owner, companies, recurrence.

Task requests (IPM.TaskRequest*) are messages and go the MIME way; only the task items come here.
"""

from __future__ import annotations

from pipeline import item_values as v
from pipeline import mapi, props
from pipeline.convert import dates, recurrence
from pipeline.convert.common import common
from pipeline.model import SourceItem

STATUS = {
    0: v.TaskStatus.NOT_STARTED,
    1: v.TaskStatus.IN_PROGRESS,
    2: v.TaskStatus.COMPLETED,
    3: v.TaskStatus.WAITING_ON_OTHERS,
    4: v.TaskStatus.DEFERRED,
}


def task(item: SourceItem) -> tuple[v.Task, list[str]]:
    """The task (its recurrence included) and what could not be carried, in words."""
    warnings: list[str] = []
    status = props.named_int(item, mapi.PSETID_TASK, mapi.LID_TASK_STATUS)
    raw = item.named_prop(mapi.PSETID_TASK, mapi.LID_PERCENT_COMPLETE)
    percent = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        percent = round(float(raw) * 100 if raw <= 1 else float(raw), 2)
    # Start and due are dates (EWS keeps no time): the date the user saw, not UTC's.
    start = props.named_time(item, mapi.PSETID_TASK, mapi.LID_TASK_START_DATE)
    due = props.named_time(item, mapi.PSETID_TASK, mapi.LID_TASK_DUE_DATE)
    repeats = None
    blob = props.binary(item.named_prop(mapi.PSETID_TASK, mapi.LID_TASK_RECURRENCE))
    if blob and props.named_bool(item, mapi.PSETID_TASK, mapi.LID_TASK_FRECURRING):
        try:
            repeats = recurrence.recurrence(recurrence.parse(blob))
        except recurrence.RecurrenceError as exc:
            warnings.append(f"task recurrence not carried: {exc}")
    codepage = props.item_codepage(item)
    value = v.Task(
        **common(item),
        status=STATUS.get(status or 0, v.TaskStatus.NOT_STARTED),
        percent_complete=percent,
        start_date=dates.nearest_midnight(start) if start is not None else None,
        due_date=dates.nearest_midnight(due) if due is not None else None,
        completed=props.named_time(item, mapi.PSETID_TASK, mapi.LID_TASK_DATE_COMPLETED),
        actual_minutes=props.named_int(item, mapi.PSETID_TASK, mapi.LID_TASK_ACTUAL_EFFORT) or None,
        estimated_minutes=props.named_int(item, mapi.PSETID_TASK, mapi.LID_TASK_ESTIMATED_EFFORT) or None,
        owner=props.named_text(item, mapi.PSETID_TASK, mapi.LID_TASK_OWNER) or None,
        companies=tuple(props.string_list(item.named_prop(mapi.PSETID_COMMON, mapi.LID_COMPANIES), codepage) or ()),
        billing=props.named_text(item, mapi.PSETID_COMMON, mapi.LID_BILLING) or None,
        mileage=props.named_text(item, mapi.PSETID_COMMON, mapi.LID_MILEAGE) or None,
        recurrence=repeats,
    )
    return value, warnings
