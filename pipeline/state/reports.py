"""The reports written to the state directory's reports/: a JSON report of every mailbox and a CSV of
failed items, written whole or not at all, owner-only.

The CSV is opened in spreadsheets: a cell starting with = + - @ TAB or CR is a formula to Excel, LibreOffice
and Google Sheets (a subject such as `=HYPERLINK(...)` would run when the report is opened); such cells get a
leading `'`, which the spreadsheet shows as text and hides.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.state.atomic import atomic_open

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    """The cell's text, with a leading `'` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a UTF-8 CSV (with a BOM, so that spreadsheets read it as UTF-8), mode 0600 from creation, whole
    or not at all (pipeline/state/atomic.py)."""
    with atomic_open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow([spreadsheet_safe(h) for h in header])
        for row in rows:
            writer.writerow([spreadsheet_safe(cell) for cell in row])
    return path


def write_reports(folder: Path, summaries: list[Any]) -> list[Path]:
    """A JSON report of every mailbox, and a CSV of failed items (spreadsheet-safe) when any failed, both
    owner-only: [the JSON report] or [the JSON report, the failures CSV]."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    json_path = folder / f"run-{stamp}.json"
    with atomic_open(json_path, "w", encoding="utf-8") as fh:  # whole or not at all, even on a full disk
        json.dump([s.as_dict() for s in summaries], fh, indent=2, default=str)
    rows = []
    for s in summaries:
        if s.fatal:
            rows.append([s.mailbox, "", "", "", f"mailbox stopped: {s.fatal}"])
        rows.extend([s.mailbox, f["folder"], f["item_class"], f["subject"], f["reason"]] for f in s.failures)
    if not rows:  # no empty failures file: the summary says "no failures"
        return [json_path]
    csv_path = write_csv(folder / f"failed-{stamp}.csv", ["mailbox", "folder", "item_class", "subject", "reason"], rows)
    return [json_path, csv_path]
