"""Which folders and items a command considers: one answer for the run, `verify`, `export` and `inspect`.

System and search folders are never uploaded; Outlook's sync logs only on request; `--only/--exclude`
take folder paths or roles (`role:deleteditems`, whatever the OST's language calls the folder); `--since`
keeps items delivered or sent on or after a date.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.model import FolderRole, SourceFolder, SourceItem

#: Roles whose folders hold Outlook's own sync logs: skipped unless asked for (--include-sync-issues).
SYNC_ROLES = frozenset(
    {FolderRole.SYNC_ISSUES, FolderRole.CONFLICTS, FolderRole.LOCAL_FAILURES, FolderRole.SERVER_FAILURES}
)


class Skip(enum.StrEnum):
    """Why a folder or an item is left out; the value is what the summary shows."""

    SEARCH = "search folder"
    SYSTEM = "system folder"
    SYNC = "sync issues (Outlook's own logs)"
    EMPTY_ROOT = "empty subtree root"
    NOT_ONLY = "not in --only"
    EXCLUDED = "in --exclude"
    BEFORE_SINCE = "before --since"


def system_skip(folder: SourceFolder, include_sync_issues: bool = False) -> Skip | None:
    """Why a folder never holds user content to carry (search, system, sync logs), or None."""
    if folder.role is FolderRole.SEARCH:
        return Skip.SEARCH
    if folder.role in (FolderRole.SYSTEM, FolderRole.ROOT) or folder.outside_ipm:
        return Skip.SYSTEM
    if folder.role in SYNC_ROLES and not include_sync_issues:
        return Skip.SYNC
    return None


def is_user_content(folder: SourceFolder) -> bool:
    """A folder that export and inspect treat as the user's (everything but search and system folders)."""
    return system_skip(folder, include_sync_issues=True) is None


def matches(path: tuple[str, ...], patterns: Iterable[str]) -> bool:
    """A folder matches FOLDER when its path is FOLDER or below it (case-insensitive, '/'-separated)."""
    text = "/".join(path).casefold()
    return any(text == p.strip("/").casefold() or text.startswith(p.strip("/").casefold() + "/") for p in patterns)


def item_time(item: SourceItem) -> datetime | None:
    """When the item was delivered, else submitted, else created (what --since compares)."""
    for prop in (0x0E06, 0x0039, 0x3007):  # delivery, submit, creation
        value = item.properties.get(prop)
        if isinstance(value, datetime):
            return value
    return None


def parse_since(text: str | None) -> datetime | None:
    """An ISO date or time; naive values are UTC. ValueError for anything else."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Selection:
    """What the admin asked for; bind() it to a store's folders to resolve role: patterns."""

    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: datetime | None = None
    include_sync_issues: bool = False

    @property
    def whole(self) -> bool:
        """True when every item of a selected folder is wanted (no --since)."""
        return self.since is None

    def bind(self, folders: Iterable[SourceFolder]) -> BoundSelection:
        by_role = {f.role.value: "/".join(f.path) for f in folders if not f.outside_ipm and f.path}

        def resolve(patterns: tuple[str, ...]) -> tuple[str, ...]:
            out = []
            for pattern in patterns:
                if pattern.lower().startswith("role:"):
                    role = pattern[5:].strip().lower()
                    if role in by_role:
                        out.append(by_role[role])
                else:
                    out.append(pattern)
            return tuple(out)

        # An --only whose roles this store lacks matches nothing (an empty tuple), not everything (None).
        return BoundSelection(self, resolve(self.only) if self.only else None, resolve(self.exclude))


@dataclass(frozen=True, slots=True)
class BoundSelection:
    selection: Selection
    only: tuple[str, ...] | None
    exclude: tuple[str, ...]

    def folder_skip(self, folder: SourceFolder) -> Skip | None:
        """Why this folder's items are not carried, or None when they are."""
        reason = system_skip(folder, self.selection.include_sync_issues)
        if reason:
            return reason
        if folder.role is FolderRole.IPM_SUBTREE or not folder.path:
            return None if folder.item_count else Skip.EMPTY_ROOT
        if self.only is not None and not matches(folder.path, self.only):
            return Skip.NOT_ONLY
        if self.exclude and matches(folder.path, self.exclude):
            return Skip.EXCLUDED
        return None

    def item_skip(self, item: SourceItem) -> Skip | None:
        since = self.selection.since
        if since is not None:
            when = item_time(item)
            if when is not None and when < since:
                return Skip.BEFORE_SINCE
        return None
