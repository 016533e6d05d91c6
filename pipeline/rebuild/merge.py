"""The merge run's plan: several caches of one mailbox (desktop OST, laptop OST, archive PSTs), each item once.

Before any upload, index() reads every file of the set once, cheaply (identity, folder, read/flag/categories,
newness, date; attachments are not read), into the merge index (state/merge_index.py); the index names, per
identity across caches (source/cache_identity.py), the winning copy: the one with the newest state. The walk
(rebuild/run.py) then reads the files one after another and uploads each identity from its winner only, into
the winner's folder; a copy that did not win is passed over. The server items carry a MergeStamp: the
identity across caches and the newness of the state it holds, so that a later run, with more or fewer files,
finds what is there wherever it is, and applies a newer state to it (decide()) instead of adding a copy.

"Newest" (why this order): a copy with a change number (0x6743 on OST items, PidTagChangeNumber where a file
has it) beats one without (a PST made by Outlook keeps none); then the higher change number; then the later
modification time (OST items carry none, PSTs may); then the file's recency (its newest item's time: the
last synchronization, near enough, as the OST keeps no sync time we can read); then the state and the file's
path, so that the same files in any order give the same choice. On the one sample OST 0x6743 looks like a
counter of that OST's own synchronizations, so across two OSTs it is comparable only as far as their
synchronizations with one server advance together; the tie-breaks after it are what decides when it is
absent or equal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pipeline import mapi, props
from pipeline.destination.base import ItemState
from pipeline.fingerprint import Ordinals, Stamp, fingerprint
from pipeline.folder_plan import plan_folders
from pipeline.model import SourceError, SourceItem
from pipeline.selection import BoundSelection
from pipeline.source import Source
from pipeline.source.cache_identity import ContentNumbers, ReplicaMap, cache_identity, cache_keys, content_key
from pipeline.state.journal import source_identity
from pipeline.state.merge_index import CopyRow, MergeIndex, index_path, kept_index_path, state_json

#: The prefix of a stamp written by a merge run (the one-file run's stamps are bare fingerprints).
STAMP_PREFIX = "m1:"
CONTENT = "ct:"  # a content identity's prefix (a source key's: 'sk:'; state/merge_index.py)
_NEWNESS_SEP = "/"
_CONTENT_SEP = "|"
RECOVERED = "Recovered items"  # the folder key of --recover's items (run.py RECOVERED_PLAN)


@dataclass(frozen=True, slots=True)
class FilePart:
    """What one part of a set run in parts (Temporal: execution/set_parts.py) does in one file of the set."""

    file: int  # the file's place in RunOptions.files (the order given: the same on every worker)
    folders: tuple[int, ...]  # node ids of the folders the part walks
    store: bool  # the part does the file's store duties: its errors, recovered items, settings


@dataclass(frozen=True, slots=True)
class MergeStamp:
    """What a merged server item carries in its identity property: 'm1:<identity>|<content>/<newness>' (the
    content key only beside a source key: a content identity is its content key), so that a later file
    without source keys (an Outlook-made PST) finds an item stored from an OST, and the reverse."""

    identity: str
    content: str
    newness: str

    def __str__(self) -> str:
        content = "" if self.identity == f"{CONTENT}{self.content}" else f"{_CONTENT_SEP}{self.content}"
        return f"{STAMP_PREFIX}{self.identity}{content}{_NEWNESS_SEP}{self.newness}"

    @property
    def keys(self) -> tuple[str, ...]:
        """What the server item is found by: its identity, and its content identity."""
        return tuple(dict.fromkeys((self.identity, f"{CONTENT}{self.content}")))

    @classmethod
    def parse(cls, value: str) -> MergeStamp | None:
        """The merge stamp in a stamp's value, None for any other (a one-file run's fingerprint)."""
        if not value.startswith(STAMP_PREFIX):
            return None
        head, sep, newness = value[len(STAMP_PREFIX) :].rpartition(_NEWNESS_SEP)
        identity, _, content = head.partition(_CONTENT_SEP)
        if not sep or not identity:
            return None
        return cls(identity, content or identity.removeprefix(CONTENT), newness)


def _state(text: str) -> ItemState:
    data: dict[str, Any] = json.loads(text)
    return ItemState(bool(data["read"]), int(data["flag"]), tuple(data["categories"]))


def state_of(item: SourceItem) -> str:
    flags = props.integer(item, mapi.PR_MESSAGE_FLAGS) or 0
    flag = props.integer(item, mapi.PR_FLAG_STATUS) or 0
    return state_json(bool(flags & mapi.MSGFLAG_READ), flag, props.categories(item))


def moment_of(item: SourceItem) -> str:
    for tag in (mapi.PR_MESSAGE_DELIVERY_TIME, mapi.PR_CLIENT_SUBMIT_TIME, mapi.PR_CREATION_TIME):
        value = props.time(item, tag)
        if value is not None:
            return value.strftime("%Y-%m-%dT%H:%M:%S")
    return ""


def index_file(index: MergeIndex, file: int, source: Source, selection: BoundSelection, recovered: bool = False) -> int:
    """One file's copies into the index: every item of every carried folder, in the walk's order (the content
    numbering and the one-file run's ordinals depend on it), and with `recovered` the items no folder lists
    (the run's 'Recovered items'). Returns the items read; unreadable items are the walk's to report."""
    folders = source.folders()
    plan = plan_folders(folders)
    replicas = source.replica_map()
    numbers = ContentNumbers()
    count = 0
    for folder in folders:
        if selection.folder_skip(folder):
            continue
        planned = plan[folder.node_id]
        rows = _rows(
            source.items(folder), planned.folder_key, folder.node_id, planned.identity_scope, replicas, numbers
        )
        index.add(file, rows)
        count += len(rows)
    if recovered:
        rows = _rows(source.recovered(), RECOVERED, 0, "", replicas, numbers)
        index.add(file, rows)
        count += len(rows)
    return count


def _rows(
    entries: Iterable[SourceItem | SourceError],
    folder_key: str,
    folder_node: int,
    scope: str,
    replicas: ReplicaMap,
    numbers: ContentNumbers,
) -> list[CopyRow]:
    ordinals = Ordinals(scope)
    rows = []
    for entry in entries:
        if not isinstance(entry, SourceItem):
            continue
        try:
            print_ = fingerprint(entry)
            keys = cache_keys(entry, replicas)
            content = numbers.next(content_key(entry))
        except Exception:  # noqa: BLE001 - a broken item: the walk reports it
            continue
        legacy = ordinals.next(print_)
        identity = cache_identity(entry, keys, content)
        rows.append(
            CopyRow(
                entry.node_id,
                folder_key,
                folder_node,
                identity.value if identity.kind == "source-key" else None,
                content,
                legacy,
                keys.change_number is not None,
                keys.change_number or 0,
                keys.modified.strftime("%Y-%m-%dT%H:%M:%S") if keys.modified else "",
                state_of(entry),
                moment_of(entry),
                entry.subject,
            )
        )
    return rows


class Verdict(StrEnum):
    UPLOAD = "upload"  # the winner, not on the server: sent, stamped
    PRESENT = "present"  # the winner's state and folder are on the server already
    UPDATE = "update"  # on the server, with an older state or in another folder: updated (and moved)
    NOT_WINNER = "not-winner"  # another file's copy is newer: passed over
    UNKNOWN = "unknown"  # not in the index (the item could not be read in the index pass)


@dataclass(frozen=True, slots=True)
class OnServer:
    """A server item of the mailbox, found by its stamp (a merge stamp, or a one-file run's fingerprint)."""

    server_id: str
    folder_id: str
    newness: str  # '' for a one-file run's stamp: older than any copy's
    stamp: str
    pending: bool = False
    identity: str = ""  # the identity across caches its stamp names (a one-file stamp: through the index)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    stamp: MergeStamp | None = None
    state: ItemState | None = None
    on_server: OnServer | None = None


@dataclass
class MergePlan:
    """The index of a set, the files (sorted by path: the numbering every run uses), and the server's items
    by identity across caches (read() fills it)."""

    index: MergeIndex
    files: tuple[Path, ...]
    server: dict[str, list[OnServer]] = field(default_factory=dict)
    unrecognised: int = 0  # one-file stamps that no copy of the set explains (left alone)
    #: Further server items of an identity decide() found held already (e.g. one-file runs of two files put
    #: a moved item in both folders): all but the one kept, for the run to delete at its end.
    extras: list[OnServer] = field(default_factory=list)
    #: The stamps read before the walk, by server folder id: the walk's first look at a folder (run.py _known)
    #: takes them from here instead of reading the folder again for every file.
    stamps_by_folder: dict[str, list[Stamp]] = field(default_factory=dict)

    def read_server(self, stamps_by_folder: Iterable[tuple[str, str, list[Stamp]]]) -> None:
        """The mailbox's stamped items, by identity: merge stamps directly, a one-file run's fingerprints
        through the copies that would have been stamped with it (the same folder first)."""
        for folder_id, folder_name, stamps in stamps_by_folder:
            self.stamps_by_folder[folder_id] = stamps
            for stamp in stamps:
                merged = MergeStamp.parse(stamp.identity)
                if merged is None:
                    candidates = self.index.by_legacy(stamp.identity)
                    if not candidates:
                        self.unrecognised += 1
                        continue
                    here = [c for c in candidates if c[1].rsplit("/", 1)[-1] == folder_name]
                    identity, _, content = (here or candidates)[0]
                    merged = MergeStamp(identity, content, "")  # older than any copy's state
                found = OnServer(
                    stamp.server_id, folder_id, merged.newness, stamp.identity, stamp.pending, merged.identity
                )
                for key in merged.keys:
                    self.server.setdefault(key, []).append(found)

    def decide(self, file: int, node: int, target_folder_id: str | None) -> Decision:
        """What to do with this copy, walked in this file, to go into this server folder."""
        identity = self.index.identity_of(file, node)
        winner = self.index.winner(identity) if identity is not None else None
        if winner is None:
            return Decision(Verdict.UNKNOWN)
        if (winner.file, winner.node) != (file, node):
            return Decision(Verdict.NOT_WINNER)
        stamp = MergeStamp(winner.identity, winner.content, winner.newness)
        state = _state(winner.state)
        held = [s for key in stamp.keys for s in self.server.get(key, []) if not s.pending]
        if not held:
            return Decision(Verdict.UPLOAD, stamp, state)
        best = max(held, key=lambda s: (s.newness, s.folder_id == target_folder_id, s.server_id))
        self.extras.extend(s for s in held if s.identity == winner.identity and s.server_id != best.server_id)
        if best.newness >= winner.newness and best.folder_id == target_folder_id:
            return Decision(Verdict.PRESENT, stamp, state, best)
        if best.newness > winner.newness:  # the server holds a newer state than any file of this set
            return Decision(Verdict.PRESENT, MergeStamp(winner.identity, winner.content, best.newness), state, best)
        return Decision(Verdict.UPDATE, stamp, state, best)


def build_plan(
    files: tuple[Path, ...],
    index: MergeIndex,
    open_file: Callable[[Path], Source],
    selection_of: Callable[[Source], BoundSelection],
    recovered: bool = False,
) -> MergePlan:
    """Every file of the set indexed (in path order), then merged."""
    ordered = tuple(sorted(files, key=str))
    for number, path in enumerate(ordered):
        index.add_file(number, str(path))
        with open_file(path) as source:
            index_file(index, number, source, selection_of(source), recovered)
    index.merge()
    return MergePlan(index, ordered)


def set_signature(options: Any) -> str:
    """Names a set's index: every file's copy (path, size, modification time) and what the index pass reads
    (selection, --recover, --codepage). A changed file or flag is another index."""
    selection = options.selection
    text = json.dumps(
        [
            INDEX_VERSION,
            sorted(source_identity(path) for path in options.files),
            list(selection.only),
            list(selection.exclude),
            selection.since.isoformat() if selection.since else None,
            selection.include_sync_issues,
            options.recover,
            options.codepage,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


INDEX_VERSION = 1  # of what the kept index holds: a change makes every kept index unread


@contextlib.contextmanager
def merge_plan(
    options: Any, state_dir: Path, open_file: Callable[[Path], Source], selection_of: Callable[[Source], BoundSelection]
) -> Iterator[MergePlan]:
    """The set's plan for this run. A whole run builds its index and removes it at the end; a part of a set
    run in parts (options.set_part) reads the one an earlier part on this worker kept, or builds and keeps
    it, and the set's last part (not options.keep_index) removes it."""
    kept_path = (
        None if options.set_part is None else kept_index_path(state_dir, options.mailbox, set_signature(options))
    )
    index = MergeIndex.kept(kept_path) if kept_path is not None else None
    if index is None:
        index = MergeIndex(index_path(state_dir, options.mailbox))
        try:
            build_plan(options.files, index, open_file, selection_of, options.recover)
            if kept_path is not None and options.keep_index:
                index = index.publish(kept_path)
        except BaseException:
            index.close()
            raise
    try:
        yield MergePlan(index, tuple(sorted(options.files, key=str)))
    finally:
        index.close(remove=not options.keep_index)


def file_options(options: Any, path: Path) -> Any:
    """The run's options for walking this file of the set: as they are for a whole run; for a part, its
    folders of this file and whether it does the file's store duties (None: the part has nothing here)."""
    if options.set_part is None:
        return options
    number = options.files.index(path)
    for part in options.set_part:
        if part.file == number:
            return dataclasses.replace(options, folders=part.folders, store_part=part.store)
    return None


def merge_report(plan: MergePlan, passed_over: int, moved: int) -> dict[str, Any]:
    """The merge part of a mailbox's summary: the files, per file and folder what each brought (items, those
    that won, those no other file holds, dates held), and the items a newer cache no longer holds (kept)."""
    index = plan.index
    copies, identities = index.counts()
    absent, listed = index.absent_from_newer()
    return {
        "files": [str(path) for path in plan.files],
        "copies": copies,
        "identities": identities,
        "passed_over": passed_over,
        "moved": moved,
        "unrecognised_stamps": plan.unrecognised,
        "coverage": [
            {
                "file": str(plan.files[c.file]),
                "folder": c.folder,
                "items": c.items,
                "contributed": c.contributed,
                "only_here": c.only_here,
                "oldest": c.oldest,
                "newest": c.newest,
            }
            for c in index.coverage()
        ],
        "absent_from_newer": absent,
        "absent_items": listed,
    }
