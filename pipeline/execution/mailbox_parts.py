"""A big mailbox in parts: consecutive folders grouped into runs of about N items, and the parts' summaries
added back into one; and the two rounds of a usable-first site (the usable phases, then the rest: rounds.py)
as one summary. Plain dicts and the standard library only, so Temporal's workflow code can use it.

A part is a list of folder node ids, in the store's folder order. Every folder of the store is in exactly
one part (skipped ones too, so each is counted once); the first part also reports the store's own errors
and uploads the recovered items. A folder bigger than a part whose items span several years (its "years":
items per year, rebuild/order.py years_of) is split by year instead (split_parts): parts of its own, each a
range of consecutive years, newest first, so that no part is unbounded.
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
    "usable": 0,
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


def split_parts(folders: list[dict[str, Any]], part_items: int) -> list[dict[str, Any]]:
    """Parts as {"folders": node ids, "ranges": [] or one order.YearRange as a dict}: whole folders grouped as
    parts_of groups them, and each big folder with years split into ranges of about part_items items."""
    parts: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []
    for folder in folders:
        years = {int(year): int(n) for year, n in (folder.get("years") or {}).items()}
        if int(folder["items"]) > part_items and len(years) > 1:
            if group:
                parts += [{"folders": p, "ranges": []} for p in parts_of(group, part_items)]
                group = []
            parts += _year_parts(int(folder["node_id"]), years, part_items)
        else:
            group.append(folder)
    if group or not parts:
        parts += [{"folders": p, "ranges": []} for p in parts_of(group, part_items)]
    return parts


def _year_parts(node_id: int, years: dict[int, int], part_items: int) -> list[dict[str, Any]]:
    chunks: list[list[int]] = []
    current: list[int] = []
    count = 0
    for year in sorted(years, reverse=True):  # newest first, as phase 5 goes
        current.append(year)
        count += years[year]
        if count >= part_items:
            chunks.append(current)
            current, count = [], 0
    if current:
        chunks.append(current)
    return [
        {
            "folders": [node_id],
            "ranges": [
                {
                    "node_id": node_id,
                    "lo": min(chunk),
                    "hi": max(chunk),
                    "newest": n == 0,
                    "oldest": n == len(chunks) - 1,
                }
            ],
        }
        for n, chunk in enumerate(chunks)
    ]


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


#: Summary fields the second round of a usable-first site cannot have seen in the first (what was written once).
_ROUND_ADDED = ("uploaded", "bytes_uploaded", "retries", "in_doubt_found", "duplicates_removed", "restored")
#: How a first round must end for its mailbox to go on to the second.
GOES_ON = ("usable", "failed-items")


def merge_rounds(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """One mailbox's summary (Summary.as_dict() shape) from its usable round and the round after it. The
    second walked every item again, so what it found, skipped and failed is the mailbox's; what the first
    stored it counted present, and is counted uploaded; what was written once (warnings, drafts, address
    resolutions, settings) adds up; usable_after is the first round's (seconds from its start)."""
    merged = dict(then)
    for key in _ROUND_ADDED:
        merged[key] = (first.get(key) or 0) + (then.get(key) or 0)
    merged["present"] = max(0, (then.get("present") or 0) - (first.get("uploaded") or 0))
    for key in ("warnings", "addresses"):
        merged[key] = _add_counts(first.get(key) or {}, then.get(key) or {})
    merged["warning_items"] = [*(first.get("warning_items") or []), *(then.get("warning_items") or [])][:WARNING_ITEMS]
    for key in ("drafts", "settings"):
        merged[key] = [*(first.get(key) or []), *(then.get(key) or [])]
    merged["codepage"] = then.get("codepage") or first.get("codepage")
    merged["usable_after"] = first.get("usable_after")
    merged["elapsed"] = round(float(first.get("elapsed") or 0) + float(then.get("elapsed") or 0), 3)
    if "parts" in first or "parts" in then:
        merged["parts"] = [*(first.get("parts") or []), *(then.get("parts") or [])]
    return merged
