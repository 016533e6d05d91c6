"""Exceptions of a recurring series over Graph: the series is created whole (pending), then each deleted
occurrence is deleted and each modified one changed through the series' instances, never with
notifications (the events carry no attendees). Applying the same list again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.destination.graph.transport import GraphError, GraphHttp
from pipeline.item_values import Appointment, ShowAs
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.item_values.item_warnings import occurrence as occurrence_warning
from pipeline.model import UploadItem

#: Show-as values of a modified occurrence written back, as Graph names them.
_SHOW_AS = {ShowAs.FREE: "free", ShowAs.TENTATIVE: "tentative", ShowAs.BUSY: "busy", ShowAs.OUT_OF_OFFICE: "oof"}


def _utc(value: dt.datetime) -> dt.datetime:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _parse(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return _utc(value).replace(microsecond=0)


def _when(value: dt.datetime) -> dict[str, str]:
    return {"dateTime": _utc(value).replace(tzinfo=None).isoformat(timespec="seconds"), "timeZone": "UTC"}


def apply_exceptions(http: GraphHttp, series_id: str, upload: UploadItem) -> list[ItemWarning]:
    series = upload.value.series if isinstance(upload.value, Appointment) else None
    if series is None:
        return []
    deleted = [_utc(d).replace(microsecond=0) for d in series.deleted]
    modified = list(series.modified)
    wanted = deleted + [_utc(m.original_start).replace(microsecond=0) for m in modified]
    if not wanted:
        return []
    window = {
        "startDateTime": (min(wanted) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": (max(wanted) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "$select": "id,originalStart,start,end",
        "$top": "1000",
    }
    instances = {
        _parse(str(i["originalStart"])): str(i["id"])
        for i in http.pages(f"/events/{series_id}/instances", window)
        if i.get("originalStart")
    }
    warnings: list[ItemWarning] = []
    for original in deleted:
        instance = instances.get(original)
        if instance is None:
            continue  # deleted already (an earlier run), or not in the pattern: nothing to do
        try:
            http.call("DELETE", f"/events/{instance}")
        except GraphError as exc:
            if exc.status != 404:
                raise
    for change in modified:
        original = _utc(change.original_start).replace(microsecond=0)
        instance = instances.get(original)
        if instance is None:
            warnings.append(occurrence_warning("modified", original, "is not in the series on the server"))
            continue
        body: dict[str, Any] = {"start": _when(change.start), "end": _when(change.end)}
        if change.subject is not None:
            body["subject"] = change.subject
        if change.location is not None:
            body["location"] = {"displayName": change.location}
        if change.show_as in _SHOW_AS:
            body["showAs"] = _SHOW_AS[change.show_as]
        if change.reminder_is_set is not None:
            body["isReminderOn"] = change.reminder_is_set
        http.call("PATCH", f"/events/{instance}", json_body=body)
    return warnings
