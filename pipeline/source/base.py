"""What the rest of the pipeline needs from an opened OST/PST: the Source Protocol and its neutral records.

Both readers (native/, pff.py) and the in-memory FakeSource (fake.py) satisfy `Source`; run, export,
inspect, verify and the address book use nothing else. The records a walk hands out (SourceFolder,
SourceItem, SourceError, ...) are the pipeline's plain values in pipeline/model.py; the ones only a
source speaks of (SourceInfo, ItemSummary, SourceOpenError) live here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Self

from pipeline.model import SourceError, SourceFolder, SourceItem
from pipeline.source.cache_identity import ReplicaMap


class SourceOpenError(Exception):
    """The file cannot be read as an OST/PST at all: one line naming the file, exit code 2.

    `detail` keeps the reader's own error chain (for the log file only, never the console)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """The opened file as a whole: what its header says, and how its 8-bit strings are decoded."""

    path: Path
    kind: str  # 'ost' or 'pst', from the header, whatever the file name says
    format: str  # 'ansi', 'unicode', 'unicode-4k'
    version: int  # wVer
    encryption: str  # 'none', 'permute', 'cyclic'
    codepage: str  # Python codec for 8-bit strings
    size: int
    orphan_items: int
    #: How the store's code page was chosen (ANSI stores): 'override', 'dominant' (most items name it),
    #: or 'default' (no item names one: cp1252 guessed); Unicode stores: 'unicode'.
    codepage_source: str = "unicode"


class ItemSummary(NamedTuple):
    """One item as `inspect` counts it, read without its other properties."""

    node_id: int
    message_class: str
    size: int  # PR_MESSAGE_SIZE (0 when the item does not say)


class Moment(NamedTuple):
    """When an item is, read without the rest of it: what the usable-first order sorts by (run/order.py)."""

    node_id: int
    message_class: str
    #: PR_MESSAGE_DELIVERY_TIME, else PR_CLIENT_SUBMIT_TIME, else PR_CREATION_TIME: the fingerprint's own
    #: choice of time, so that two items it cannot tell apart always share their moment.
    when: datetime | None
    end: datetime | None = None  # an appointment's end (PidLidAppointmentEndWhole)
    recurring: bool = False  # PidLidRecurring: a recurring series


class Source(Protocol):
    """An opened OST/PST, walked one item at a time. What cannot be read comes out as a SourceError in the
    stream (or in `errors`, for the store, its folders and their lists), never as an exception that stops
    the walk; only opening the file raises (SourceOpenError)."""

    @property
    def info(self) -> SourceInfo: ...

    @property
    def errors(self) -> Sequence[SourceError]:
        """What the opening walk could not read (B-tree pages, the store, the name map, folders)."""
        ...

    @property
    def role_evidence(self) -> Mapping[int, str]:
        """How each folder's role was found, by folder node id (for `inspect`)."""
        ...

    @property
    def store_properties(self) -> Mapping[int, Any]:
        """The message store object's own properties, decoded (its owner entry, name, record key...); empty when
        the store cannot be read (that is one of `errors`)."""
        ...

    def folders(self) -> list[SourceFolder]:
        """Every folder, parents before children, system and search folders included."""
        ...

    def items(
        self, folder: SourceFolder, start: int = 0, stop: int | None = None
    ) -> Iterator[SourceItem | SourceError]:
        """The folder's items one at a time (or those of the index range [start, stop))."""
        ...

    def parties(self, folder: SourceFolder) -> Iterator[SourceItem | SourceError]:
        """The folder's items with what names people (sender, represented party, recipients, contact e-mail
        entries, class, code pages) and no attachments: the cheap walk behind the address book."""
        ...

    def summaries(self, folder: SourceFolder) -> Iterator[ItemSummary | SourceError]:
        """Each item's node id, class and size: the cheap walk behind `inspect`."""
        ...

    def timeline(self, folder: SourceFolder) -> Iterator[Moment | SourceError]:
        """Each item's moment, one per row of the folder in the order items() gives them (a row that cannot
        be read is a SourceError in its place): the cheap walk behind the usable-first order."""
        ...

    def items_at(self, folder: SourceFolder, indexes: Sequence[int]) -> Iterator[SourceItem | SourceError]:
        """The folder's items at these row indexes (as items() numbers them), in the order given."""
        ...

    def recovered(self) -> Iterator[SourceItem | SourceError]:
        """Items no folder lists (offered by --recover), their `recovered` flag set."""
        ...

    def associated(self, folder: SourceFolder) -> Iterator[SourceItem | SourceError]:
        """The folder's associated (FAI) messages (views, rules, configuration objects), `associated` set;
        a reader that cannot reach them says so with a SourceError (the libpff reader where pypff exports
        no libpff C API: pff_associated.py)."""
        ...

    def folder_by_entry_id(self, entry_id: bytes) -> int | None:
        """The node id of the folder an entry id of this store names; None when no folder of the file has it."""
        ...

    def property_name(self, prop_id: int) -> tuple[str, int | str] | None:
        """A named property id (0x8000 and above) as (property set GUID, LID or name); None when unknown."""
        ...

    def replica_map(self) -> ReplicaMap:
        """The store's REPLID -> REPLGUID mapping (source/cache_identity.py): what turns an OST item's message id
        into the server item's source key. Empty, saying why, for a PST or when it cannot be read."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
