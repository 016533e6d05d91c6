"""A mailbox's set of files (desktop OST, laptop OST, archive PSTs) in parts, for Temporal's workflow.

One workflow, one job and one lease for the whole set. The plan lists every file's folders with their item
counts (in the order the files were given); the parts are consecutive folders across the files, about N
items each (a folder never split, a part never beyond a folder past N: bounded as a one-file mailbox's
parts are). A part says, per file it touches, which folders it walks and whether it does that file's store
duties (its errors, recovered items, settings: the part holding the file's first folder).

The winners are decided once per set, by the same rule everywhere: each part runs the merge run
(rebuild/merge.py) over only its folders, against the set's merge index, which a worker builds on the
first part it runs and keeps in its state dir for the set's later parts (state/merge_index.py). A part on
another worker (the first one died) builds the same index from the same files: the merge depends on the
files alone (sorted by path, ties broken by path), never on the worker or the order. The server's stamps
are read by every part, being the word on what earlier parts stored.

Plain dicts and the standard library only: workflow code (it is loaded in Temporal's workflow sandbox).
"""

from __future__ import annotations

from typing import Any

from pipeline.execution.mailbox_parts import split_parts


def part_options(plan: dict[str, Any], part_items: int) -> list[dict[str, Any]]:
    """What each part of a mailbox overrides in its run options: a set's parts (a plan with "files"), or a
    one-file mailbox's (consecutive folders and big folders' year ranges: parts.split_parts; the first part
    doing the store's duties)."""
    if "files" in plan:
        return set_parts(plan["files"], part_items)
    return [
        {"folders": share["folders"], "ranges": share["ranges"], "store_part": n == 0}
        for n, share in enumerate(split_parts(plan["folders"], part_items))
    ]


def set_parts(files: list[list[dict[str, Any]]], part_items: int) -> list[dict[str, Any]]:
    """The run options each part of a set overrides: {"set_part": [{"file", "folders", "store"}, ...],
    "keep_index": not the last part}. files: per file (in RunOptions.files order), its folders
    ({"node_id", "items"}) in store order."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    count = 0
    for number, folders in enumerate(files):
        first: dict[str, Any] = {"file": number, "folders": [], "store": True}
        current.append(first)
        entry: dict[str, Any] | None = first
        for folder in folders:
            if entry is None:
                entry = {"file": number, "folders": [], "store": False}
                current.append(entry)
            entry["folders"].append(int(folder["node_id"]))
            count += int(folder["items"])
            if count >= part_items:
                parts.append(current)
                current, count, entry = [], 0, None
    if current or not parts:
        parts.append(current)
    return [{"set_part": part, "keep_index": n < len(parts) - 1} for n, part in enumerate(parts)]
