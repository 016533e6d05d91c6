"""What `rebuild verify` finds for one mailbox, per folder and in total (verify.py for one file,
verify_merge.py for a cache set)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FolderCheck:
    path: str
    source: int
    server: int
    missing: int
    duplicated: int
    extra: int
    misplaced: int = 0  # source items of this folder found in another server folder


@dataclass
class StrayFolder:
    """A server folder under the rebuilt tree holding stamped items, that no source folder maps to."""

    name: str
    items: int


@dataclass
class VerifyResult:
    mailbox: str
    source: str
    folders: list[FolderCheck] = field(default_factory=list)
    strays: list[StrayFolder] = field(default_factory=list)
    unreadable: int = 0
    pending: int = 0  # recurring series whose exceptions a killed run left unfinished (the rerun finishes them)
    stale: int = 0  # a set's items on the server in an older state than their newest copy (verify_merge.py)
    fatal: str | None = None  # why nothing could be compared
    no_mailbox: bool = False  # the server has no mailbox at this address

    @property
    def missing(self) -> int:
        return sum(f.missing for f in self.folders)

    @property
    def duplicated(self) -> int:
        return sum(f.duplicated for f in self.folders)

    @property
    def extra(self) -> int:
        return sum(f.extra for f in self.folders)

    @property
    def misplaced(self) -> int:
        return sum(f.misplaced for f in self.folders)

    @property
    def ok(self) -> bool:
        return (
            self.fatal is None
            and self.missing == 0
            and self.duplicated == 0
            and self.pending == 0
            and self.misplaced == 0
            and self.stale == 0
            and not self.strays
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "source": self.source,
            "ok": self.ok,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "extra": self.extra,
            "misplaced": self.misplaced,
            "unreadable": self.unreadable,
            "pending": self.pending,
            "stale": self.stale,
            "fatal": self.fatal,
            "no_mailbox": self.no_mailbox,
            "strays": [vars(s) for s in self.strays],
            "folders": [vars(f) for f in self.folders],
        }
