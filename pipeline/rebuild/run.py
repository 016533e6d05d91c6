"""One mailbox end to end: read the OST, convert each item, mirror folders, upload, journal every outcome.

The only module that wires source/, convert/ and a destination together (ARCHITECTURE.md's rule of the
house); it sees the destination through destination/base.py's Protocol alone.
"""

from __future__ import annotations

import json
import queue
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from pipeline.convert import convert_item
from pipeline.convert.preserved import is_draft
from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.merge import (
    SELECTABLE,
    TARGETS,
    SettingAction,
    SettingPlan,
    plan_setting,
    wanted,
)
from pipeline.convert.user_settings.records import SettingsMessage
from pipeline.destination.base import (
    SETTING_FAILED,
    BatchSender,
    Destination,
    Failure,
    FailureKind,
    Mailbox,
    MailboxBusy,
    MailboxFatalError,
    Outcome,
    OutcomeState,
    ServerFolder,
    SettingsLinks,
    StateChange,
)
from pipeline.fingerprint import Ordinals, Stamp, fingerprint
from pipeline.folder_plan import PlannedFolder, chain, plan_folders
from pipeline.item_values.item_warnings import ItemWarning, left_out
from pipeline.lease import MARGIN_EXTRA, Fence, LeaseHolder, LeaseKeeper, LeaseLost, bind
from pipeline.model import FolderRole, SourceError, SourceFolder, SourceItem, UploadItem
from pipeline.processes.conversion_pool import Converted, ConvertQueue, default_workers
from pipeline.rebuild import environment
from pipeline.rebuild.address_books import Stopped, codepage_note, convert_options
from pipeline.rebuild.large_items import (
    MIB,
    LargeItems,
    declared_size,
    note_for,
    save_left_out,
    strip_largest,
    with_note,
)
from pipeline.rebuild.merge import Decision, FilePart, MergePlan, Verdict, file_options, merge_plan, merge_report
from pipeline.rebuild.order import Order, Span, Windows, YearRange, folder_steps, plan
from pipeline.rebuild.rules_restore import restore_rules
from pipeline.rebuild.settings_links import folder_lookup, property_lookup, subtree_id
from pipeline.rebuild.status import RunStatus
from pipeline.selection import BoundSelection, Selection
from pipeline.settings import Settings
from pipeline.source import Source, SourceOpenError, open_source
from pipeline.source.roles import entryid_nid
from pipeline.state.filenames import Folder, descend, safe_name
from pipeline.state.journal import ItemRecord, Journal, source_identity
from pipeline.state.problems import state_problem

log = structlog.get_logger(__name__)

RECOVERED_FOLDER = SourceFolder(
    node_id=0,
    path=("Recovered items",),
    display_name="Recovered items",
    container_class="IPF.Note",
    role=FolderRole.NONE,
    item_count=0,
)
RECOVERED_PLAN = PlannedFolder(RECOVERED_FOLDER, None, "Recovered items", "Recovered items")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What to rebuild, as plain data (a MailboxJob carries it to whichever executor runs it)."""

    ost: Path
    mailbox: str
    target_root: str | None = None
    dry_run: bool = False
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: datetime | None = None
    recover: bool = False
    include_sync_issues: bool = False
    break_lease: bool = False
    folders: tuple[int, ...] | None = None  # node ids of the folders this run covers (a part); None: all
    store_part: bool = True  # this run also reports the store's own errors and uploads recovered items
    x500_domain: str | None = None  # IMCEAEX domain for unresolved Exchange senders (default: the mailbox's)
    codepage: int | None = None  # --codepage: the Windows code page of an ANSI store's 8-bit strings
    site_book: Path | None = None  # --map: every user's address book merged (pipeline/rebuild/address_books.py)
    settings: tuple[str, ...] = tuple(SELECTABLE)  # --settings: the user's settings to restore (merge.py)
    more: tuple[Path, ...] = ()  # the other files of the mailbox's set (a merge run: rebuild/merge.py)
    merge: bool = False  # --merge: a merge run even with one file (a later file of a merged mailbox)
    span: Span = Span.ALL  # usable first across a site: phases 1-4 only, or the rest (order.py, local.py)
    ranges: tuple[YearRange, ...] = ()  # big folders split across runs: this run's years of each (a part)
    #: A part of a set run in parts (Temporal: execution/set_parts.py): per file, its folders; None: whole
    set_part: tuple[FilePart, ...] | None = None
    keep_index: bool = False  # a set's part with more to come: the set's merge index kept for them (merge.py)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the mailbox's set (`ost` first, as given)."""
        return (self.ost, *self.more)

    @property
    def merging(self) -> bool:
        return self.merge or bool(self.more)

    @property
    def selection(self) -> Selection:
        return Selection(self.only, self.exclude, self.since, self.include_sync_issues)


@dataclass
class Summary:
    """The closing account of one mailbox, for people (render) and machines (as_dict)."""

    mailbox: str
    source: str
    found: int = 0
    uploaded: int = 0
    present: int = 0
    skipped: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)  # folder, class, subject, kind, reason
    warnings: Counter = field(default_factory=Counter)  # what conversion could not carry, by kind
    warning_items: list[dict[str, Any]] = field(default_factory=list)  # the first few, for the report
    addresses: Counter = field(default_factory=Counter)  # how Exchange senders/recipients were resolved
    drafts: list[dict[str, Any]] = field(default_factory=list)  # unsent mail restored as drafts: folder, subject
    codepage: str | None = None  # ANSI stores: the code page guessed for folder names and untagged items
    folders: dict[str, Any] = field(default_factory=dict)
    source_errors: int = 0
    bytes_uploaded: int = 0
    retries: int = 0
    in_doubt_found: int = 0
    duplicates_removed: int = 0  # extra copies of one identity reconciliation deleted (one copy kept)
    restored: int = 0  # items stored earlier and found missing at the end, uploaded again
    updated: int = 0  # a merge run: items already there given a newer state (moved when their folder changed)
    merge: dict[str, Any] = field(default_factory=dict)  # a merge run: files, coverage, absent items (merge.py)
    settings: list[dict[str, Any]] = field(default_factory=list)  # the user's settings: SettingPlan.as_dict
    #: Seconds from the start until the mailbox was usable: the last item of the usable phases answered
    #: (rebuild/order.py); None when the run did not get that far, or ran in folder order.
    usable_after: float | None = None
    elapsed: float = 0.0
    status: RunStatus = RunStatus.RUNNING  # "ok" only once the run has reached its end (run_status.py)
    fatal: str | None = None

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = dict(self.skipped)
        data["failed"] = dict(self.failed)
        data["failed_total"] = self.failed_total
        data["warnings"] = dict(self.warnings)
        data["addresses"] = dict(self.addresses)
        return data


class Interrupted(Exception):
    """Ctrl-C: the request in flight finished and was journaled; nothing new is started."""


class MailboxRun:
    """State of one mailbox's rebuild; call run() once."""

    def __init__(
        self,
        options: RunOptions,
        settings: Settings,
        destination: Destination | None,
        journal: Journal,
        progress: Callable[[str, dict[str, Any]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.options = options
        self.should_stop = should_stop or (lambda: False)
        self.settings = settings
        self.destination = destination
        self.journal = journal
        self.progress = progress or (lambda event, data: None)
        self.summary = Summary(options.mailbox, str(options.ost))
        self.convert_processes = settings.convert_processes or default_workers()
        self.source_id = ""
        self._incomplete: set[str] = set()  # folders (path) with an item failed or left pending in this run
        self._mailbox: Mailbox | None = None
        self._sender: BatchSender | None = None
        self._plan: dict[int, PlannedFolder] = {}
        self._server: dict[int, ServerFolder | None] = {}
        self._current: ServerFolder | None = None
        self._by_path: dict[str, ServerFolder] = {}  # the server folder of each source folder walked (path)
        self._walked: dict[str, tuple[SourceFolder, PlannedFolder]] = {}  # what reconciliation may walk again
        self._expected: dict[str, set[str]] = {}  # identities this run knows belong in each folder (path)
        self._restoring = False  # reconciliation's second walk: uploads count as restored
        self._confirmed: set[str] = set()  # folders skipped because the server agreed with the journal
        self._keeper: LeaseKeeper | None = None
        self._fence: Fence | None = None
        self._convert_options: Any = None
        self._ordinals: dict[str, Ordinals] = {}  # per folder (path), across the visits of a usable-first run
        self._known_by_path: dict[str, tuple[set[str], set[str]]] = {}  # the server's stamps, read on a first visit
        self._unread: set[str] = set()  # folders counted empty: their stamps not read on the first visit
        self._counted: Counter[str] = Counter()  # items read per folder (path), over its visits
        self._started = time.monotonic()
        self._run_id = 0  # the journal's record of this run (0: a dry run keeps none)
        self._merge: MergePlan | None = None  # a merge run's plan (rebuild/merge.py)
        self._file = 0  # a merge run: the number of the file being walked
        self._passed_over = 0  # a merge run: copies passed over for another file's newer copy
        self._moved = 0  # a merge run: items moved into the folder of their newest copy
        self._walks = 0  # files walked so far (a merge run walks several)

    # -- outcomes ---------------------------------------------------------------------------------
    def _record(self, outcomes: list[Outcome]) -> None:
        records = []
        for outcome in outcomes:
            upload = outcome.item
            folder = "/".join(upload.folder_path)
            if outcome.notes:  # what finishing it (a series' exceptions) could not carry
                self._note(upload, outcome.notes)
            if outcome.state in (OutcomeState.UPLOADED, OutcomeState.PENDING):
                if upload.fallbacks and not self._restoring:  # a simpler form: counted like conversion warnings
                    self._note(upload, upload.fallbacks)
                if self._restoring:
                    self.summary.restored += 1  # counted once already, when first stored
                else:
                    self.summary.uploaded += 1
                self.summary.bytes_uploaded += upload.size
                self._expected.setdefault(folder, set()).add(upload.identity)
                if outcome.state is OutcomeState.PENDING:
                    self._incomplete.add(folder)  # the rerun must look again
            elif outcome.state is OutcomeState.PRESENT:
                if not self._restoring:
                    self.summary.present += 1
                self._expected.setdefault(folder, set()).add(upload.identity)
            else:
                self._fail(
                    folder,
                    upload.item_class,
                    upload.subject,
                    outcome.failure or Failure(FailureKind.REFUSED),
                    upload.source_node_id,
                )
            records.append(
                ItemRecord(
                    folder,
                    upload.identity,
                    upload.source_node_id,
                    upload.item_class,
                    str(outcome.state),
                    str(outcome.server_id) if outcome.server_id else None,
                    outcome.error,
                    upload.subject,
                )
            )
        self.journal.record(self.options.mailbox, self.source_id, records)
        self.progress(
            "items",
            {
                "mailbox": self.options.mailbox,
                "done": self.summary.uploaded + self.summary.present,
                "failed": self.summary.failed_total,
                "bytes": self.summary.bytes_uploaded,
            },
        )

    def _finish_pending(self, upload: UploadItem) -> None:
        """A series a killed run created but did not finish: find it by its stamp and finish it."""
        assert self._mailbox is not None and self._current is not None
        ids = self._mailbox.find_stamped(self._current, upload.identity)
        if not ids:
            return
        for extra in ids[1:]:
            log.warning("duplicate pending series", mailbox=self.options.mailbox, server_id=extra)
        upload.series_pending = True
        self._record([self._mailbox.complete_series(self._current, ids[0], upload)])

    def _fail(self, folder: str, item_class: str, subject: str, failure: Failure, node_id: int | None) -> None:
        self.summary.failed[str(failure.kind)] += 1
        self.summary.failures.append(
            {
                "folder": folder,
                "item_class": item_class,
                "subject": subject,
                "kind": str(failure.kind),
                "reason": str(failure),
                "node_id": node_id,
            }
        )
        self._incomplete.add(folder)
        log.warning(
            "item failed",
            mailbox=self.options.mailbox,
            folder=folder,
            node_id=node_id,
            item_class=item_class,
            reason=str(failure),
        )

    def _note(self, upload: UploadItem, notes: Iterable[ItemWarning]) -> None:
        """What could not be carried is uploaded anyway, and counted (under its heading) and listed in the report."""
        for note in notes:
            self.summary.warnings[note.heading] += 1
            if len(self.summary.warning_items) < 200:
                self.summary.warning_items.append(
                    {
                        "folder": "/".join(upload.folder_path),
                        "item_class": upload.item_class,
                        "subject": upload.subject,
                        "warning": str(note),
                    }
                )

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> Summary:
        started = self._started = time.monotonic()
        opts = self.options
        try:
            if opts.merging:
                self._run_merge()
            else:
                with open_source(opts.ost, recover=opts.recover, codepage=opts.codepage) as source:
                    self.source_id = source_identity(opts.ost)
                    folders = source.folders()
                    self._plan = plan_folders(folders)
                    selection = opts.selection.bind(folders)
                    self._convert_options = self._options_for(source, folders, selection)
                    self.summary.codepage = codepage_note(source.info)
                    self._open_mailbox()
                    self._run_id = self.journal.start_run(opts.mailbox, str(opts.ost)) if not opts.dry_run else 0
                    self._walk(source, folders, selection)
            self.summary.status = (
                RunStatus.DRY_RUN
                if opts.dry_run
                else RunStatus.FAILED_ITEMS
                if self.summary.failed_total
                else RunStatus.USABLE
                if opts.span is Span.USABLE
                else RunStatus.OK
            )
        except (Interrupted, Stopped):
            self.summary.status = RunStatus.INTERRUPTED
            log.warning("mailbox interrupted", mailbox=opts.mailbox)
        except MailboxBusy as exc:
            self.summary.status = RunStatus.BUSY
            self.summary.fatal = str(exc)
            log.error("mailbox busy", mailbox=opts.mailbox, holder=exc.holder, until=exc.expires.isoformat())
        except (MailboxFatalError, SourceOpenError, LeaseLost) as exc:  # the source can still fail after the gate
            lost = self._fence.lost if self._fence is not None else None
            self.summary.status = RunStatus.LEASE_LOST if lost else RunStatus.FATAL
            self.summary.fatal = f"stopped writing: {lost}" if lost else str(exc)
            log.error("mailbox stopped", mailbox=opts.mailbox, reason=self.summary.fatal, file_only=True)
            self._count_in_flight()
        except Exception as exc:  # noqa: BLE001 - a full disk or a bug: this mailbox crashed, with true counts
            self.summary.status = RunStatus.CRASHED
            self.summary.fatal = crash_reason(exc, self.journal.path)
            log.error(
                "mailbox crashed", mailbox=opts.mailbox, reason=self.summary.fatal, exc_info=True, file_only=True
            )  # the traceback goes to the JSON log; the summary shows the one line
            self._count_in_flight()
        finally:
            bind(None)
            try:
                self._close()
            except Exception as exc:  # noqa: BLE001 - the lease expires by itself; the counts stand
                log.warning("mailbox not closed cleanly", mailbox=opts.mailbox, reason=crash_reason(exc, None))
            self.summary.elapsed = round(time.monotonic() - started, 3)
            if self.summary.status is RunStatus.RUNNING:  # a BaseException on its way through (never "ok")
                self.summary.status = RunStatus.CRASHED
            if self._run_id:
                try:
                    self.journal.finish_run(
                        self._run_id, self.summary.status, json.dumps(self.summary.as_dict(), default=str)
                    )
                except Exception as exc:  # noqa: BLE001 - `status` then calls the run crashed (its pid is gone)
                    log.warning(
                        "run not recorded in the journal",
                        mailbox=opts.mailbox,
                        reason=crash_reason(exc, self.journal.path),
                    )
        return self.summary

    def _options_for(self, source: Source, folders: list[SourceFolder], selection: BoundSelection) -> Any:
        return convert_options(
            source,
            folders,
            self.options,
            lambda f: not selection.folder_skip(f),
            self.settings.state_dir / "addressbooks",
            self.source_id,
            self.should_stop,
        )

    def _open_mailbox(self) -> None:
        """The mailbox opened, its access proven, its lease taken (before anything is written), the sender made."""
        if self.options.dry_run:
            return
        assert self.destination is not None
        self._mailbox = self.destination.open(self.options.mailbox, self.options.target_root)
        self._mailbox.check_access()
        self._take_lease()
        self._sender = self._mailbox.sender(self._record, self.settings.requests_in_flight)

    # -- a merge run (several files of one mailbox: rebuild/merge.py) -----------------------------
    def _run_merge(self) -> None:
        """Every file of the set indexed, the server's stamps read, then the files walked one after another
        (in path order), each identity uploaded from its winning copy or brought to its newest state."""
        opts = self.options

        def open_file(path: Path) -> Source:
            return open_source(path, recover=opts.recover, codepage=opts.codepage)

        with merge_plan(opts, self.settings.state_dir, open_file, lambda s: opts.selection.bind(s.folders())) as plan:
            self._merge = plan
            self._open_mailbox()
            if self._mailbox is not None:
                mailbox = self._mailbox
                plan.read_server((f.id, f.name, mailbox.stamps(f)) for f in mailbox.folders_below())
            if not opts.dry_run:
                self._run_id = self.journal.start_run(opts.mailbox, " + ".join(str(p) for p in plan.files))
            for number, path in enumerate(plan.files):
                here = file_options(opts, path)  # a part of a set: this file's folders in it (None: none)
                if here is None:
                    continue
                self.options = here
                try:
                    with open_file(path) as source:
                        self._next_file(number, path)
                        folders = source.folders()
                        self._plan = plan_folders(folders)
                        selection = opts.selection.bind(folders)
                        self._convert_options = self._options_for(source, folders, selection)
                        self.summary.codepage = self.summary.codepage or codepage_note(source.info)
                        self._walk(source, folders, selection)
                finally:
                    self.options = opts
            self._remove_extras(plan)
            self.summary.merge = merge_report(plan, self._passed_over, self._moved)

    def _remove_extras(self, plan: MergePlan) -> None:
        """Extra server copies of one identity (an item two one-file runs stored in two folders): deleted,
        keeping the one the walk kept; only items whose stamp names that identity, never an unstamped one."""
        if self._mailbox is None or not plan.extras:
            return
        by_folder: dict[str, set[str]] = {}
        for extra in plan.extras:
            by_folder.setdefault(extra.folder_id, set()).add(extra.server_id)
        for folder_id, ids in sorted(by_folder.items()):
            self._check_lease()
            self._mailbox.delete_items(ServerFolder(folder_id, ""), sorted(ids))
            self.summary.duplicates_removed += len(ids)
            log.warning("extra copies removed", mailbox=self.options.mailbox, folder_id=folder_id, copies=len(ids))

    def _next_file(self, number: int, path: Path) -> None:
        """What the walk keeps per file (node ids, folder visits, reconciliation's expectations) started afresh."""
        self._file = number
        self.source_id = source_identity(path)
        self._server, self._current, self._by_path, self._walked = {}, None, {}, {}
        self._expected, self._confirmed, self._ordinals, self._known_by_path = {}, set(), {}, {}
        self._counted, self._unread = Counter(), set()

    def _merged(self, entry: SourceItem, path: str, only: set[str] | None) -> str | None:
        """A merge run's identity for this copy when it is to be sent (the stamp), else None: another file's
        copy wins, or the server holds it (present, or brought to this copy's newer state and folder)."""
        assert self._merge is not None
        target = self._current.id if self._current is not None else None
        decision = self._merge.decide(self._file, entry.node_id, target)
        if decision.verdict is Verdict.UPLOAD:
            return str(decision.stamp)
        if only is not None:
            return None  # reconciliation's second walk sends only what this run sent
        if decision.verdict is Verdict.UNKNOWN:
            failure = Failure(FailureKind.FINGERPRINT, "its identity could not be read in the merge index pass")
            self._fail(path, entry.message_class, entry.subject, failure, entry.node_id)
        elif decision.verdict is Verdict.NOT_WINNER:
            self._passed_over += 1
        elif decision.verdict is Verdict.PRESENT:
            self.summary.present += 1
        else:
            self._apply_state(entry, path, decision)
        return None

    def _apply_state(self, entry: SourceItem, path: str, decision: Decision) -> None:
        """The item already there given this copy's newer state, restamped, and moved into this folder."""
        assert self._mailbox is not None and self._current is not None
        on, stamp, state = decision.on_server, decision.stamp, decision.state
        assert on is not None and stamp is not None and state is not None
        update = getattr(self._mailbox, "update_state", None)
        if update is None:
            name = self.destination.name if self.destination is not None else "this"
            failure = Failure(
                FailureKind.STATE, f"the {name} destination cannot update items yet: newer state kept out"
            )
            self._fail(path, entry.message_class, entry.subject, failure, entry.node_id)
            return
        change = StateChange(on.server_id, self._current, state, str(stamp), move=on.folder_id != self._current.id)
        self._check_lease()
        try:
            update(change)
        except (MailboxFatalError, LeaseLost, Interrupted, Stopped):
            raise
        except Exception as exc:  # noqa: BLE001 - one item's update refused: reported, the run goes on
            failure = Failure(FailureKind.STATE, f"{type(exc).__name__}: {exc}")
            self._fail(path, entry.message_class, entry.subject, failure, entry.node_id)
            return
        self.summary.updated += 1
        self._moved += change.move
        self._expected.setdefault(path, set()).add(change.stamp)

    def _count_in_flight(self) -> None:
        """After a crash or a fatal stop: the outcomes of the batches that were in flight are counted (and
        journaled where the journal still takes them), so that items the server took are counted as
        uploaded. The batches end by themselves (their requests are bounded by the request timeout)."""
        sender = self._sender
        if sender is None:
            return
        unjournaled: list[str] = []
        try:
            sender.close()  # every batch in flight has put its outcomes on the queue
            waiting = getattr(sender, "outcomes", None)  # a sender without a queue handled each batch at once
            while waiting is not None:
                try:
                    outcomes = waiting.get_nowait()
                except queue.Empty:  # all counted
                    break
                try:
                    self._record(outcomes)  # counts first, then the journal (which may be what failed)
                except Exception as exc:  # noqa: BLE001 - counted; the rerun finds them on the server
                    unjournaled.append(crash_reason(exc, self.journal.path))
            if unjournaled:
                log.warning(
                    "outcomes counted, not journaled",
                    mailbox=self.options.mailbox,
                    batches=len(unjournaled),
                    reason=unjournaled[0],
                    file_only=True,
                )
        except Exception as exc:  # noqa: BLE001 - best effort after a crash
            log.warning("batches in flight not counted", mailbox=self.options.mailbox, reason=crash_reason(exc, None))

    def _walk(self, source: Source, folders: list[SourceFolder], selection: BoundSelection) -> None:
        folder_skips: Counter[str] = Counter()
        total = sum(f.item_count for f in folders if not selection.folder_skip(f))
        if self._merge is not None:  # a merge run: one start, its total the items of the whole set
            total = self._merge.index.counts()[1]
        self._walks += 1
        if self._merge is None or self._walks == 1:  # a merge run: one start, for the first file walked
            self.progress("start", {"mailbox": self.options.mailbox, "total": total})
        try:
            carried = []
            for folder in folders:
                if self.options.folders is not None and folder.node_id not in self.options.folders:
                    continue  # another part of the mailbox, run separately (execution/mailbox_parts.py)
                reason = selection.folder_skip(folder)
                if reason:
                    folder_skips[str(reason)] += 1
                    if folder.item_count:
                        self.summary.found += folder.item_count
                        self.summary.skipped[str(reason)] += folder.item_count
                    continue
                carried.append(folder)
            self._steps(source, folders, carried, selection)
            if self.options.recover and self.options.store_part and self.options.span is not Span.USABLE:
                self._do_folder(RECOVERED_FOLDER, RECOVERED_PLAN, source.recovered(), selection)
            if self._sender is not None:
                self._sender.wait()  # every outcome handled and every folder recorded
                if self.options.span is not Span.USABLE:  # a site's first round: its second walks every folder
                    self._reconcile(source, selection)  # again and reads it back at its end (rounds.py)
                if self.settings.order == Order.FOLDERS:
                    self._restore_settings(source, folders)  # usable first: with the tree (_steps)
            for error in source.errors if self.options.store_part and self.options.span is not Span.USABLE else ():
                self.summary.source_errors += 1
                self._fail(
                    "/".join(error.folder_path),
                    error.what,
                    "",
                    Failure(FailureKind.UNREADABLE, error.reason, error.what),
                    error.node_id,
                )
        finally:
            self.summary.folders = {"skipped": dict(folder_skips)}
            if self._mailbox is not None:
                stats = self._mailbox.folder_stats
                self.summary.folders.update(
                    mapped=stats.mapped, created=stats.created, found=stats.found, renamed=stats.renamed
                )
            if self._sender is not None:
                self.summary.retries = self._sender.stats.retries
                self.summary.in_doubt_found = self._sender.stats.in_doubt_found

    def _restore_settings(self, source: Source, folders: list[SourceFolder]) -> None:
        """The user's settings --settings names (category list, work hours), after the items, from the
        folders' associated messages, merged with what the mailbox has (merge.py says how). One that fails is
        reported as failed; the mailbox goes on."""
        if not self.options.settings or not self.options.store_part or self._mailbox is None:
            return
        messages = []
        for folder in folders:
            for entry in source.associated(folder):
                if isinstance(entry, SourceItem):
                    messages.append(read_setting(entry))
                else:  # listed, not counted as failed: it may hold no setting this run restores
                    self.summary.settings.append(
                        {
                            "setting": "unreadable",
                            "folder": "/".join(entry.folder_path),
                            "action": SettingAction.SKIP.value,
                            "reason": entry.reason,
                        }
                    )
        restore = getattr(self._mailbox, "restore_settings", None)
        if restore is not None:  # a destination that restores the settings itself (Graph)
            self._restore_settings_with(restore, messages, source)
            return
        configurations = getattr(self._mailbox, "configurations", None)
        for message in wanted(messages, self.options.settings):
            if message.kind not in TARGETS:
                continue  # the rest of the environment: rebuild/environment.py, below
            target = TARGETS[message.kind]
            if configurations is None:
                plan = SettingPlan(
                    message.kind,
                    target,
                    SettingAction.SKIP,
                    reason="this destination cannot write user configurations yet",
                )
            else:
                store = configurations()
                try:
                    plan = plan_setting(message, store.read(target))
                    if plan.action in (SettingAction.CREATE, SettingAction.UPDATE) and plan.xml is not None:
                        store.write(target, plan.xml, create=plan.action is SettingAction.CREATE)
                except (MailboxFatalError, LeaseLost, Stopped, Interrupted):
                    raise
                except Exception as exc:  # noqa: BLE001 - one setting refused: reported, the mailbox goes on
                    self.summary.failed["setting"] += 1
                    self.summary.settings.append(
                        {
                            "setting": message.kind.value,
                            "folder": target.folder,
                            "name": target.name,
                            "action": "failed",
                            "reason": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    continue
            self.summary.settings.append(plan.as_dict())
            log.info("setting", mailbox=self.options.mailbox, setting=plan.kind.value, action=plan.action.value)
        self._restore_environment(source, folders, messages)
        if "rules" in self.options.settings:
            by_counter = {f.global_counter: f.node_id for f in folders if f.global_counter}
            self._restore_rules(messages, folders, lambda entry_id: entryid_nid(entry_id, by_counter))

    def _restore_environment(self, source: Source, folders: list[SourceFolder], messages: list) -> None:
        """Autocomplete, search folders, junk e-mail lists, shortcuts (rebuild/environment.py says how)."""
        book = self._convert_options.book if self._convert_options is not None else None
        selected = tuple(SELECTABLE[name] for name in self.options.settings)
        given = environment.Restored(
            folders=folders,
            rebuilt={node: found.id for node, found in self._server.items() if found is not None},
            folder_by_entry_id=getattr(source, "folder_by_entry_id", lambda entry_id: None),
            property_name=getattr(source, "property_name", lambda prop_id: None),
            lookup=lambda dn: book.lookup(dn)[0] if book is not None else None,
            mailbox=self._mailbox,
            address=self.options.mailbox,
            write_script=self._write_script,
            fatal=(MailboxFatalError, LeaseLost, Stopped, Interrupted),
        )
        for entry in environment.restore(messages, selected, given):
            if entry.get("action") == "failed":
                self.summary.failed["setting"] += 1
            self.summary.settings.append(entry)
            log.info("setting", mailbox=self.options.mailbox, setting=entry.get("setting"), action=entry.get("action"))

    def _write_script(self, name: str, data: bytes) -> str:
        """A script the report names, owner-only under <reports>/settings/<mailbox>/; its path."""
        reports = self.settings.reports_dir
        reports.mkdir(parents=True, exist_ok=True, mode=0o700)
        mailbox_folder = safe_name(self.options.mailbox, file=False)
        with Folder.open(reports) as top, descend(top, ("settings", mailbox_folder), 0o700) as folder:
            folder.replace(name, data, 0o600)
        return str(reports / "settings" / mailbox_folder / name)

    def _restore_settings_with(self, restore: Callable[..., Any], messages: list[Any], source: Source) -> None:
        """The settings through the destination's own restore, given where the source's folders are now
        (rebuild/settings_links.py); each outcome reported, a failed one counted."""
        assert self._mailbox is not None
        links = SettingsLinks(
            folder_lookup(source, self._plan, self._server, self._mailbox),
            property_lookup(source),
            subtree_id(self._plan, self._server, self._mailbox),
        )
        for outcome in restore(messages, self.options.settings, links):
            if outcome.action == SETTING_FAILED:
                self.summary.failed["setting"] += 1
            self.summary.settings.append(outcome.as_dict())
            log.info("setting", mailbox=self.options.mailbox, setting=outcome.setting, action=outcome.action)

    def _restore_rules(
        self, messages: list[SettingsMessage], folders: list[SourceFolder], folder_of: Callable[[bytes], int | None]
    ) -> None:
        """The inbox rules (rebuild/rules_restore.py says how); a rule the server refused counts as failed."""

        def server_id(node: int) -> str | None:
            planned = self._plan.get(node)
            server = self._server_folder(planned) if planned is not None else None
            return server.id if server is not None else None

        fatal = (MailboxFatalError, LeaseLost, Stopped, Interrupted)
        for entry in restore_rules(messages, folders, folder_of, self._mailbox, server_id, fatal):
            if entry.get("action") == "failed":
                self.summary.failed["setting"] += 1
            self.summary.settings.append(entry)
            log.info("setting", mailbox=self.options.mailbox, setting="rule", action=entry.get("action"))

    def _steps(
        self, source: Source, folders: list[SourceFolder], carried: list[SourceFolder], selection: BoundSelection
    ) -> None:
        """The folders' items in the run's order (rebuild/order.py): usable first (the tree and the user's
        settings before any item), or folder by folder (the settings after the items)."""
        by_id = {folder.node_id: folder for folder in carried}
        if self.settings.order == Order.FOLDERS:
            steps = folder_steps(carried)
        else:
            timelines = {
                f.node_id: list(source.timeline(f)) for f in carried if f.item_count and not self._settled(f, selection)
            }
            windows = Windows(self.settings.usable_mail_days, self.settings.usable_calendar_days)
            steps = plan(carried, timelines, datetime.now(UTC), windows)
            if self._mailbox is not None:
                for folder in carried:  # phase 1: the whole tree before any item, and the user's settings
                    self._server_folder(self._plan[folder.node_id])
                if self.options.span is not Span.REST:  # a site's second round: the first restored them
                    self._restore_settings(source, folders)
        if self.options.ranges:  # a part of a split folder: only its years (the folder is recorded by none)
            ranges = {r.node_id: r for r in self.options.ranges}
            steps = [s for s in steps if s.node_id not in ranges or ranges[s.node_id].covers(s)]
        usable_marked = self.settings.order == Order.FOLDERS
        for step in steps:
            if not usable_marked and not step.phase.usable:
                self._mark_usable()
                usable_marked = True
            if self.options.span is Span.USABLE and not step.phase.usable:
                return  # the rest in the site's second round (execution/local.py)
            folder = by_id[step.node_id]
            entries = source.items(folder) if step.indexes is None else source.items_at(folder, step.indexes)
            self._do_folder(folder, self._plan[folder.node_id], entries, selection, last=step.last)
        if not usable_marked:
            self._mark_usable()

    def _settled(self, folder: SourceFolder, selection: BoundSelection) -> bool:
        """A folder the journal says is complete (its timeline is not read: the first visit confirms it with
        the server, and a folder the server does not confirm is then walked whole, in store order)."""
        return (
            self._merge is None
            and selection.selection.whole
            and self.journal.folder_done(
                self.options.mailbox, self._plan[folder.node_id].folder_key, self.source_id, folder.item_count
            )
        )

    def _mark_usable(self) -> None:
        """Once every item sent so far is answered: the mailbox is usable (its usable phases are done)."""

        def mark() -> None:
            self.summary.usable_after = round(time.monotonic() - self._started, 3)
            if self._run_id:
                self.journal.mark_usable(self._run_id)
            self.progress("usable", {"mailbox": self.options.mailbox, "after": self.summary.usable_after})
            log.info("mailbox usable", mailbox=self.options.mailbox, after=self.summary.usable_after)

        if self._sender is not None:
            self._sender.after(mark)
        else:
            mark()

    def _close(self) -> None:
        if self._sender is not None:
            self._sender.close()
        if self._keeper is not None:
            self._keeper.stop()
            if not self._keeper.lost:
                assert self._mailbox is not None
                try:
                    self._mailbox.release_lease()
                except Exception as exc:  # noqa: BLE001 - it expires by itself; the run's outcome stands
                    log.warning("lease not released", mailbox=self.options.mailbox, reason=f"{type(exc).__name__}")
        if self._mailbox is not None:
            self._mailbox.close()

    def _take_lease(self) -> None:
        """Take the mailbox's lease and start the fence from when the taking began (its winning write was
        sent no earlier), or, when taking meant watching another holder's lease for a while, from a renewal
        made at once; bind the fence to this thread (every request checks it); keep renewing on a thread."""
        assert self._mailbox is not None
        holder = LeaseHolder.me(self.settings.lease_seconds)
        fence = Fence(self.settings.lease_seconds, self.settings.request_timeout + MARGIN_EXTRA)
        sent_at = fence.clock()
        self._mailbox.take_lease(holder, self.options.break_lease)
        if fence.clock() - sent_at > fence.window / 2:
            sent_at = fence.clock()
            holder = holder.renewed()
            self._mailbox.renew_lease(holder)
        fence.acknowledged(sent_at)
        self._fence = fence
        bind(fence)
        self._keeper = LeaseKeeper(self._mailbox.renew_lease, holder, self._fence).start()

    def _check_lease(self) -> None:
        if self._fence is not None:
            self._fence.check()

    # -- folders ----------------------------------------------------------------------------------
    def _server_folder(self, planned: PlannedFolder) -> ServerFolder | None:
        """The server folder of a planned folder, its ancestors resolved first through the plan (so a
        localized inbox is the server's Inbox, whatever an earlier run did or skipped)."""
        assert self._mailbox is not None
        parent: ServerFolder | None = None
        for step in chain(self._plan, planned.node_id) if planned.node_id in self._plan else [planned]:
            if step.node_id not in self._server:
                self._server[step.node_id] = self._mailbox.folder(step, parent)
            parent = self._server[step.node_id]
        return parent

    def _do_folder(
        self,
        folder: SourceFolder,
        planned: PlannedFolder,
        entries: Iterable[SourceItem | SourceError],
        selection: BoundSelection,
        only: set[str] | None = None,
        last: bool = True,
    ) -> None:
        """One visit of a folder: skipped when the journal says it is complete and the server agrees, else the
        visit's items read, compared with the server's stamps and the missing ones sent (only: just those
        identities, reconciliation's second walk). A usable-first run visits a folder in several steps: the
        journal is asked and the stamps read on the first, the ordinals among equals carry on from visit to
        visit, and the folder is recorded complete on its last (`last`)."""
        opts = self.options
        path = planned.folder_key
        whole = selection.selection.whole
        if path in self._confirmed:
            return  # complete on the server: its other steps have nothing to do
        first = only is not None or path not in self._known_by_path
        if first and only is None and folder is not RECOVERED_FOLDER:
            self._walked[path] = (folder, planned)
            if (
                whole
                and self._merge is None  # a merge run decides item by item, across files
                and self.journal.folder_done(opts.mailbox, path, self.source_id, folder.item_count)
                and self._journal_confirmed(path, planned)
            ):
                self._confirmed.add(path)
                share = next((r for r in opts.ranges if r.node_id == folder.node_id), None)
                if share is not None and not share.newest:
                    return  # a folder split across parts is counted once, by its newest part
                self.summary.found += folder.item_count
                self.summary.present += folder.item_count
                log.info("folder already complete", mailbox=opts.mailbox, folder=path, items=folder.item_count)
                self.progress(
                    "folder",
                    {"mailbox": opts.mailbox, "folder": path, "items": folder.item_count, "present": folder.item_count},
                )
                self.progress(
                    "items",
                    {
                        "mailbox": opts.mailbox,
                        "done": self.summary.uploaded + self.summary.present,
                        "failed": self.summary.failed_total,
                        "bytes": self.summary.bytes_uploaded,
                    },
                )
                return
        if only is not None:
            known, pending = self._known(path, planned)
            ordinals = Ordinals(planned.identity_scope)  # the second walk is a whole walk in store order
        else:
            if first:
                # an empty folder's stamps are not read: nothing to compare them with (_items reads them if
                # an item turns up after all)
                empty = folder.item_count == 0 and folder is not RECOVERED_FOLDER
                self._known_by_path[path] = self._known(path, planned, read=not empty)
                if empty:
                    self._unread.add(path)
                self._ordinals[path] = Ordinals(planned.identity_scope)
            else:
                self._current = self._by_path.get(path)
            known, pending = self._known_by_path[path]
            ordinals = self._ordinals[path]
        if first:
            log.info("folder", mailbox=opts.mailbox, folder=path, items=folder.item_count, known=len(known))
            self.progress(
                "folder", {"mailbox": opts.mailbox, "folder": path, "items": folder.item_count, "present": len(known)}
            )
        count = self._items(folder, planned, entries, selection, known, pending, only, ordinals)
        if only is None:
            self._counted[path] += count
        if not whole or opts.dry_run or folder is RECOVERED_FOLDER or only is not None or not last:
            return
        count = self._counted[path]
        server_id = self._current.id if self._current else None

        def record_folder() -> None:
            if path not in self._incomplete and self._merge is None:
                self.journal.set_folder(
                    opts.mailbox, path, self.source_id, count, done=count == folder.item_count, server_id=server_id
                )

        if self._sender is not None:
            # once the folder's batches are handled: meanwhile the next folder is read and sent
            self._sender.after(record_folder)
        else:
            record_folder()

    def _journal_confirmed(self, path: str, planned: PlannedFolder) -> bool:
        """Whether the server still holds every item the journal says this folder holds: one read of the
        folder's stamps instead of the journal's word alone (a folder deleted or emptied on the server since
        is walked again). Without a destination (dry run) the journal is all there is."""
        if self._mailbox is None:
            return True
        server = self._server_folder(planned)
        if server is None:
            return False
        self._by_path[path] = server
        recorded = self.journal.done_fingerprints(self.options.mailbox, path)
        stamps = self._mailbox.stamps(server)
        self._remove_copies(path, server, stamps)  # this read is the folder's reconciliation too
        present = {s.identity for s in stamps if not s.pending}
        self._expected.setdefault(path, set()).update(recorded)
        missing = len(recorded - present)
        if missing:
            log.warning(
                "folder complete in the journal but not on the server: walking it again",
                mailbox=self.options.mailbox,
                folder=path,
                missing=missing,
                journal=len(recorded),
            )
        return not missing

    def _reconcile(self, source: Source, selection: BoundSelection) -> None:
        """The last step of a run: every folder it touched is read back from the server. Extra copies of an
        identity (a paused writer's late batch, a server that committed twice) are deleted, keeping one: a
        finished copy over a pending series, then the smallest server id, an order any run computes alike,
        so two runs reconciling at once keep the same copy. An item without a stamp is never touched (only
        stamped items are listed). Identities this run stored or found that are gone are sent again (one more round);
        still gone after it, they are reported as failures."""
        assert self._mailbox is not None and self._sender is not None
        mailbox = self._mailbox
        started = time.monotonic()
        for round_ in (1, 2):
            missing_by_path: dict[str, set[str]] = {}
            touched = {path: server for path, server in self._by_path.items() if self._touched(path)}
            # the read-backs go `requests_in_flight` at a time (each checks the fence, from its own thread)
            with ThreadPoolExecutor(
                max_workers=max(1, self.settings.requests_in_flight),
                thread_name_prefix="reconcile",
                initializer=bind,
                initargs=(self._fence,),
            ) as pool:
                read = dict(zip(touched, pool.map(mailbox.stamps, touched.values()), strict=True))
            for path, server in touched.items():
                self._check_lease()
                stamps = read[path]
                self._remove_copies(path, server, stamps)
                missing = self._expected.get(path, set()) - {s.identity for s in stamps}
                if missing:
                    missing_by_path[path] = missing
            if not missing_by_path:
                log.info(
                    "reconciled with the server",
                    mailbox=self.options.mailbox,
                    folders=len(touched),
                    seconds=round(time.monotonic() - started, 2),
                )
                return
            for path, missing in missing_by_path.items():
                log.warning(
                    "items gone from the server since they were stored: sending them again",
                    mailbox=self.options.mailbox,
                    folder=path,
                    items=len(missing),
                    round=round_,
                )
                if round_ == 2 or path not in self._walked:
                    self._fail(
                        path,
                        "",
                        f"{len(missing)} items",
                        Failure(FailureKind.VANISHED, f"{len(missing)} items stored, then gone from the server folder"),
                        None,
                    )
                    continue
                folder, planned = self._walked[path]
                self._restoring = True
                try:
                    self._do_folder(folder, planned, source.items(folder), selection, only=missing)
                    self._sender.wait()
                finally:
                    self._restoring = False

    def _remove_copies(self, path: str, server: ServerFolder, stamps: list[Stamp]) -> None:
        """Delete the extra copies these stamps show (duplicate_copies says which copy stays)."""
        assert self._mailbox is not None
        extras = duplicate_copies(stamps)
        if extras:
            self._check_lease()
            self._mailbox.delete_items(server, extras)
            self.summary.duplicates_removed += len(extras)
            log.warning("extra copies removed", mailbox=self.options.mailbox, folder=path, copies=len(extras))

    def _touched(self, path: str) -> bool:
        """Whether reconciliation reads this folder back: one this run walked on the server, unless it holds
        nothing and is to hold nothing (no writer, paused or not, had anything to put there); a folder only
        confirmed from the journal was read moments ago and this run wrote nothing into it."""
        if path in self._confirmed:
            return False
        walked = self._walked.get(path)
        return bool(self._expected.get(path)) or walked is None or walked[0].item_count > 0

    def _known(self, path: str, planned: PlannedFolder, read: bool = True) -> tuple[set[str], set[str]]:
        """Identities already in the folder, and those of series still pending. The server's stamps are the
        final word (not read: none); without a destination (dry run) the journal says what earlier runs stored."""
        self._current = None
        if self._mailbox is None:
            return self.journal.done_fingerprints(self.options.mailbox, path), set()
        self._current = self._server_folder(planned)
        if self._current is not None:
            self._by_path[path] = self._current
        stamps: list[Stamp]
        if self._current is None or not read:
            stamps = []
        elif self._current.created:
            stamps = []  # this run created it, empty; nobody else writes into it (the lease): nothing to read
        elif self._merge is not None and self._current.id in self._merge.stamps_by_folder:
            stamps = self._merge.stamps_by_folder[self._current.id]  # read before the walk (merge.py)
        else:
            stamps = self._mailbox.stamps(self._current)
        return {s.identity for s in stamps if not s.pending}, {s.identity for s in stamps if s.pending}

    def _items(
        self,
        folder: SourceFolder,
        planned: PlannedFolder,
        entries: Iterable[SourceItem | SourceError],
        selection: BoundSelection,
        known: set[str],
        pending: set[str],
        only: set[str] | None = None,
        ordinals: Ordinals | None = None,
    ) -> int:
        """Every item of the folder: identity, dedupe, conversion, batches. Returns the items read. With only,
        just those identities are considered (and nothing is counted twice: the first walk counted them)."""
        path = planned.folder_key
        ordinals = ordinals or Ordinals(planned.identity_scope)
        batch: list[UploadItem] = []
        batch_size = 0
        queue = ConvertQueue(
            self.convert_processes, window=max(2 * self.settings.batch_items, 32), options=self._convert_options
        )
        present: list[Outcome] = []
        count = 0

        def accept(converted: Converted) -> None:
            nonlocal batch, batch_size
            upload = self._accepted(converted, pending)
            if upload is None:
                return
            if batch and (
                len(batch) >= self.settings.batch_items or batch_size + upload.size > self.settings.batch_bytes
            ):
                self._send(batch)
                batch, batch_size = [], 0
            batch.append(upload)
            batch_size += upload.size

        for entry in entries:
            if path in self._unread and only is None:  # counted empty, yet it lists an item: the stamps now
                self._unread.discard(path)
                more_known, more_pending = self._known(path, planned)
                known.update(more_known)
                pending.update(more_pending)
            if self.should_stop():
                if present:
                    self._record(present)
                if self._sender is not None:
                    self._sender.wait()  # the requests in flight finish and are journaled
                raise Interrupted()  # converted but unsent items are simply redone by the rerun
            if isinstance(entry, SourceError):
                if only is not None:
                    continue
                self.summary.found += 1
                self.summary.source_errors += 1
                self._fail(
                    path, entry.what, "", Failure(FailureKind.UNREADABLE, entry.reason, entry.what), entry.node_id
                )
                continue
            count += 1
            if only is None:
                self.summary.found += 1
            if self._merge is not None:
                merged = self._merged(entry, path, only)
                if merged is None:
                    continue
                identity = merged
            else:
                try:
                    identity = ordinals.next(fingerprint(entry))  # every item counts, skipped ones too
                except Exception as exc:  # noqa: BLE001 - a broken item must not stop the walk
                    if only is None:
                        self._fail(
                            path,
                            entry.message_class,
                            entry.subject,
                            Failure(FailureKind.FINGERPRINT, f"{type(exc).__name__}: {exc}"),
                            entry.node_id,
                        )
                    continue
            if only is not None and identity not in only:
                continue
            skip = selection.item_skip(entry)
            if skip:
                self.summary.skipped[str(skip)] += 1
                continue
            if identity in known:
                present.append(Outcome(_stub(entry, folder, identity), OutcomeState.PRESENT))
                if len(present) >= 500:
                    self._record(present)
                    present = []
                continue
            known.add(identity)
            size = declared_size(entry)  # an item surely over the limit is refused before a byte is read
            if self.settings.large_items == LargeItems.SKIP and size > self.settings.max_item_mb * MIB:
                self._fail(
                    path,
                    entry.message_class,
                    entry.subject,
                    Failure(
                        FailureKind.TOO_LARGE,
                        (
                            f"its attachments hold {size / MIB:.1f} MB, over the {self.settings.max_item_mb} MB limit "
                            "(--large-items=strip sends it without its largest attachments)"
                        ),
                    ),
                    entry.node_id,
                )
                continue
            queue.submit(entry.materialize(), planned.folder_path, identity)
            for converted in queue.ready():
                accept(converted)
        for converted in queue.drain():
            accept(converted)
        if present:
            self._record(present)
        if batch:
            self._send(batch)
        return count

    def _accepted(self, converted: Converted, pending: set[str]) -> UploadItem | None:
        """A converted item ready to join a batch, or None (a conversion failure, a dry run, a pending series
        finished instead of sent again)."""
        entry, upload = converted.item, converted.upload
        if upload is None:
            self._fail(
                "/".join(entry.folder_path),
                entry.message_class,
                entry.subject,
                Failure(FailureKind.CONVERSION, converted.error or ""),
                entry.node_id,
            )
            return None
        if self._mailbox is not None:
            upload.warnings.extend(self._mailbox.cannot_carry(upload))
        self._note(upload, upload.warnings)
        self.summary.addresses.update(upload.address_sources)
        if upload.kind == "message" and is_draft(entry):
            self.summary.drafts.append({"folder": "/".join(upload.folder_path), "subject": upload.subject})
        if upload.size > self.settings.max_item_mb * MIB:
            upload = self._too_large(entry, upload)
            if upload is None:
                return None
        if self.options.dry_run or self._mailbox is None:
            self.summary.skipped["dry run: would upload"] += 1
            return None
        if upload.has_series_exceptions:
            if upload.identity in pending:
                self._finish_pending(upload)
                return None
            upload.series_pending = True
        return upload

    def _too_large(self, entry: SourceItem, upload: UploadItem) -> UploadItem | None:
        """An item over --max-item-mb: reported (skip), or sent without its largest attachments (strip),
        which are saved under reports/large-attachments/. None when it is not sent."""
        limit = self.settings.max_item_mb * MIB
        folder = "/".join(upload.folder_path)
        failure = Failure(
            FailureKind.TOO_LARGE,
            f"{upload.size / MIB:.1f} MB, over the {self.settings.max_item_mb}"
            f" MB limit (--large-items=strip sends it without its largest attachments)",
        )
        if self.settings.large_items == LargeItems.STRIP and (found := strip_largest(entry, upload.size, limit)):
            smaller, dropped = found
            try:
                saved = save_left_out(self.settings.reports_dir, self.options.mailbox, upload.identity, dropped)
            except OSError as exc:  # a full disk, a planted link: never sent without its attachments kept
                reason = exc.strerror or str(exc)
                failure = Failure(
                    FailureKind.TOO_LARGE,
                    f"{upload.size / MIB:.1f} MB, over the "
                    f"{self.settings.max_item_mb} MB limit; its largest attachments could not be "
                    f"saved to leave them out: {reason}",
                )
                self._fail(folder, upload.item_class, upload.subject, failure, upload.source_node_id)
                return None
            note = note_for(saved)
            stripped = convert_item(
                with_note(smaller, note), upload.folder_path, self._convert_options, identity=upload.identity
            )
            if stripped.size <= limit:
                stripped.warnings.append(left_out(len(saved)))
                self._note(stripped, stripped.warnings[-1:])
                return stripped
        self._fail(folder, upload.item_class, upload.subject, failure, upload.source_node_id)
        return None

    def _send(self, batch: list[UploadItem]) -> None:
        self._check_lease()
        if self._sender is not None and self._current is not None:
            self._sender.send(self._current, batch)


def crash_reason(exc: BaseException, state_path: Path | None) -> str:
    """One line for an unexpected error: what to do for a state-dir or disk problem, else its type and text."""
    problem = state_problem(exc, state_path) if state_path is not None else None
    if problem is not None:
        return str(problem)
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _stub(item: SourceItem, folder: SourceFolder, identity: str) -> UploadItem:
    """A record of an item found already on the server: enough for the journal, no conversion."""
    return UploadItem(
        kind="message",
        item_class=item.message_class,
        folder_path=folder.path,
        identity=identity,
        subject=item.subject,
        source_node_id=item.node_id,
    )


def duplicate_copies(stamps: list[Stamp]) -> list[str]:
    """Server ids of the copies to delete so that each identity is held once: per identity, a finished copy
    is kept over a pending one, then the smallest server id (the same choice in every run)."""
    by_identity: dict[str, list[Stamp]] = {}
    for stamp in stamps:
        by_identity.setdefault(stamp.identity, []).append(stamp)
    extras: list[str] = []
    for copies in by_identity.values():
        if len(copies) > 1:
            _kept, *rest = sorted(copies, key=lambda s: (s.pending, s.server_id))
            extras.extend(s.server_id for s in rest if s.server_id)
    return extras
