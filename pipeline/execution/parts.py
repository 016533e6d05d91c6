"""A big mailbox in parts: consecutive folders grouped into runs of about N items, and the parts' summaries
added back into one. Plain dicts and the standard library only, so Temporal's workflow code can use it.

A part is a list of folder node ids, in the store's folder order; a folder is never split. Every folder of
the store is in exactly one part (skipped ones too, so each is counted once); the first part also reports
the store's own errors and uploads the recovered items.
"""

from __future__ import annotations

from typing import Any

#: Summary fields that add up across parts, and those that are counters by reason.
_ADDED = (
    "found",
    "uploaded",
    "present",
    "source_errors",
    "bytes_uploaded",
    "retries",
    "in_doubt_found",
    "failed_total",
    "updated",
    "duplicates_removed",
)
_COUNTERS = ("skipped", "failed", "warnings")
_STATUS_RANK = {
    "ok": 0,
    "dry-run": 0,
    "failed-items": 1,
    "interrupted": 2,
    "busy": 3,
    "lease-lost": 3,
    "fatal": 4,
    "running": 5,
    "crashed": 5,
}  # run_status.RANK, kept import-free for Temporal's workflow sandbox
WARNING_ITEMS = 200


def parts_of(folders: list[dict[str, Any]], part_items: int) -> list[list[int]]:
    """Consecutive folders ({"node_id", "items"}) grouped so that each part holds at least part_items items
    (the last one fewer); at least one part, even for a store without folders."""
    parts: list[list[int]] = []
    current: list[int] = []
    count = 0
    for folder in folders:
        current.append(int(folder["node_id"]))
        count += int(folder["items"])
        if count >= part_items:
            parts.append(current)
            current, count = [], 0
    if current or not parts:
        parts.append(current)
    return parts


def _add_counts(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    merged = dict(first)
    for key, value in then.items():
        if isinstance(value, dict):
            merged[key] = _add_counts(merged.get(key) or {}, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            merged[key] = merged.get(key, 0) + value
        else:
            merged[key] = value
    return merged


def merge_summaries(first: dict[str, Any] | None, then: dict[str, Any]) -> dict[str, Any]:
    """One mailbox's summary (Summary.as_dict() shape) from its parts' summaries, in part order."""
    if first is None:
        return dict(then)
    merged = dict(then)
    for key in _ADDED:
        merged[key] = (first.get(key) or 0) + (then.get(key) or 0)
    merged["elapsed"] = round(float(first.get("elapsed") or 0) + float(then.get("elapsed") or 0), 3)
    for key in _COUNTERS:
        merged[key] = _add_counts(first.get(key) or {}, then.get(key) or {})
    merged["folders"] = _add_counts(first.get("folders") or {}, then.get("folders") or {})
    merged["failures"] = [*(first.get("failures") or []), *(then.get("failures") or [])]
    merged["warning_items"] = [*(first.get("warning_items") or []), *(then.get("warning_items") or [])][:WARNING_ITEMS]
    merged["status"] = max(
        first.get("status") or "ok", then.get("status") or "ok", key=lambda status: _STATUS_RANK.get(status, 0)
    )
    merged["fatal"] = then.get("fatal") or first.get("fatal")
    merged["attempt"] = max(int(first.get("attempt") or 0), int(then.get("attempt") or 0))
    merged["parts"] = [*(first.get("parts") or []), *(then.get("parts") or [])]
    if first.get("merge") and then.get("merge"):  # a set's parts: each reports the whole set, its own walk
        merged["merge"] = {
            **then["merge"],
            **{key: first["merge"].get(key, 0) + then["merge"].get(key, 0) for key in ("passed_over", "moved")},
        }
    return merged
