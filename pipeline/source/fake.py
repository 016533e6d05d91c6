"""An in-memory Source for unit tests of the run, export and the address book, shipped in the package like
structlog.testing (destination/fake.py is its counterpart on the other side).

FakeSource satisfies base.py's Source Protocol from plain values: folders named by path ('Inbox/Projects')
with their entries (SourceItems, or SourceErrors standing for items that cannot be read), the roles of
some of them, recovered items, the store's own errors, properties and replica map. Nothing touches a file. Folders are numbered as
a store numbers them, under a root and an IPM subtree; missing parent folders are made. message() builds
a plain mail item.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from pipeline import mapi
from pipeline.model import FolderRole, Recipient, SourceError, SourceFolder, SourceItem
from pipeline.source.base import ItemSummary, Moment, SourceInfo
from pipeline.source.cache_identity import ReplicaMap
from pipeline.source.messaging import MOMENT_NAMES, MOMENT_PROPS, moment_of
from pipeline.source.roles import ROOT_NID

Entry = SourceItem | SourceError
IPM_SUBTREE_NID = 0x8022
FIRST_FOLDER_NID = 0x8042  # then every 0x20, as a store numbers its folders
FIRST_ITEM_NID = 0x200004
RECOVERED_PATH = ("Recovered items",)
#: The container class a folder of each role has (any other: mail).
CONTAINER_CLASSES = {
    FolderRole.CALENDAR: "IPF.Appointment",
    FolderRole.CONTACTS: "IPF.Contact",
    FolderRole.TASKS: "IPF.Task",
    FolderRole.NOTES: "IPF.StickyNote",
    FolderRole.JOURNAL: "IPF.Journal",
}
SENT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeSource:
    """An opened store made of the given folders and items. An item whose node_id is 0 is given the next
    free one; every item's folder_path is set to its folder's, as a reader sets it. `closed` tells a test
    that the source was closed."""

    def __init__(
        self,
        folders: Mapping[str, Sequence[Entry]],
        *,
        roles: Mapping[str, FolderRole] | None = None,
        recovered: Sequence[Entry] = (),
        errors: Sequence[SourceError] = (),
        associated: Mapping[str, Sequence[Entry]] | None = None,
        path: Path = Path("fake.ost"),
        replicas: Mapping[int, bytes] | None = None,
        store: Mapping[int, Any] | None = None,
    ) -> None:
        roles = dict(roles or {})
        item_ids = itertools.count(FIRST_ITEM_NID, 0x20)
        paths: list[tuple[str, ...]] = []
        for name in folders:
            parts = tuple(name.split("/"))
            paths += [parts[:n] for n in range(1, len(parts) + 1) if parts[:n] not in paths]
        nids = dict(zip(paths, itertools.count(FIRST_FOLDER_NID, 0x20), strict=False))
        nids[()] = IPM_SUBTREE_NID
        entries = {tuple(name.split("/")): list(found) for name, found in folders.items()}
        self._items: dict[int, list[Entry]] = {}
        self._folders = [
            SourceFolder(ROOT_NID, (), "", "", FolderRole.ROOT, 0, None, 1, outside_ipm=True),
            SourceFolder(
                IPM_SUBTREE_NID,
                (),
                "IPM_SUBTREE",
                "",
                FolderRole.IPM_SUBTREE,
                0,
                ROOT_NID,
                sum(len(p) == 1 for p in paths),
            ),
        ]
        for folder_path in paths:
            role = roles.get("/".join(folder_path), FolderRole.NONE)
            found = [_placed(entry, folder_path, item_ids) for entry in entries.get(folder_path, [])]
            self._items[nids[folder_path]] = found
            self._folders.append(
                SourceFolder(
                    nids[folder_path],
                    folder_path,
                    folder_path[-1],
                    CONTAINER_CLASSES.get(role, "IPF.Note"),
                    role,
                    len(found),
                    nids[folder_path[:-1]],
                    sum(p[:-1] == folder_path for p in paths),
                )
            )
        self._associated: dict[int, list[Entry]] = {}
        for name, found_fai in (associated or {}).items():
            folder_path = tuple(name.split("/"))
            self._associated[nids[folder_path]] = [_placed(e, folder_path, item_ids) for e in found_fai]
            for entry in self._associated[nids[folder_path]]:
                if isinstance(entry, SourceItem):
                    entry.associated = True
        self._recovered = [_placed(entry, RECOVERED_PATH, item_ids) for entry in recovered]
        for entry in self._recovered:
            if isinstance(entry, SourceItem):
                entry.recovered = True
        self.info = SourceInfo(path, "ost", "unicode", 23, "none", "cp1252", 0, len(self._recovered))
        self.errors = list(errors)
        self.role_evidence = {f.node_id: "fake" for f in self._folders if f.role is not FolderRole.NONE}
        self._replicas = ReplicaMap(dict(replicas), "fake") if replicas is not None else ReplicaMap()
        self.store_properties = dict(store or {})
        self.closed = False

    def replica_map(self) -> ReplicaMap:
        return self._replicas

    def folders(self) -> list[SourceFolder]:
        return list(self._folders)

    def items(self, folder: SourceFolder, start: int = 0, stop: int | None = None) -> Iterator[Entry]:
        return iter(self._items.get(folder.node_id, [])[start:stop])

    def parties(self, folder: SourceFolder) -> Iterator[Entry]:
        """The items in full: a fake has no cheaper walk."""
        return self.items(folder)

    def summaries(self, folder: SourceFolder) -> Iterator[ItemSummary | SourceError]:
        for entry in self.items(folder):
            yield (
                entry
                if isinstance(entry, SourceError)
                else ItemSummary(entry.node_id, entry.message_class, entry.prop(mapi.PR_MESSAGE_SIZE) or 0)
            )

    def timeline(self, folder: SourceFolder) -> Iterator[Moment | SourceError]:
        for entry in self.items(folder):
            yield (
                entry
                if isinstance(entry, SourceError)
                else moment_of(
                    entry.node_id,
                    {k: v for k, v in entry.properties.items() if k in MOMENT_PROPS},
                    {k: v for k, v in entry.named.items() if k in MOMENT_NAMES},
                )
            )

    def items_at(self, folder: SourceFolder, indexes: Sequence[int]) -> Iterator[Entry]:
        found = self._items.get(folder.node_id, [])
        return iter([found[index] for index in indexes if 0 <= index < len(found)])

    def recovered(self) -> Iterator[Entry]:
        return iter(self._recovered)

    def associated(self, folder: SourceFolder) -> Iterator[Entry]:
        return iter(self._associated.get(folder.node_id, []))

    def folder_by_entry_id(self, entry_id: bytes) -> int | None:
        return None  # a fake store has no entry ids

    def property_name(self, prop_id: int) -> tuple[str, int | str] | None:
        return None

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _placed(entry: Entry, folder_path: tuple[str, ...], ids: Iterator[int]) -> Entry:
    if isinstance(entry, SourceError):
        return entry
    return dataclasses.replace(entry, folder_path=folder_path, node_id=entry.node_id or next(ids))


def message(
    subject: str,
    body: str = "",
    *,
    sender: str = "sender@example.com",
    to: Sequence[str] = ("owner@example.com",),
    sent: datetime = SENT,
    message_id: str | None = None,
    **properties: Any,
) -> SourceItem:
    """A plain mail item as a reader hands it over (properties by id; `properties` adds or overrides, by
    mapi name: PR_IMPORTANCE=2)."""
    props: dict[int, Any] = {
        mapi.PR_MESSAGE_CLASS: "IPM.Note",
        mapi.PR_SUBJECT: subject,
        mapi.PR_BODY: body,
        mapi.PR_SENDER_NAME: sender,
        mapi.PR_SENDER_EMAIL_ADDRESS: sender,
        mapi.PR_SENDER_ADDRTYPE: "SMTP",
        mapi.PR_CLIENT_SUBMIT_TIME: sent,
        mapi.PR_MESSAGE_DELIVERY_TIME: sent,
        mapi.PR_INTERNET_MESSAGE_ID: message_id or f"<{_digest(subject, body, sent)}@fake.example>",
    }
    props.update({getattr(mapi, name): value for name, value in properties.items()})
    recipients = [Recipient("to", address, address, "SMTP", address) for address in to]
    return SourceItem(0, (), props[mapi.PR_MESSAGE_CLASS], props, {}, recipients, [])


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
