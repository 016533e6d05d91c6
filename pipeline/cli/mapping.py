"""The CSV mapping file for a whole server: one row per file (ost, mailbox, and optional settings).

A mailbox with several caches (desktop OST, laptop OST, archive PSTs) has one row per file: one file per row
keeps every error line pointing at one file (a cell listing several files could not), and `rebuild
discover` writes it so. The rows of one mailbox become one MappingRow (its first file in `ost`, the others
in `more`: one merge job, rebuild/merge.py); their other columns must agree, or the file is refused.
Every row is checked before any upload starts, and every error is listed with its line number.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.source import SourceOpenError
from pipeline.source.gate import check_header, check_source, is_smtp_address, not_regular

REQUIRED = ("ost", "mailbox")
OPTIONAL = ("target_root", "impersonate", "only", "exclude")
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"", "0", "false", "no", "n"}


@dataclass(frozen=True, slots=True)
class MappingRow:
    line: int
    ost: Path
    mailbox: str
    target_root: str | None = None
    impersonate: bool = False
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ost_cell: str = ""  # the ost cell as written, for error lines
    more: tuple[Path, ...] = ()  # the mailbox's other files (its further rows), for one merge job
    lines: tuple[int, ...] = ()  # the lines of those further rows

    @property
    def files(self) -> tuple[tuple[int, Path], ...]:
        """(line, file) of every file of the mailbox's set, its first row's first."""
        return ((self.line, self.ost), *zip(self.lines, self.more, strict=True))

    def refused(self, reason: str) -> MappingError:
        """This row's error line for a file the gate refused."""
        return MappingError(self.line, f"ost {self.ost_cell!r}: {reason}")


@dataclass(frozen=True, slots=True)
class MappingError:
    line: int
    message: str

    def render(self, path: Path) -> str:
        return f"{path}:{self.line}: {self.message}"


def _folders(value: str) -> tuple[str, ...]:
    """Folder lists in one cell are separated by ';' (folder names may hold commas)."""
    return tuple(p.strip() for p in value.split(";") if p.strip())


def load_mapping(
    path: Path, open_sources: bool = True, survey_later: bool = False
) -> tuple[list[MappingRow], list[MappingError]]:
    """Parse and check the whole file; rows with errors are left out of the first list. open_sources=False
    checks each OST's header only (other machines will open the files: --engine temporal); survey_later
    leaves the files alone (the local --map run opens each once, in its survey, with the same gate)."""
    problem = not_regular(path)
    if problem:
        return [], [MappingError(0, f"the mapping file is {problem}, not a CSV file")]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [MappingError(0, f"cannot read the mapping file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [], [MappingError(line, f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8")]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [MappingError(reader.line_num + 1, f"not readable as CSV: {exc}")]
    errors: list[MappingError] = []
    if not header:
        return [], [MappingError(1, "empty file: expected a header line 'ost,mailbox'")]
    empty = [str(i + 1) for i, h in enumerate(header) if not h]
    if empty:
        errors.append(
            MappingError(1, f"empty column name in the header (column {', '.join(empty)}; a trailing comma?)")
        )
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        errors.append(MappingError(1, f"column(s) named twice in the header: {', '.join(twice)}"))
    if empty or twice:
        return [], errors  # which cell is which is unknown: no row can be read
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        errors.append(
            MappingError(1, f"unknown column(s) {', '.join(unknown)}; known: {', '.join(REQUIRED + OPTIONAL)}")
        )
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        errors.append(MappingError(1, f"missing required column(s) {', '.join(missing)}"))
        return [], errors
    reader.fieldnames = header
    rows: list[MappingRow] = []
    seen_ost: dict[Path, int] = {}
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a cell longer than the csv module's limit
            errors.append(MappingError(reader.line_num + 1, f"not readable as CSV: {exc}"))
            return [], errors
        line = reader.line_num
        if None in record:
            errors.append(MappingError(line, "more cells than columns in the header"))
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue  # blank line
        row_errors = []
        controls = [k for k, v in values.items() if any(unicodedata.category(c) == "Cc" for c in v)]
        if controls:
            row_errors.append(f"control characters in {', '.join(controls)}")
        ost_text, mailbox = values.get("ost", ""), values.get("mailbox", "")
        ost = (path.parent / ost_text).resolve() if ost_text else Path()
        if not ost_text:
            row_errors.append("ost is empty")
        elif not survey_later:
            try:
                # the same gate as every command: regular file, header, libpff, root (or the header alone when
                # other machines read the files: --engine temporal)
                check_source(ost) if open_sources else check_header(ost)
            except SourceOpenError as exc:
                row_errors.append(f"ost {ost_text!r}: {str(exc).removeprefix(f'{ost}: ')}")  # as refused() says
        if not is_smtp_address(mailbox):
            row_errors.append(f"mailbox {mailbox!r} is not an SMTP address")
        impersonate = values.get("impersonate", "").lower()
        if impersonate not in _TRUE | _FALSE:
            row_errors.append(f"impersonate {values.get('impersonate')!r} is not yes/no/true/false/1/0")
        if ost_text and ost in seen_ost:
            row_errors.append(f"ost {ost_text!r} is already on line {seen_ost[ost]}")
        if ost_text:
            seen_ost.setdefault(ost, line)
        if row_errors:
            errors.extend(MappingError(line, message) for message in row_errors)
            continue
        rows.append(
            MappingRow(
                line=line,
                ost=ost,
                mailbox=mailbox,
                target_root=values.get("target_root") or None,
                impersonate=impersonate in _TRUE,
                only=_folders(values.get("only", "")),
                exclude=_folders(values.get("exclude", "")),
                ost_cell=ost_text,
            )
        )
    rows = _sets(rows, errors)
    if not rows and not errors:
        errors.append(MappingError(1, "no rows: the file has a header but no users"))
    return rows, errors


#: The columns the rows of one mailbox must agree on (everything but the file).
AGREED = ("target_root", "impersonate", "only", "exclude")


def _sets(rows: list[MappingRow], errors: list[MappingError]) -> list[MappingRow]:
    """One row per mailbox: its further rows' files in `more`. Rows that disagree on another column are one
    error on the mailbox's first line naming every line (the whole mailbox is left out)."""
    by_mailbox: dict[str, list[MappingRow]] = {}
    for row in rows:
        by_mailbox.setdefault(row.mailbox.casefold(), []).append(row)
    out = []
    for group in by_mailbox.values():
        first, rest = group[0], group[1:]
        differ = [name for name in AGREED if any(getattr(r, name) != getattr(first, name) for r in rest)]
        if differ:
            lines = ", ".join(str(r.line) for r in group)
            errors.append(
                MappingError(
                    first.line,
                    f"mailbox {first.mailbox}: lines {lines} disagree on {', '.join(differ)} "
                    "(the rows of one mailbox may differ in their ost only)",
                )
            )
            continue
        out.append(replace(first, more=tuple(r.ost for r in rest), lines=tuple(r.line for r in rest)))
    return out


def refusals(rows: list[MappingRow], refused: dict[int, str]) -> tuple[list[MappingRow], list[MappingError]]:
    """The mailboxes none of whose files the survey refused (refused: line -> the gate's reason), and an error
    line per refused file: a mailbox with one refused file is left out whole (its set is one job)."""
    kept, errors = [], []
    for row in rows:
        found = [
            row.refused(refused[line])
            if line == row.line
            else MappingError(line, f"ost {path.name!r}: {refused[line]}")
            for line, path in row.files
            if line in refused
        ]
        errors.extend(found)
        if not found:
            kept.append(row)
    return kept, errors
