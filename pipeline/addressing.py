"""The address book of one OST, learnt in a first pass over its folders before anything is converted.

Every folder a run would upload is read once for the (legacyExchangeDN, SMTP, name) triples its items
name (convert/addressbook.py); the owner's legacyExchangeDN is the one that sent the mail of Sent Items,
Outbox and Drafts, and maps to --mailbox. Items libpff cannot read are left to the main pass to report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pipeline.convert import ConvertOptions
from pipeline.convert.addressbook import AddressBook, learn
from pipeline.model import FolderRole, SourceError, SourceFolder

#: Folders whose items the owner sent (or was about to).
OWNER_ROLES = frozenset({FolderRole.SENT, FolderRole.OUTBOX, FolderRole.DRAFTS})


def build_book(source: Any, folders: Iterable[SourceFolder], mailbox: str | None,
               wanted: Callable[[SourceFolder], bool] = lambda folder: True) -> AddressBook:
    """The book of every folder `wanted` accepts (search and system folders never are)."""
    book = AddressBook()
    for folder in folders:
        if not folder.role.is_uploadable or folder.outside_ipm or not folder.item_count or not wanted(folder):
            continue
        sent = folder.role in OWNER_ROLES
        for item in source.items(folder):
            if not isinstance(item, SourceError):
                learn(book, item, sent)
    book.finish(mailbox)
    return book


def convert_options(source: Any, folders: Iterable[SourceFolder], options: Any,
                    wanted: Callable[[SourceFolder], bool] = lambda folder: True) -> ConvertOptions:
    """What conversion needs to know about the whole store: its address book and the IMCEAEX domain
    (--x500-domain, else the new mailbox's own domain, which the target server accepts)."""
    domain = options.x500_domain or (options.mailbox.rsplit("@", 1)[1].lower() if "@" in options.mailbox else None)
    return ConvertOptions(x500_domain=domain, book=build_book(source, folders, options.mailbox, wanted))


def codepage_note(info: Any) -> str | None:
    """For the report: the code page an ANSI store's untagged strings were decoded with, when guessed."""
    how = getattr(info, "codepage_source", "unicode")
    if how == "dominant":
        return f"{info.codepage} (the code page most items name)"
    if how == "default":
        return f"{info.codepage} (no item names a code page: Outlook's default guessed; --codepage overrides)"
    if how == "override":
        return f"{info.codepage} (--codepage)"
    return None
