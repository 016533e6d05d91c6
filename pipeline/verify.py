"""`rebuild verify`: source and server compared folder by folder by fingerprint.

Reports what is missing on the server, what is there twice, and stamped items the source lacks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.convert.fingerprint import fingerprint
from pipeline.model import SourceError
from pipeline.run import RunOptions
from pipeline.source import open_source
from pipeline.target.connect import Target, open_account
from pipeline.target.errors import MailboxFatalError, describe
from pipeline.target.folders import FolderMirror, skip_reason
from pipeline.target.occurrences import PENDING
from pipeline.target.properties import register_fingerprint
from pipeline.target.upload import stamped_fingerprints
from pipeline.terminal import shown


@dataclass
class FolderCheck:
    path: str
    source: int
    server: int
    missing: int
    duplicated: int
    extra: int


@dataclass
class VerifyResult:
    mailbox: str
    source: str
    folders: list[FolderCheck] = field(default_factory=list)
    unreadable: int = 0
    pending: int = 0  # recurring series whose exceptions a killed run left unfinished (the rerun finishes them)
    fatal: str | None = None

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
    def ok(self) -> bool:
        return self.fatal is None and self.missing == 0 and self.duplicated == 0 and self.pending == 0

    def as_dict(self) -> dict[str, Any]:
        return {"mailbox": self.mailbox, "source": self.source, "ok": self.ok, "missing": self.missing,
                "duplicated": self.duplicated, "extra": self.extra, "unreadable": self.unreadable,
                "pending": self.pending,
                "fatal": self.fatal, "folders": [vars(f) for f in self.folders]}


def verify_mailbox(options: RunOptions, target: Target, include_sync_issues: bool = False) -> VerifyResult:
    result = VerifyResult(options.mailbox, str(options.ost))
    try:
        account = open_account(target, options.mailbox)
        mirror = FolderMirror(account, options.target_root, create=False)
        register_fingerprint()
        with open_source(options.ost) as source:
            for folder in source.folders():
                if skip_reason(folder, include_sync_issues) or (not folder.path and not folder.item_count):
                    continue
                wanted: Counter[str] = Counter()
                for entry in source.items(folder):
                    if isinstance(entry, SourceError):
                        result.unreadable += 1
                    else:
                        wanted[fingerprint(entry)] += 1
                server_folder = mirror.ensure(folder)
                have: Counter[str] = Counter()
                for value in stamped_fingerprints(server_folder) if server_folder is not None else ():
                    if value.endswith(PENDING):
                        result.pending += 1
                    have[value.removesuffix(PENDING)] += 1
                if not wanted and not have:
                    continue
                result.folders.append(FolderCheck(
                    path=folder.path_str, source=sum(wanted.values()), server=sum(have.values()),
                    missing=len(set(wanted) - set(have)),
                    duplicated=sum(n - 1 for n in have.values() if n > 1),
                    extra=len(set(have) - set(wanted))))
    except MailboxFatalError as exc:
        result.fatal = str(exc)
    except Exception as exc:  # noqa: BLE001 - one mailbox's failure is reported, never a traceback
        result.fatal = describe(exc)
    return result


def render(result: VerifyResult) -> str:
    lines = [f"{shown(result.mailbox)} <- {shown(result.source)}: {'OK' if result.ok else 'NOT OK'}"]
    if result.fatal:
        lines.append(f"  cannot verify: {shown(result.fatal)}")
    for check in result.folders:
        flag = "" if not (check.missing or check.duplicated) else "  <--"
        lines.append(f"  {shown(check.path) or '(top)'}: source {check.source}, server {check.server}, missing "
                     f"{check.missing}, duplicated {check.duplicated}, extra {check.extra}{flag}")
    lines.append(f"  total: missing {result.missing}, duplicated {result.duplicated}, extra {result.extra}, "
                 f"unreadable in source {result.unreadable}, series pending {result.pending}")
    return "\n".join(lines)
