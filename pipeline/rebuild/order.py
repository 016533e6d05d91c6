"""The order a mailbox is rebuilt in: what a user needs first, first (`--order usable-first`, the default),
or the store's own folder order (`--order folders`).

Usable first, in phases:
  1. the folder tree (every folder made before any item is sent), and empty folders recorded;
  2. contacts and distribution lists (whole folders);
  3. the calendar: every recurring series, and every item ending from `calendar_days` before the anchor on;
  4. mail (and every other item) of the last `mail_days` before the anchor, in all folders, newest first
     (Inbox, then Sent Items, Drafts, then the others in the store's order);
  5. everything else, newest first: by year, newest year first, each folder's items of that year newest first.
The mailbox is usable once phase 4 is answered. The anchor is the newest item's time (never later than
now): an OST last synchronized weeks ago still has its own "last 30 days".

Identities stay what a folder-order run computes: items the fingerprint cannot tell apart share their time
to the second, so they always fall into one step and keep their store order (every sort here is stable on
the store order). A row the cheap walk could not read goes last, in store order, where the full read
reports it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.model import FolderRole, SourceError, SourceFolder
from pipeline.source.base import Moment


class Order(enum.StrEnum):
    USABLE_FIRST = "usable-first"
    FOLDERS = "folders"


class Phase(enum.IntEnum):
    TREE = 1
    PEOPLE = 2
    CALENDAR = 3
    RECENT = 4
    REST = 5

    @property
    def usable(self) -> bool:
        """Whether this phase is part of what makes the mailbox usable."""
        return self <= Phase.RECENT


class Span(enum.StrEnum):
    """Which phases one run of a mailbox covers. A site (`--map`) runs each mailbox twice: USABLE (phases
    1-4) for every mailbox first, then REST, which walks the whole plan again (what the first round stored is
    found on the server, and counted present) and goes on into phase 5. One mailbox alone runs ALL."""

    ALL = "all"
    USABLE = "usable"
    REST = "rest"


@dataclass(frozen=True, slots=True)
class Windows:
    """How far back phases 3 and 4 reach, in days before the anchor (settings usable_mail_days and
    usable_calendar_days)."""

    mail_days: int = 30
    calendar_days: int = 30


@dataclass(frozen=True, slots=True)
class Step:
    """One visit of a folder: the rows to read (indexes as items() numbers them, in this order), or None for
    the whole folder in store order. `last` marks the folder's last visit (its completion is recorded then)."""

    node_id: int
    phase: Phase
    indexes: tuple[int, ...] | None
    last: bool = False
    year: int | None = None  # phase 5: the year of its items (None: the rows without a time, or a whole folder)


@dataclass(frozen=True, slots=True)
class YearRange:
    """The share of one big folder a run covers when the folder is split across runs (Temporal's parts,
    execution/mailbox_parts.py): its phase-5 steps of the years lo..hi; the newest range also its usable steps, the
    oldest also its rows without a time (and the whole folder when the run's order has no years)."""

    node_id: int
    lo: int
    hi: int
    newest: bool = False
    oldest: bool = False

    def covers(self, step: Step) -> bool:
        if step.phase.usable:
            return self.newest
        if step.year is None:
            return self.oldest
        return self.lo <= step.year <= self.hi


_FIRST = (FolderRole.INBOX, FolderRole.SENT, FolderRole.DRAFTS)


def _kind(folder: SourceFolder) -> Phase | None:
    """The phase of a whole folder by what it holds (contacts), or None when its items are placed one by one."""
    container = folder.container_class.lower()
    if folder.role is FolderRole.CONTACTS or container.startswith("ipf.contact"):
        return Phase.PEOPLE
    return None


def _is_calendar(folder: SourceFolder) -> bool:
    return folder.role is FolderRole.CALENDAR or folder.container_class.lower().startswith("ipf.appointment")


def _second(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value is not None else None


def anchor_of(timelines: Mapping[int, Sequence[Moment | SourceError]], now: datetime) -> datetime:
    """The newest item's time, never later than now (an item dated in the future does not move it)."""
    newest = max(
        (
            m.when
            for moments in timelines.values()
            for m in moments
            if not isinstance(m, SourceError) and m.when is not None and m.when <= now
        ),
        default=None,
    )
    return newest or now


def plan(
    folders: Iterable[SourceFolder],
    timelines: Mapping[int, Sequence[Moment | SourceError]],
    now: datetime,
    windows: Windows = Windows(),
) -> list[Step]:
    """The steps of a usable-first rebuild of these folders (each already selected for upload), from each
    folder's timeline (absent or empty: the folder is walked whole, as an empty or unreadable one is)."""
    folders = list(folders)
    order = {
        f.node_id: n
        for n, f in enumerate(sorted(folders, key=lambda f: _FIRST.index(f.role) if f.role in _FIRST else len(_FIRST)))
    }  # stable
    anchor = anchor_of(timelines, now)
    mail_from = anchor - timedelta(days=windows.mail_days)
    calendar_from = anchor - timedelta(days=windows.calendar_days)
    steps: list[Step] = []
    recent: list[Step] = []
    by_year: dict[int, list[Step]] = {}
    tail: list[Step] = []  # what the cheap walk could not place: last, in store order
    for folder in sorted(folders, key=lambda f: order[f.node_id]):
        moments = timelines.get(folder.node_id) or []
        whole = _kind(folder)
        if not moments or whole is not None:
            phase = whole or (Phase.TREE if not folder.item_count else Phase.REST)
            (tail if phase is Phase.REST else steps).append(Step(folder.node_id, phase, None))
            continue
        calendar = _is_calendar(folder)
        now_rows: list[tuple[datetime | None, int]] = []
        later: dict[int, list[tuple[datetime | None, int]]] = {}
        failed: list[int] = []
        for index, moment in enumerate(moments):
            if isinstance(moment, SourceError):
                failed.append(index)
                continue
            when = _second(moment.end or moment.when) if calendar else _second(moment.when)
            if calendar:
                usable = moment.recurring or (when is not None and when >= calendar_from)
            else:
                usable = when is not None and when >= mail_from
            if usable:
                now_rows.append((when, index))
            elif when is None:
                failed.append(index)  # no time at all: with the unreadable, last
            else:
                later.setdefault(when.year, []).append((when, index))
        if now_rows:
            phase = Phase.CALENDAR if calendar else Phase.RECENT
            rows = now_rows if calendar else _newest_first(now_rows)
            (steps if calendar else recent).append(Step(folder.node_id, phase, tuple(i for _w, i in rows)))
        for year, rows in later.items():
            by_year.setdefault(year, []).append(
                Step(folder.node_id, Phase.REST, tuple(i for _w, i in _newest_first(rows)), year=year)
            )
        if failed:
            tail.append(Step(folder.node_id, Phase.REST, tuple(failed)))
    steps.sort(key=lambda s: s.phase)  # tree, people, calendar (stable: folders in their order)
    steps += recent
    for year in sorted(by_year, reverse=True):
        steps += by_year[year]
    steps += tail
    return _mark_last(steps)


def _newest_first(rows: list[tuple[datetime | None, int]]) -> list[tuple[datetime | None, int]]:
    """Newest first, stable: rows of one time keep their store order (so identities among equals do too)."""
    return sorted(rows, key=lambda row: row[0].timestamp() if row[0] else float("-inf"), reverse=True)


def _mark_last(steps: list[Step]) -> list[Step]:
    seen: set[int] = set()
    marked: list[Step] = []
    for step in reversed(steps):
        marked.append(step if step.node_id in seen else dataclasses.replace(step, last=True))
        seen.add(step.node_id)
    return marked[::-1]


def folder_steps(folders: Iterable[SourceFolder]) -> list[Step]:
    """`--order folders`: each folder once, whole, in the store's order."""
    return [Step(f.node_id, Phase.REST, None, last=True) for f in folders]


def years_of(folder: SourceFolder, moments: Iterable[Moment | SourceError]) -> dict[int, int]:
    """Items per year of a folder's timeline, as plan() places them (an appointment by its end): what a
    big folder is split by (execution/mailbox_parts.py)."""
    calendar = _is_calendar(folder)
    years: dict[int, int] = {}
    for moment in moments:
        if isinstance(moment, SourceError):
            continue
        when = (moment.end or moment.when) if calendar else moment.when
        if when is not None:
            years[when.year] = years.get(when.year, 0) + 1
    return years
