"""One mailbox end to end: read the OST, convert each item, mirror folders, upload, journal every outcome.

The only module that wires source/, convert/ and target/ together (ARCHITECTURE.md's rule of the house).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from pipeline.addressing import Stopped, codepage_note, convert_options
from pipeline.convert.fingerprint import fingerprint
from pipeline.convert.preserved import is_draft
from pipeline.journal import ItemRecord, Journal, source_identity
from pipeline.model import FolderRole, SourceError, SourceFolder, SourceItem, UploadItem
from pipeline.settings import Settings
from pipeline.source import open_source
from pipeline.target import occurrences, retry
from pipeline.target.connect import Target, open_account
from pipeline.target.errors import MailboxFatalError, describe
from pipeline.target.folders import FolderMirror, skip_reason
from pipeline.target.items import unsupported_fields
from pipeline.target.properties import FINGERPRINT_FIELD
from pipeline.target.retry import RetryPolicy
from pipeline.target.sender import Sender
from pipeline.target.upload import FALLBACK_WARNINGS, Batcher, Outcome
from pipeline.workers import Converted, ConvertQueue, default_workers

log = structlog.get_logger(__name__)

RECOVERED_FOLDER = SourceFolder(node_id=0, path=("Recovered items",), display_name="Recovered items",
                                container_class="IPF.Note", role=FolderRole.NONE, item_count=0)


@dataclass(frozen=True, slots=True)
class RunOptions:
    ost: Path
    mailbox: str
    target_root: str | None = None
    dry_run: bool = False
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: datetime | None = None
    recover: bool = False
    include_sync_issues: bool = False
    x500_domain: str | None = None  # IMCEAEX domain for unresolved Exchange senders (default: the mailbox's)
    codepage: int | None = None  # --codepage: the Windows code page of an ANSI store's 8-bit strings
    site_book: Path | None = None  # --map: every user's address book merged (pipeline/addressing.py)


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
    failures: list[dict[str, Any]] = field(default_factory=list)  # folder, class, subject, reason
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
    elapsed: float = 0.0
    status: str = "ok"  # ok | failed-items | fatal | dry-run
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


def _matches(path: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    """A folder matches FOLDER when its path is FOLDER or below it (case-insensitive, '/'-separated)."""
    text = "/".join(path).casefold()
    return any(text == p.strip("/").casefold() or text.startswith(p.strip("/").casefold() + "/")
               for p in patterns)


def _item_time(item: SourceItem) -> datetime | None:
    for prop in (0x0E06, 0x0039, 0x3007):  # delivery, submit, creation
        value = item.properties.get(prop)
        if isinstance(value, datetime):
            return value
    return None


class Interrupted(Exception):
    """Ctrl-C: the request in flight finished and was journaled; nothing new is started."""


class MailboxRun:
    """State of one mailbox's rebuild; call run() once."""

    def __init__(self, options: RunOptions, settings: Settings, target: Target | None, journal: Journal,
                 progress: Callable[[str, dict[str, Any]], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.options = options
        self.should_stop = should_stop or (lambda: False)
        self.settings = settings
        self.target = target
        self.journal = journal
        self.progress = progress or (lambda event, data: None)
        self.summary = Summary(options.mailbox, str(options.ost))
        self.policy = RetryPolicy(settings.max_attempts, settings.backoff_initial, settings.backoff_max)
        self.convert_workers = settings.convert_workers or default_workers()
        self.source_id = ""
        self._folder_incomplete = False
        self._account: Any = None
        self._ews_folder: Any = None
        self._known: set[str] = set()
        self._sender: Sender | None = None
        self._only: tuple[str, ...] | None = options.only or None
        self._exclude: tuple[str, ...] = options.exclude
        self._convert_options: Any = None

    # -- outcomes ---------------------------------------------------------------------------------
    def _record(self, outcomes: list[Outcome]) -> None:
        records = []
        for outcome in outcomes:
            upload = outcome.item
            folder = "/".join(upload.folder_path)
            if outcome.state == "uploaded" and upload.fingerprint.endswith(occurrences.PENDING):
                outcome = self._complete_series(upload, str(outcome.server_id))
                upload = outcome.item
            if outcome.state in ("uploaded", "pending"):  # pending: on the server, exceptions to finish
                fallbacks = sum(w.startswith(FALLBACK_WARNINGS) for w in upload.warnings)
                if fallbacks:  # the uploader had to send a simpler form: counted like conversion warnings
                    self._note_warnings(upload, only_new=fallbacks)
                self.summary.uploaded += 1
                self.summary.bytes_uploaded += upload.size
                self._folder_incomplete |= outcome.state == "pending"  # the rerun must look at this folder
            elif outcome.state == "present":
                self.summary.present += 1
            else:
                self._fail(folder, upload.item_class, upload.subject, outcome.error or "failed", upload.source_node_id)
            records.append(ItemRecord(folder, upload.fingerprint, upload.source_node_id, upload.item_class,
                                      outcome.state, str(outcome.server_id) if outcome.server_id else None,
                                      outcome.error, upload.subject))
        self.journal.record(self.options.mailbox, self.source_id, records)
        self.progress("items", {"mailbox": self.options.mailbox, "done": self.summary.uploaded + self.summary.present,
                                "failed": self.summary.failed_total, "bytes": self.summary.bytes_uploaded})

    def _complete_series(self, upload: UploadItem, server_id: str) -> Outcome:
        """Apply a series' deleted and modified occurrences, then stamp its real fingerprint."""
        fingerprint_ = upload.fingerprint.removesuffix(occurrences.PENDING)
        try:
            warnings = retry.call(lambda: occurrences.apply_exceptions(self._account, self._ews_folder, server_id,
                                                                       upload), self.policy)
            retry.call(lambda: occurrences.finish(self._account, self._ews_folder, server_id, fingerprint_),
                       self.policy)
        except MailboxFatalError:
            raise
        except Exception as exc:  # noqa: BLE001 - the series exists; the rerun finishes its exceptions
            upload.warnings.append(f"series exceptions pending: {describe(exc)}")
            self._note_warnings(upload, only_new=1)
            return Outcome(upload, "pending", server_id=server_id, error=describe(exc))
        if warnings:
            upload.warnings.extend(warnings)
            self._note_warnings(upload, only_new=len(warnings))
        return Outcome(dataclasses.replace(upload, fingerprint=fingerprint_), "uploaded", server_id=server_id)

    def _finish_pending(self, upload: UploadItem) -> None:
        """A series a killed run created but did not finish: find it by its pending stamp and finish it."""
        pending = upload.fingerprint + occurrences.PENDING
        ids = retry.call(lambda: list(self._ews_folder.filter(**{FINGERPRINT_FIELD: pending})
                                      .values_list("id", flat=True)), self.policy)
        if not ids:
            return
        for extra in ids[1:]:
            log.warning("duplicate pending series", mailbox=self.options.mailbox, server_id=extra)
        self._record([Outcome(dataclasses.replace(upload, fingerprint=pending), "uploaded", server_id=ids[0])])

    def _fail(self, folder: str, item_class: str, subject: str, reason: str, node_id: int | None) -> None:
        kind = reason.split(":", 1)[0]
        self.summary.failed[kind] += 1
        self.summary.failures.append({"folder": folder, "item_class": item_class, "subject": subject,
                                      "reason": reason, "node_id": node_id})
        self._folder_incomplete = True
        log.warning("item failed", mailbox=self.options.mailbox, folder=folder, node_id=node_id,
                    item_class=item_class, reason=reason)

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> Summary:
        started = time.monotonic()
        opts = self.options
        run_id = 0
        try:
            with open_source(opts.ost, recover=opts.recover, codepage=opts.codepage) as source:
                self.source_id = source_identity(opts.ost)
                run_id = self.journal.start_run(opts.mailbox, str(opts.ost)) if not opts.dry_run else 0
                mirror = uploader = None
                if not opts.dry_run:
                    assert self.target is not None
                    account = self._account = open_account(self.target, opts.mailbox)
                    retry.call(lambda: account.msg_folder_root, self.policy)  # the first request proves access
                    mirror = FolderMirror(account, opts.target_root)
                    uploader = self._sender = Sender(account, self.policy, self._record,
                                                     self.settings.requests_in_flight)
                folder_skips: Counter[str] = Counter()
                folders = source.folders()
                self._resolve_roles(folders)
                self._convert_options = convert_options(source, folders, opts, lambda f: not self._folder_skip(f),
                                                        self.settings.state_dir / "addressbooks", self.source_id,
                                                        self.should_stop)
                self.summary.codepage = codepage_note(source.info)
                total = sum(f.item_count for f in folders if not self._folder_skip(f))
                self.progress("start", {"mailbox": opts.mailbox, "total": total})
                for folder in folders:
                    reason = self._folder_skip(folder)
                    if reason:
                        folder_skips[reason] += 1
                        if folder.item_count:
                            self.summary.found += folder.item_count
                            self.summary.skipped[reason] += folder.item_count
                        continue
                    self._do_folder(folder, source.items(folder), mirror, uploader)
                if opts.recover:
                    self._do_folder(RECOVERED_FOLDER, source.recovered(), mirror, uploader)
                for error in source.errors:
                    self.summary.source_errors += 1
                    self._fail("/".join(error.folder_path), error.what, "", f"unreadable {error.what}: {error.reason}",
                               error.node_id)
                self.summary.folders = {"skipped": dict(folder_skips)}
                if mirror is not None:
                    stats = mirror.stats
                    self.summary.folders.update(mapped=stats.mapped, created=stats.created, found=stats.found,
                                                renamed=stats.renamed)
                if uploader is not None:
                    self.summary.retries = uploader.stats.retries
                    self.summary.in_doubt_found = uploader.stats.in_doubt_found
            if opts.dry_run:
                self.summary.status = "dry-run"
            else:
                self.summary.status = "failed-items" if self.summary.failed_total else "ok"
        except (Interrupted, Stopped):
            self.summary.status = "interrupted"
            log.warning("mailbox interrupted", mailbox=opts.mailbox)
        except MailboxFatalError as exc:
            self.summary.status = "fatal"
            self.summary.fatal = str(exc)
            log.error("mailbox stopped", mailbox=opts.mailbox, reason=str(exc))
        finally:
            if self._sender is not None:
                self._sender.close()
            self.summary.elapsed = round(time.monotonic() - started, 3)
            if run_id:
                self.journal.finish_run(run_id, self.summary.status, json.dumps(self.summary.as_dict(), default=str))
        return self.summary

    def _accept(self, converted: Converted, batcher: Batcher, uploader: Sender | None, ews_folder: Any) -> None:
        """A converted item joins the batch (sent when full); a conversion failure is recorded."""
        entry, upload = converted.item, converted.upload
        if upload is None:
            self._fail("/".join(entry.folder_path), entry.message_class, entry.subject,
                       f"conversion: {converted.error}", entry.node_id)
            return
        upload.fingerprint = converted.tag
        missing = unsupported_fields(upload)
        if missing:
            upload.warnings.append(f"fields EWS cannot take for a {upload.kind}: {', '.join(missing)}")
        self._note_warnings(upload)
        self.summary.addresses.update(upload.address_sources)
        if upload.kind == "message" and is_draft(entry):
            self.summary.drafts.append({"folder": "/".join(upload.folder_path), "subject": upload.subject})
        if self.options.dry_run or uploader is None:
            self.summary.skipped["dry run: would upload"] += 1
            return
        if occurrences.has_exceptions(upload):
            if upload.fingerprint + occurrences.PENDING in self._known:
                self._finish_pending(upload)
                return
            upload.fingerprint += occurrences.PENDING
        full = batcher.add(upload)
        if full:
            uploader.send(ews_folder, full)

    def _note_warnings(self, upload: UploadItem, only_new: int = 0) -> None:
        """What the converter could not carry is uploaded anyway, and counted and listed in the report."""
        notes = upload.warnings[-only_new:] if only_new else list(upload.warnings)
        for note in notes:
            self.summary.warnings[note.split(":", 1)[0][:80]] += 1
            if len(self.summary.warning_items) < 200:
                self.summary.warning_items.append({"folder": "/".join(upload.folder_path), "item_class":
                                                   upload.item_class, "subject": upload.subject, "warning": note})

    def _folder_skip(self, folder: SourceFolder) -> str | None:
        reason = skip_reason(folder, self.options.include_sync_issues)
        if reason:
            return reason
        if folder.role is FolderRole.IPM_SUBTREE or not folder.path:
            return None if folder.item_count else "empty subtree root"
        if self._only is not None and not _matches(folder.path, self._only):
            return "not in --only"
        if self._exclude and _matches(folder.path, self._exclude):
            return "in --exclude"
        return None

    def _resolve_roles(self, folders: list[SourceFolder]) -> None:
        """--only/--exclude take folder paths or 'role:NAME' (role:deleteditems), which names a folder by its
        role whatever the OST's language calls it."""
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

        # An --only whose roles this OST lacks matches nothing (an empty tuple), not everything (None).
        self._only = resolve(self.options.only) if self.options.only else None
        self._exclude = resolve(self.options.exclude)

    def _do_folder(self, folder: SourceFolder, entries: Any, mirror: FolderMirror | None,
                   uploader: Sender | None) -> None:
        opts = self.options
        path = folder.path_str
        self._folder_incomplete = False
        whole = opts.since is None
        if whole and self.journal.folder_done(opts.mailbox, path, self.source_id, folder.item_count):
            self.summary.found += folder.item_count
            self.summary.present += folder.item_count
            log.info("folder already complete", mailbox=opts.mailbox, folder=path, items=folder.item_count)
            return
        known = self._known = self.journal.done_fingerprints(opts.mailbox, path)
        ews_folder = self._ews_folder = None
        if mirror is not None and uploader is not None:
            ews_folder = self._ews_folder = retry.call(lambda: mirror.ensure(folder), self.policy)
            known |= uploader.server_fingerprints(ews_folder)
        log.info("folder", mailbox=opts.mailbox, folder=path, items=folder.item_count, known=len(known))
        batcher = Batcher(self.settings.batch_items, self.settings.batch_bytes)
        queue = ConvertQueue(self.convert_workers, window=max(2 * self.settings.batch_items, 32),
                             options=self._convert_options)
        present: list[Outcome] = []
        count = 0
        for entry in entries:
            if self.should_stop():
                if present:
                    self._record(present)
                if uploader is not None:
                    uploader.wait()  # the requests in flight finish and are journaled
                raise Interrupted()  # converted but unsent items are simply redone by the rerun
            if isinstance(entry, SourceError):
                self.summary.found += 1
                self.summary.source_errors += 1
                self._fail(path, entry.what, "", f"unreadable {entry.what}: {entry.reason}", entry.node_id)
                continue
            count += 1
            self.summary.found += 1
            if opts.since is not None:
                when = _item_time(entry)
                if when is not None and when < opts.since:
                    self.summary.skipped["before --since"] += 1
                    continue
            try:
                print_ = fingerprint(entry)
            except Exception as exc:  # noqa: BLE001 - a broken item must not stop the walk
                self._fail(path, entry.message_class, entry.subject, f"fingerprint: {describe(exc)}", entry.node_id)
                continue
            if print_ in known:
                present.append(Outcome(_stub(entry, folder, print_), "present"))
                if len(present) >= 500:
                    self._record(present)
                    present = []
                continue
            known.add(print_)
            queue.submit(entry, folder.path, print_, fingerprint=print_)
            for converted in queue.ready():
                self._accept(converted, batcher, uploader, ews_folder)
        for converted in queue.drain():
            self._accept(converted, batcher, uploader, ews_folder)
        if present:
            self._record(present)
        if uploader is not None:
            if batcher.items:
                uploader.send(ews_folder, batcher.take())
            uploader.wait()
        if whole and not opts.dry_run and not self._folder_incomplete and folder is not RECOVERED_FOLDER:
            self.journal.set_folder(opts.mailbox, path, self.source_id, count,
                                    done=count == folder.item_count,
                                    server_id=getattr(ews_folder, "id", None))


def _stub(item: SourceItem, folder: SourceFolder, print_: str) -> UploadItem:
    """A record of an item found already on the server: enough for the journal, no conversion."""
    return UploadItem(kind="message", item_class=item.message_class, folder_path=folder.path, fingerprint=print_,
                      subject=item.subject, source_node_id=item.node_id)


def parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

