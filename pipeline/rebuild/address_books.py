"""The address book of one OST, learnt in a first pass over its folders before anything is converted.

Every folder a run would upload is read once for the (legacyExchangeDN, SMTP, name) triples its items
name (convert/addressbook.py); the owner's legacyExchangeDN is the one that sent the mail of Sent Items,
Outbox and Drafts, and maps to --mailbox. Items libpff cannot read are left to the main pass to report.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.convert import ConvertOptions
from pipeline.convert.addressbook import AddressBook, from_dict, learn, to_dict
from pipeline.model import FolderRole, SourceError, SourceFolder
from pipeline.selection import Selection
from pipeline.source.base import Source, SourceInfo

#: Folders whose items the owner sent (or was about to).
OWNER_ROLES = frozenset({FolderRole.SENT, FolderRole.OUTBOX, FolderRole.DRAFTS})


class Stopped(Exception):
    """Ctrl-C while the book was being read: nothing was uploaded, and no partial book is kept."""


def build_book(
    source: Source,
    folders: Iterable[SourceFolder],
    mailbox: str | None,
    wanted: Callable[[SourceFolder], bool] = lambda folder: True,
    should_stop: Callable[[], bool] = lambda: False,
) -> AddressBook:
    """The book of every folder `wanted` accepts (search and system folders never are)."""
    book = AddressBook()
    for folder in folders:
        if not folder.role.is_uploadable or folder.outside_ipm or not folder.item_count or not wanted(folder):
            continue
        sent = folder.role in OWNER_ROLES
        for count, item in enumerate(source.parties(folder)):  # the reader's cheap walk
            if count % 100 == 0 and should_stop():
                raise Stopped()
            if not isinstance(item, SourceError):
                learn(book, item, sent)
    book.finish(mailbox)
    return book


def cached_book(cache_dir: Path | None, key: str, build: Callable[[], AddressBook]) -> AddressBook:
    """The book kept under cache_dir for this key (source copy, mailbox, folders, code page), else built and
    kept (owner-only: it names people); a cache that cannot be read or written is simply not used."""
    if cache_dir is None:
        return build()
    path = cache_dir / f"{key}.json"
    try:
        found = from_dict(json.loads(path.read_text(encoding="utf-8")))
        if found is not None:
            return found
    except (OSError, ValueError, KeyError, TypeError):
        pass
    book = build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(to_dict(book), fh)
        os.replace(partial, path)
    except OSError:
        pass
    return book


def book_key(source_id: str, mailbox: str, folders: Iterable[SourceFolder], codepage: int | None) -> str:
    """Names one book in the cache: the source copy, the mailbox, the folders read and the code page. The run
    and the --map survey name it alike, so a book the survey read is the run's own."""
    return hashlib.sha256(
        json.dumps([source_id, mailbox.lower(), sorted(f.node_id for f in folders), codepage]).encode()
    ).hexdigest()[:32]


def convert_options(
    source: Source,
    folders: Iterable[SourceFolder],
    options: Any,
    wanted: Callable[[SourceFolder], bool] = lambda folder: True,
    cache_dir: Path | None = None,
    source_id: str = "",
    should_stop: Callable[[], bool] = lambda: False,
) -> ConvertOptions:
    """What conversion needs to know about the whole store: its address book and the IMCEAEX domain
    (--x500-domain, else the new mailbox's own domain, which the target server accepts). With cache_dir
    and source_id, a rerun on the same OST copy reads the book from the state dir instead of the OST."""
    domain = options.x500_domain or (options.mailbox.rsplit("@", 1)[1].lower() if "@" in options.mailbox else None)
    folders = [f for f in folders if wanted(f)]
    key = book_key(source_id, options.mailbox, folders, getattr(options, "codepage", None))
    book = cached_book(
        cache_dir if source_id else None,
        key,
        lambda: build_book(source, folders, options.mailbox, should_stop=should_stop),
    )
    site = getattr(options, "site_book", None)
    if site:  # --map: what the other users' OSTs know (the file site_book() wrote)
        try:
            shared = from_dict(json.loads(Path(site).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            shared = None
        if shared is not None:
            book.merge(shared)
    return ConvertOptions(x500_domain=domain, book=book)


def codepage_note(info: SourceInfo) -> str | None:
    """For the report: the code page an ANSI store's untagged strings were decoded with, when guessed."""
    how = info.codepage_source
    if how == "dominant":
        return f"{info.codepage} (the code page most items name)"
    if how == "default":
        return f"{info.codepage} (no item names a code page: Outlook's default guessed; --codepage overrides)"
    if how == "override":
        return f"{info.codepage} (--codepage)"
    return None


@dataclass(frozen=True, slots=True)
class SurveyTask:
    """One row of --map for the survey: its file, mailbox, folder selection and code page."""

    line: int
    ost: Path
    mailbox: str
    selection: Selection
    codepage: int | None
    cache_dir: Path


@dataclass(frozen=True, slots=True)
class Survey:
    """What the survey of one row found: its book (as a dict, to cross processes), or why the file is refused."""

    line: int
    book: dict[str, object] | None = None
    refused: str | None = None  # the gate's one line, for the mapping's error list


def survey_row(task: SurveyTask) -> Survey:
    """Open the row's file once, through the gate every command uses, and read its address book over the
    folders its run will carry, kept in the cache under the run's own key: the check, the site book and the
    run's book are one opening of the file and one pass over its parties."""
    from pipeline.source import SourceOpenError
    from pipeline.source.gate import open_checked
    from pipeline.state.journal import source_identity

    try:
        with open_checked(task.ost, codepage=task.codepage) as source:
            folders = source.folders()
            bound = task.selection.bind(folders)
            wanted = [f for f in folders if not bound.folder_skip(f)]
            key = book_key(source_identity(task.ost), task.mailbox, wanted, task.codepage)
            book = cached_book(task.cache_dir, key, lambda: build_book(source, wanted, task.mailbox))
            return Survey(task.line, book=to_dict(book))
    except SourceOpenError as exc:
        return Survey(task.line, refused=str(exc).removeprefix(f"{task.ost}: "))
    except Exception:  # noqa: BLE001 - a file that opens but cannot be walked is that mailbox's problem, reported by its run
        return Survey(task.line)


def survey(tasks: list[SurveyTask], workers: int = 1) -> list[Survey]:
    """Every row surveyed (in worker processes when there are many), in the rows' order."""
    from concurrent.futures import ProcessPoolExecutor

    if workers > 1 and len(tasks) > 2 * workers:  # below that, starting processes costs more than it saves
        import multiprocessing

        from pipeline.processes.interrupts import children_ignore_sigint, ignore_stop_signals

        # Ctrl-C and SIGTERM belong to the parent (a terminal or systemd sends them to the whole group)
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_stop_signals
        ) as pool:
            with children_ignore_sigint():
                futures = [pool.submit(survey_row, task) for task in tasks]
            return [future.result() for future in futures]
    return [survey_row(task) for task in tasks]


def site_book(found: list[Survey], cache_dir: Path, name: str) -> Path:
    """With --map: the books of every user's file merged into one (a site's legacyExchangeDNs resolve from
    any file, each user's own DN to that user's new mailbox), written to cache_dir; its path."""
    site = AddressBook()
    for one in found:
        book = from_dict(one.book) if one.book is not None else None
        if book is not None:
            site.merge(book)
    path = cache_dir / f"site-{hashlib.sha256(name.encode()).hexdigest()[:32]}.json"
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(to_dict(site), fh)
    return path
