"""The converted tree on disk, to look at before uploading and to compare with readpst.

Folders become directories with safe names; mail is written as .eml, appointments as .ics, contacts
as .vcf, everything else as JSON; a manifest.json lists every item with its fingerprint and warnings (written
as the items are, so memory stays flat however big the store). Names and files are made by
pipeline/state/filenames.py: capped in bytes, never written through a link planted in --out, and an item that
fails leaves none of its files behind.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import re
import stat
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from pipeline.item_values import Appointment, Contact, ItemAttachment
from pipeline.logs.terminal import shown
from pipeline.model import FolderRole, SourceError, SourceFolder, SourceItem, UploadItem
from pipeline.selection import is_user_content
from pipeline.state.filenames import Folder, descend, name_key, safe_name, unique

if TYPE_CHECKING:
    from pipeline.source import Source

_ITEM_FILE = re.compile(r"^\d{5} ")
#: UTF-8 bytes of an item's subject in its file name ('00001 <subject>.eml').
SUBJECT_BYTES = 100
#: Where the user's settings (every folder's associated messages) are written, beside the folders.
SETTINGS_DIR = "_settings"


def folder_parts(path: tuple[str, ...]) -> tuple[str, ...]:
    """A folder path's directory names, each made safe (folder_dirs also keeps siblings apart)."""
    return tuple(safe_name(part, file=False) for part in path)


#: The pseudo-folder of --recover's orphan items (node id 0 is never a real folder's).
RECOVERED = SourceFolder(0, ("Recovered items",), "Recovered items", "IPF.Note", FolderRole.NONE, 0)


def folder_dirs(folders: list[SourceFolder]) -> dict[int, tuple[str, ...]]:
    """Each exported folder's directory (relative parts) by node id, unique even when names sanitize alike
    ('Reports?' and 'Reports*', or 'Inbox' and 'INBOX' on a case-insensitive disk): the later folder in
    source order gets ' (2)', ' (3)'... Deterministic, so every worker process computes the same answer."""
    dirs: dict[int, tuple[str, ...]] = {}
    taken: dict[tuple[str, ...], set[str]] = {(): {name_key("manifest.json"), name_key(SETTINGS_DIR)}}  # kept free
    for folder in [*folders, RECOVERED]:
        if folder is not RECOVERED and not _exported(folder):
            continue
        if not folder.path:
            dirs[folder.node_id] = ()
            continue
        parent = dirs.get(folder.parent_node_id or -1, folder_parts(folder.path[:-1]))
        used = taken.setdefault(parent, set())
        base = safe_name(folder.path[-1], file=False)
        if _ITEM_FILE.match(base):  # '00001 x.eml' is how item files are named: a folder never takes it
            base = f"_{base}"
        dirs[folder.node_id] = (*parent, unique(base, used, file=False))
    return dirs


def item_payload(upload: UploadItem) -> tuple[str, bytes]:
    """(file extension, bytes) for one converted item."""
    from pipeline.convert import item_files

    if upload.mime is not None:
        return ".eml", upload.mime
    if isinstance(upload.value, Appointment):
        return ".ics", item_files.to_ics(upload.value, upload.identity)
    if isinstance(upload.value, Contact):
        return ".vcf", item_files.to_vcard(upload.value)
    return ".json", item_files.item_document(
        upload.kind, upload.item_class, upload.value, [*upload.extended, *upload.extra_extended]
    )


def _typed_attachments(upload: UploadItem, directory: Folder, item_file: str) -> None:
    """Attachments of typed items (appointments, contacts...) go next to the item, in NAME.attachments/;
    nothing of it is left when one of them cannot be written."""
    files = upload.value.attachments if isinstance(upload.value, Appointment | Contact) else ()
    if not files:
        return
    name = f"{Path(item_file).stem}.attachments"
    written: list[str] = []
    with directory.child(name) as folder:
        try:
            for index, entry in enumerate(files):
                file = f"{index:02d}-{safe_name(entry.name or f'attachment-{index}')}"
                if isinstance(entry, ItemAttachment):
                    written.append(folder.replace(f"{file}.eml", entry.mime))
                else:
                    written.append(folder.replace(file, entry.content))
        except BaseException:
            for file in written:
                folder.remove(file)
            directory.remove_folder(name)
            raise


class Exporter:
    """Writes one file per item and remembers what it wrote for the manifest and the summary.

    Files are numbered by the item's position in its folder, so workers sharing a folder never collide.
    """

    def __init__(self, out: Path, options: Any) -> None:
        self.out = out
        self.options = options  # ConvertOptions: IMCEAEX domain and the store's address book
        self.counts: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.manifest: list[dict[str, Any]] = []
        self.warned = 0
        self._root: Folder | None = None
        self._folders: dict[tuple[str, ...], Folder] = {}

    def _folder(self, relative: tuple[str, ...]) -> Folder:
        """The open directory of a folder's items (made once per folder, never through a planted link)."""
        folder = self._folders.get(relative)
        if folder is None:
            if self._root is None:
                self._root = Folder.open(self.out)
            folder = self._folders[relative] = descend(self._root, relative)
        return folder

    def close(self) -> None:
        for folder in [*self._folders.values(), *([self._root] if self._root else [])]:
            folder.close()
        self._folders.clear()
        self._root = None

    def write(
        self, item: SourceItem, path: tuple[str, ...], number: int, relative: tuple[str, ...] | None = None
    ) -> None:
        from pipeline.convert import convert_item
        from pipeline.fingerprint import fingerprint

        try:
            upload = convert_item(item.materialize(), path, self.options, identity=fingerprint(item))
            extension, data = item_payload(upload)
        except Exception as exc:  # one bad item is reported and skipped, never fatal
            self.fail(path, item.node_id, f"conversion failed: {type(exc).__name__}: {exc}", "item")
            return
        relative = folder_parts(path) if relative is None else relative
        name = f"{number:05d} {safe_name(upload.subject or '(no subject)', SUBJECT_BYTES)}{extension}"
        written: Folder | None = None
        try:
            directory = self._folder(relative)
            directory.replace(name, data)
            written = directory
            _typed_attachments(upload, directory, name)
        except OSError as exc:  # a full disk, a planted link: this item fails, leaves nothing, the rest goes on
            if written is not None:
                written.remove(name)
            self.fail(path, item.node_id, f"cannot write {name}: {exc.strerror or exc}", "item")
            return
        self.counts[upload.kind] += 1
        if upload.warnings:
            self.warned += 1
        self.manifest.append(
            {
                "file": str(Path(*relative, name)),
                "folder": "/".join(path),
                "node_id": item.node_id,
                "kind": upload.kind,
                "item_class": upload.item_class,
                "fingerprint": upload.identity,
                "warnings": [str(w) for w in upload.warnings],
            }
        )

    def fail(self, path: tuple[str, ...], node_id: int | None, reason: str, what: str = "item") -> None:
        """An unreadable folder or item, or one that would not convert: listed in the manifest, exit code 1."""
        self.counts["failed"] += 1
        self.failures.append({"folder": "/".join(path), "node_id": node_id, "what": what, "reason": reason})

    def result(self) -> dict[str, Any]:
        """What a worker hands back to be merged (plain data: it crosses processes); the writing is over."""
        self.close()
        return {"counts": self.counts, "failures": self.failures, "manifest": self.manifest, "warned": self.warned}

    def merge(self, other: dict[str, Any], sink: ManifestWriter | None = None) -> None:
        self.counts.update(other["counts"])
        self.failures.extend(other["failures"])
        if sink is not None:
            sink.add(other["manifest"])
        else:
            self.manifest.extend(other["manifest"])
        self.warned += other["warned"]


class ManifestWriter:
    """manifest.json written as the items are (one line per item), so the export's memory does not grow with
    the store: {"source": …, "items": [in the order written], "failures": […]}; complete only once closed."""

    def __init__(self, folder: Folder, name: str, source: str) -> None:
        self.path = folder.path / name
        self._folder, self._name = folder, name
        self._partial, raw = folder.create_temporary()
        self._fh = io.TextIOWrapper(raw, encoding="utf-8")
        self._fh.write('{\n "source": ' + json.dumps(source, ensure_ascii=False) + ',\n "items": [')
        self._first = True

    def add(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self._fh.write(("\n  " if self._first else ",\n  ") + json.dumps(entry, ensure_ascii=False))
            self._first = False

    def close(self, failures: list[dict[str, Any]]) -> None:
        self._fh.write('\n ],\n "failures": ' + json.dumps(failures, indent=1, ensure_ascii=False) + "\n}\n")
        self._fh.close()
        self._folder.publish(self._partial, self._name)

    def discard(self) -> None:
        self._fh.close()
        self._folder.remove(self._partial)


#: Items per task when several processes share the export (big folders are split in ranges of this size).
TASK_ITEMS = 250
#: Below this many items, starting worker processes costs more than it saves.
AUTO_WORKERS_FROM = 1000
_open_sources: dict[str, Source] = {}


def _tasks(source: Source) -> list[tuple[int, int, int | None]]:
    """(folder node id, start, stop) ranges covering every exported folder, in source order."""
    tasks: list[tuple[int, int, int | None]] = []
    for folder in source.folders():
        if not _exported(folder):
            continue
        if folder.item_count <= TASK_ITEMS:
            tasks.append((folder.node_id, 0, None))
            continue
        for start in range(0, folder.item_count, TASK_ITEMS):
            last = start + TASK_ITEMS >= folder.item_count
            tasks.append((folder.node_id, start, None if last else start + TASK_ITEMS))
    return tasks


def _source(ost: str, codepage: int | None) -> Source:
    """The open source of this process (a worker keeps it open from task to task)."""
    from pipeline.source import open_source

    source = _open_sources.get(ost)
    if source is None:
        source = _open_sources[ost] = open_source(ost, codepage=codepage)
    return source


def _task_start(
    ost: str, out: str, options: Any, node_id: int, codepage: int | None
) -> tuple[Source, SourceFolder, tuple[str, ...], Exporter]:
    """What a task works with: this process's open source, the folder, its directory and an Exporter."""
    source = _source(ost, codepage)
    folders = source.folders()
    folder = next(f for f in folders if f.node_id == node_id)
    return source, folder, folder_dirs(folders)[node_id], Exporter(Path(out), options)


def _export_task(
    ost: str, out: str, options: Any, task: tuple[int, int, int | None], codepage: int | None = None
) -> dict[str, Any]:
    """One range of one folder, in one pass: every item teaches the address book, and is written at once
    unless its conversion needs the whole store's book (an Exchange party without a cached SMTP address):
    those are listed as deferred and written by _deferred_task once every part's book is merged."""
    from pipeline.convert.addressbook import AddressBook, learn, needs_book
    from pipeline.rebuild.address_books import OWNER_ROLES

    node_id, start, stop = task
    source, folder, relative, exporter = _task_start(ost, out, options, node_id, codepage)
    book, sent, deferred = AddressBook(), folder.role in OWNER_ROLES, []
    for offset, entry in enumerate(source.items(folder, start, stop)):
        if isinstance(entry, SourceError):
            exporter.fail(entry.folder_path, entry.node_id, entry.reason, entry.what)
            continue
        learn(book, entry, sent)
        if needs_book(entry):
            deferred.append(start + offset)
        else:
            exporter.write(entry, folder.path, start + offset + 1, relative)
    return {**exporter.result(), "book": book, "deferred": deferred}


def _deferred_task(
    ost: str, out: str, options: Any, task: tuple[int, list[int]], codepage: int | None = None
) -> dict[str, Any]:
    """The deferred items of one folder (by index), converted with the whole store's book."""
    node_id, indexes = task
    source, folder, relative, exporter = _task_start(ost, out, options, node_id, codepage)
    for index in indexes:
        for entry in source.items(folder, index, index + 1):
            if isinstance(entry, SourceError):
                exporter.fail(entry.folder_path, entry.node_id, entry.reason, entry.what)
            else:
                exporter.write(entry, folder.path, index + 1, relative)
    return exporter.result()


def _deferred_tasks(tasks: list[tuple[int, int, int | None]], deferred: list[list[int]]) -> list[tuple[int, list[int]]]:
    """The deferred indexes of each range, in groups of at most TASK_ITEMS per task, in source order."""
    out: list[tuple[int, list[int]]] = []
    for (node_id, _start, _stop), indexes in zip(tasks, deferred, strict=True):
        for i in range(0, len(indexes), TASK_ITEMS):
            out.append((node_id, indexes[i : i + TASK_ITEMS]))
    return out


def run_export(
    ost: str,
    out: str,
    recover: bool = False,
    x500_domain: str | None = None,
    workers: int | None = 1,
    mailbox: str | None = None,
    codepage: int | None = None,
) -> int:
    """One pass over the store (see _export_task), then the few items that needed the whole address book."""
    from pipeline.convert import ConvertOptions
    from pipeline.convert.addressbook import AddressBook
    from pipeline.source import SourceOpenError
    from pipeline.source.gate import open_checked

    started = time.monotonic()
    root = Path(out)
    early = _early_pool(ost, workers, codepage)
    try:
        source = open_checked(ost, recover=recover, codepage=codepage)
    except SourceOpenError as exc:
        _stop(early)
        print(f"rebuild: error: {shown(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _stop(early)
        source.close()
        print(f"rebuild: error: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    with source:
        if x500_domain is None and mailbox and "@" in mailbox:
            x500_domain = mailbox.rsplit("@", 1)[1].lower()
        first = ConvertOptions(x500_domain=x500_domain)  # the book is not needed by the items written at once
        exporter = Exporter(root, first)
        top: Folder | None = None
        try:
            top = Folder.open(root)
            sink = ManifestWriter(top, "manifest.json", str(ost))
        except OSError as exc:
            if top is not None:
                top.close()
            _stop(early)
            print(f"rebuild: error: cannot write {shown(root / 'manifest.json')}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        for error in source.errors:  # folders (or their subfolder lists) libpff could not read, as inspect shows
            exporter.fail(error.folder_path, error.node_id, error.reason, error.what)
        tasks = _tasks(source)
        folders = len({node_id for node_id, _, _ in tasks})
        if workers is None:  # automatic: every core, once the file is big enough to pay for the processes
            total = sum(f.item_count for f in source.folders() if _exported(f))
            workers = (os.cpu_count() or 1) if total >= AUTO_WORKERS_FROM else 1
        book = AddressBook()
        deferred: list[list[int]] = []
        pool = None
        if workers > 1 and len(tasks) >= 2:
            pool = early or _new_pool(workers)  # the early pool has one process per core, as auto mode
        else:
            _open_sources[ost] = source
        if early is not pool:
            _stop(early)

        def each(function: Any, task_list: list[Any], options: ConvertOptions) -> Iterator[dict[str, Any]]:
            if pool is None:
                return (function(ost, out, options, task, codepage) for task in task_list)
            jobs = [(ost, out, options, t, codepage) for t in task_list]
            return pool.map(function, *zip(*jobs, strict=True)) if jobs else iter(())

        try:
            for result in each(_export_task, tasks, first):  # in source order, so the merged book is the same
                exporter.merge(result, sink)
                book.extend(result["book"])
                deferred.append(result["deferred"])
            book.finish(mailbox)
            options = ConvertOptions(x500_domain=x500_domain, book=book)
            for result in each(_deferred_task, _deferred_tasks(tasks, deferred), options):
                exporter.merge(result, sink)
        except BaseException:
            sink.discard()
            top.close()
            raise
        finally:
            _open_sources.pop(ost, None)
            if pool is not None:
                pool.shutdown()
        exporter.options = options
        if recover:
            relative = folder_dirs(source.folders())[RECOVERED.node_id]
            for number, entry in enumerate(source.recovered(), start=1):
                if isinstance(entry, SourceError):
                    exporter.fail(entry.folder_path, entry.node_id, entry.reason, entry.what)
                else:
                    exporter.write(entry, RECOVERED.path, number, relative)
            exporter.close()
        settings = _export_settings(source, top, exporter)
    sink.add(exporter.manifest)  # the recovered items
    try:
        sink.close(exporter.failures)
    finally:
        top.close()
    for failure in exporter.failures:
        print(
            f"failed: {failure['what']} {shown(failure['folder']) or '(root)'} node {failure['node_id']}: "
            f"{shown(failure['reason'])}",
            file=sys.stderr,
        )
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(exporter.counts.items()) if kind != "failed")
    elapsed = time.monotonic() - started
    print(
        f"exported {sum(v for k, v in exporter.counts.items() if k != 'failed')} items ({kinds or 'none'}) "
        f"from {folders} folders to {shown(root)} in {elapsed:.1f}s; {exporter.warned} with warnings, "
        f"{exporter.counts['failed']} failed"
    )
    if settings:
        print(f"{settings} settings (folder-associated messages) written to {shown(root / SETTINGS_DIR)}")
    return EXIT_FAILURES if exporter.failures else EXIT_OK


def _export_settings(source: Source, top: Folder, exporter: Exporter) -> int:
    """Every folder's associated messages, read as settings, into _settings/ (see documents.export_files);
    what cannot be read or written is listed as failed like an item. Returns how many were written."""
    from pipeline.convert.user_settings import read_setting
    from pipeline.convert.user_settings.documents import export_files

    messages = []
    for folder in source.folders():
        for entry in source.associated(folder):
            if isinstance(entry, SourceError):
                exporter.fail(entry.folder_path, entry.node_id, entry.reason, "setting")
            else:
                messages.append(read_setting(entry))
    if not messages:
        return 0
    try:
        with top.child(SETTINGS_DIR) as directory:
            for name, data in export_files(messages):
                directory.replace(name, data)
    except OSError as exc:
        exporter.fail((SETTINGS_DIR,), None, f"cannot write {SETTINGS_DIR}: {exc.strerror or exc}", "setting")
        return 0
    return len(messages)


#: A file this big will likely be exported by several processes: they start while this one opens it.
EARLY_POOL_BYTES = 128 << 20


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _early_pool(ost: str, workers: int | None, codepage: int | None) -> ProcessPoolExecutor | None:
    """Worker processes started before this one opens the file (starting and importing take about half a
    second each, opening the 2.2 GB bulk OST as long), for a regular file big enough to be shared out (or
    --workers N); each opens the file as its first step. None when the export will likely run here alone."""
    count = (os.cpu_count() or 1) if workers is None else workers
    try:
        info = os.stat(ost)
    except OSError:
        return None
    if count <= 1 or not stat.S_ISREG(info.st_mode) or (workers is None and info.st_size < EARLY_POOL_BYTES):
        return None  # not a FIFO or a device either: a worker must never block opening it
    pool = _new_pool(count)
    for _ in range(count):
        pool.submit(_warm, ost, codepage)
    return pool


def _warm(ost: str, codepage: int | None) -> None:
    try:
        _source(ost, codepage)
    except Exception:  # noqa: BLE001 - the gate, in the parent, says what is wrong with the file
        pass


def _stop(pool: ProcessPoolExecutor | None) -> None:
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _exported(folder: SourceFolder) -> bool:
    """User content only: search folders, views and other system folders are not exported."""
    return is_user_content(folder)
