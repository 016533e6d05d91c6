"""`rebuild verify` of a cache set: the server against the merged expectation of several files.

The set is indexed as the merge run indexes it (rebuild/merge.py, into a private temporary folder), every
stamped item under the rebuilt tree is read, and each identity's winning copy is looked for: once on the
server (missing, doubled), in the server folder of the winning copy's folder (in another folder), with a
state at least as new as the winning copy's (an older state: a later file's state not applied). Stamped
items no identity of the set explains are counted as extra, as the one-file verify does.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pipeline.destination.base import Mailbox, ServerFolder
from pipeline.folder_plan import PlannedFolder, chain, plan_folders
from pipeline.rebuild.merge import OnServer, build_plan
from pipeline.rebuild.run import RunOptions
from pipeline.rebuild.verify_result import FolderCheck, VerifyResult
from pipeline.source import Source, open_source
from pipeline.state.merge_index import MergeIndex


def verify_set(options: RunOptions, mailbox: Mailbox, result: VerifyResult) -> None:
    def open_file(path: Path) -> Source:
        return open_source(path, codepage=options.codepage)

    with tempfile.TemporaryDirectory(prefix="rebuild-verify-") as folder:
        index = MergeIndex(Path(folder) / "merge.sqlite")
        try:
            plan = build_plan(options.files, index, open_file, lambda s: options.selection.bind(s.folders()))
            targets = _targets(plan.files, mailbox, open_file)
            below = mailbox.folders_below()
            plan.read_server((f.id, f.name, mailbox.stamps(f)) for f in below)
            checks: dict[str, Counter[str]] = {}
            explained: set[str] = set()
            for winner in index.winners():
                key = (winner.file, winner.folder)
                target = targets.get(key)
                label = winner.folder
                count = checks.setdefault(label, Counter())
                count["source"] += 1
                held = _held(plan.server, winner.identity, winner.content)
                explained.update(s.server_id for s in held)
                result.pending += sum(s.pending for s in held)
                if not held:
                    count["missing"] += 1
                    continue
                count["duplicated"] += len(held) - 1
                newest = max(held, key=lambda s: s.newness)
                if target is None or all(s.folder_id != target.id for s in held):
                    count["misplaced"] += 1
                if newest.newness < winner.newness:
                    count["stale"] += 1
                    result.stale += 1
            stamped = {s.server_id for held in plan.server.values() for s in held}
            for label, count in sorted(checks.items()):
                result.folders.append(
                    FolderCheck(
                        path=label,
                        source=count["source"],
                        server=count["source"] - count["missing"] + count["duplicated"],
                        missing=count["missing"],
                        duplicated=count["duplicated"],
                        extra=0,
                        misplaced=count["misplaced"],
                    )
                )
            extra = len(stamped - explained) + plan.unrecognised
            if extra:
                result.folders.append(FolderCheck("(stamped items no file of the set explains)", 0, extra, 0, 0, extra))
        finally:
            index.close()


def _held(server: dict[str, list[OnServer]], identity: str, content: str) -> list[OnServer]:
    found: dict[str, OnServer] = {}
    for key in (identity, f"ct:{content}"):
        for one in server.get(key, []):
            found.setdefault(one.server_id, one)
    return list(found.values())


class ExistingFolders:
    """A planned folder -> its server folder, never created (None when it or a parent is absent); each
    folder of the plan is looked up once, and `resolved` keeps what was found (verify.py uses it too)."""

    def __init__(self, plan: dict[int, PlannedFolder], mailbox: Mailbox) -> None:
        self.plan = plan
        self.mailbox = mailbox
        self.resolved: dict[int, ServerFolder | None] = {}

    def __call__(self, planned: PlannedFolder) -> ServerFolder | None:
        parent: ServerFolder | None = None
        for step in chain(self.plan, planned.node_id):
            if step.node_id not in self.resolved:
                self.resolved[step.node_id] = (
                    self.mailbox.folder(step, parent, create=False)
                    if parent is not None or step.parent is None
                    else None
                )
            parent = self.resolved[step.node_id]
        return parent


def _targets(
    files: tuple[Path, ...], mailbox: Mailbox, open_file: Callable[[Path], Source]
) -> dict[tuple[int, str], ServerFolder | None]:
    """(file number, folder key) -> the server folder its items go to (not created: None when absent)."""
    out: dict[tuple[int, str], ServerFolder | None] = {}
    for number, path in enumerate(files):
        with open_file(path) as source:
            plan = plan_folders(source.folders())
        server_folder = ExistingFolders(plan, mailbox)
        for planned in plan.values():
            out[(number, planned.folder_key)] = server_folder(planned)
    return out
