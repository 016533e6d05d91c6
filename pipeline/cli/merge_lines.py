"""The merge part of a mailbox's closing lines: what each file and folder brought, and the items kept though a
newer cache no longer holds them (the JSON report holds the same, whole: Summary.merge, rebuild/merge.py)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from pipeline.logs.terminal import shown

ABSENT_SHOWN = 20


def merge_lines(merge: dict[str, Any], updated: int) -> list[str]:
    if not merge:
        return []
    files = merge["files"]
    lines = [
        f"  merged {len(files)} files: {merge['copies']} copies of {merge['identities']} items; "
        f"{merge['passed_over']} copies passed over for a newer one, {updated} items given a newer state "
        f"({merge['moved']} moved to their newest folder)"
    ]
    if merge.get("unrecognised_stamps"):
        lines.append(f"  {merge['unrecognised_stamps']} stamped server items no file of the set explains (left alone)")
    return lines + coverage_lines(merge)


def coverage_lines(merge: dict[str, Any]) -> list[str]:
    """Per file and folder what it brings (the run's closing lines and `inspect` of a set show the same), and
    the items kept though a newer cache lacks them."""
    lines = []
    rows = [("file", "folder", "items", "won", "only here", "dates held")]
    for c in merge["coverage"]:
        dates = f"{c['oldest'][:10]} .. {c['newest'][:10]}" if c["oldest"] else "-"
        name = PurePath(c["file"]).name
        rows.append((name, c["folder"], str(c["items"]), str(c["contributed"]), str(c["only_here"]), dates))
    widths = [max(len(shown(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            shown(v).ljust(w) if i < 2 or i == 5 else shown(v).rjust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("    " + "  ".join(cells).rstrip())
    absent = merge.get("absent_from_newer", 0)
    if absent:
        lines.append(
            f"  kept {absent} items a newer cache no longer holds though its dates cover them (deleted or moved "
            "out since, or never downloaded: a cache cannot prove a deletion):"
        )
        for item in merge.get("absent_items", [])[:ABSENT_SHOWN]:
            lines.append(
                f"    {shown(item['folder'])} | {shown(item['subject'] or '(no subject)')} | {item['date'][:10]}"
                f" | not in {shown(PurePath(item['newer_file']).name)}"
            )
        if absent > ABSENT_SHOWN:
            lines.append(f"    ... and {absent - ABSENT_SHOWN} more (see the JSON report)")
    return lines
