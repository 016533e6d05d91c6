"""CSV reports an admin opens in a spreadsheet: every cell spreadsheet-safe, the file owner-only (0600).

A cell starting with = + - @ TAB or CR is a formula to Excel, LibreOffice and Google Sheets (a subject
such as `=HYPERLINK(...)` would run when the report is opened); such cells get a leading `'`, which the
spreadsheet shows as text and hides.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
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
