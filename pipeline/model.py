"""Plain values handed from the OST reader to conversion, and from conversion to the uploader.

They are the contracts between stages: source/ fills them, convert/ reads them, target/ sends them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.item_values import Appointment, ItemValue
from pipeline.item_values.item_warnings import ItemWarning

#: A named property key: (property-set GUID in lower-case canonical form, numeric id or string name).
NamedKey = tuple[str, int | str]


class FolderRole(enum.StrEnum):
    """What a folder is to Outlook, taken from the store's own entry ids, never from its name.

    The values are EWS distinguished folder ids where one exists, so target/ can map them directly.
    """

    ROOT = "root"  # the store's root folder (not IPM)
    IPM_SUBTREE = "msgfolderroot"  # 'Top of Information Store'
    INBOX = "inbox"
    SENT = "sentitems"
    DELETED = "deleteditems"
    OUTBOX = "outbox"
    DRAFTS = "drafts"
    CALENDAR = "calendar"
    CONTACTS = "contacts"
    TASKS = "tasks"
    NOTES = "notes"
    JOURNAL = "journal"
    JUNK = "junkemail"
    CONFLICTS = "conflicts"
    SYNC_ISSUES = "syncissues"
    LOCAL_FAILURES = "localfailures"
    SERVER_FAILURES = "serverfailures"
    RSS = "rssfeeds"
    CONVERSATION_HISTORY = "conversationhistory"
    SEARCH = "search"  # search folders (Finder and below): never uploaded
    SYSTEM = "system"  # views, Freebusy, Reminders, sync state and other non-IPM folders
    NONE = "none"  # an ordinary user folder

    @property
    def is_uploadable(self) -> bool:
        """Search folders and system folders hold no user content of their own."""
        return self not in (FolderRole.SEARCH, FolderRole.SYSTEM, FolderRole.ROOT)


@dataclass(frozen=True, slots=True)
class SourceFolder:
    """A folder of the OST as found by the walk; path is relative to the IPM subtree where possible."""

    node_id: int
    path: tuple[str, ...]
    display_name: str
    container_class: str
    role: FolderRole
    item_count: int
    parent_node_id: int | None = None
    subfolder_count: int = 0
    outside_ipm: bool = False  # True for folders that are not under the IPM subtree
    global_counter: bytes | None = None  # Exchange OSTs: the folder id's global counter (PR_LTID), which the
    # server's long-term folder entry ids in rules and search folders name it by (roles.entryid_nid)

    @property
    def path_str(self) -> str:
        return "/".join(self.path)


@dataclass(slots=True)
class Recipient:
    """A row of the recipient table: kind is 'to', 'cc' or 'bcc' (PR_RECIPIENT_TYPE 1, 2, 3)."""

    kind: str
    display_name: str | None
    email: str | None  # PR_EMAIL_ADDRESS: SMTP, or a legacyExchangeDN when address_type is 'EX'
    address_type: str | None
    smtp_address: str | None  # PR_SMTP_ADDRESS when cached
    properties: dict[int, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Attachment:
    """An attachment; its bytes and embedded message are read only when asked for.

    method follows PR_ATTACH_METHOD: 1 by value, 2-4 reference, 5 embedded message, 6 OLE.
    """

    index: int
    method: int
    filename: str | None
    mime_type: str | None
    content_id: str | None
    size: int
    is_inline: bool
    properties: dict[int, Any] = field(default_factory=dict)
    _read: Callable[[], bytes] | None = field(default=None, repr=False)
    _open_embedded: Callable[[], SourceItem | None] | None = field(default=None, repr=False)
    _data: bytes | None = field(default=None, repr=False)  # set by load()
    _embedded: SourceItem | None = field(default=None, repr=False)  # set by load()
    _data_error: BaseException | None = field(default=None, repr=False)  # what reading the data raised
    _embedded_error: BaseException | None = field(default=None, repr=False)  # what opening the item raised

    def read(self) -> bytes:
        """The attachment data (for method 5 the raw PR_ATTACH_DATA_OBJ, rarely useful)."""
        if self._data_error is not None:
            raise self._data_error
        if self._data is not None:
            return self._data
        return self._read() if self._read else b""

    def embedded(self) -> SourceItem | None:
        """The embedded message of a method-5 attachment, or None for other kinds."""
        if self._embedded_error is not None:
            raise self._embedded_error
        if self._embedded is not None:
            return self._embedded
        if self.method != 5 or self._open_embedded is None:
            return None
        return self._open_embedded()

    def load(self) -> None:
        """Read the bytes (or the embedded message) now and drop the link to the open file. What the file
        refuses is kept and raised again by read()/embedded(), so conversion reports it as before."""
        if self._read is None and self._open_embedded is None:
            return
        if self.method == 5:
            try:
                inner = self._open_embedded() if self._open_embedded else None
                self._embedded = inner.materialize() if inner is not None else None
            except Exception as exc:  # noqa: BLE001 - kept for conversion to report
                self._embedded_error = exc
        if self._embedded is not None:
            self._data = b""
        else:
            try:
                self._data = self._read() if self._read else b""
            except Exception as exc:  # noqa: BLE001 - kept for conversion to report
                self._data_error, self._data = exc, b""
        self._read = self._open_embedded = None


@dataclass(slots=True)
class SourceItem:
    """One item of the OST with every MAPI property decoded.

    properties is keyed by 16-bit property id (e.g. 0x0037 for PR_SUBJECT), named by NamedKey.
    """

    node_id: int
    folder_path: tuple[str, ...]
    message_class: str
    properties: dict[int, Any]
    named: dict[NamedKey, Any]
    recipients: list[Recipient]
    attachments: list[Attachment]
    codepage: int | None = None  # PR_INTERNET_CPID / PR_MESSAGE_CODEPAGE, for ANSI strings
    recovered: bool = False  # an orphan item recovered by libpff, not found in any folder
    associated: bool = False  # a folder-associated (FAI) message: a view, rule or configuration object

    def materialize(self) -> SourceItem:
        """This item with every attachment and embedded message read into memory, and no link left to
        the open file: a plain value that conversion reads without touching the file, and that can cross
        to a worker process (pickle)."""
        for attachment in self.attachments:
            attachment.load()
        return self

    def prop(self, prop_id: int, default: Any = None) -> Any:
        return self.properties.get(prop_id, default)

    def named_prop(self, guid: str, name: int | str, default: Any = None) -> Any:
        return self.named.get((guid.lower(), name), default)

    @property
    def subject(self) -> str:
        value = self.properties.get(0x0037)
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class SourceError:
    """Something the reader could not read: reported and skipped, never fatal to the walk."""

    folder_path: tuple[str, ...]
    node_id: int | None
    what: str  # 'folder', 'item', 'attachment', 'recovered'
    reason: str


@dataclass(frozen=True, slots=True)
class ExtendedProperty:
    """An extended property to stamp on the uploaded item.

    Either tag (a property tag id, e.g. 0x0E07) or propset_guid plus name (int id or str name).
    mapi_type is an EWS PropertyType name: 'Integer', 'SystemTime', 'Boolean', 'String', 'StringArray'...
    """

    mapi_type: str
    value: Any
    tag: int | None = None
    propset_guid: str | None = None
    name: int | str | None = None


@dataclass(slots=True)
class UploadItem:
    """What conversion hands to the uploader for one source item.

    kind is 'message' (mime holds RFC 5322 bytes), or a typed kind: 'calendar', 'contact', 'distlist',
    'task', 'note', 'journal'; value holds what the item is, typed per kind (pipeline.item_values), which
    each destination maps into its own words.
    """

    kind: str
    item_class: str
    folder_path: tuple[str, ...]
    identity: str  # fingerprint + ordinal among equals (pipeline.fingerprint), stamped on the server
    subject: str
    source_node_id: int
    mime: bytes | None = None
    extended: list[ExtendedProperty] = field(default_factory=list)
    #: Carried on a best-effort basis (every property of an unknown item): dropped if the server refuses them.
    extra_extended: list[ExtendedProperty] = field(default_factory=list)
    warnings: list[ItemWarning] = field(default_factory=list)  # what could not be carried, for the report
    #: Set by the destination when the server took the item only in a simpler form (also in warnings).
    fallbacks: list[ItemWarning] = field(default_factory=list)
    #: A recurring series whose exceptions are applied after creation: stamped pending until they are.
    series_pending: bool = False
    #: What the item is, typed per kind (pipeline.item_values): what the destinations map.
    value: ItemValue | None = None

    @property
    def has_series_exceptions(self) -> bool:
        """A recurring series with deleted or modified occurrences (applied after the master is created)."""
        return (
            isinstance(self.value, Appointment) and self.value.series is not None and self.value.series.has_exceptions
        )

    #: How the item's Exchange (legacyExchangeDN) parties got an address, counted (convert/addressbook.py).
    address_sources: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Approximate wire size, used to bound batches by bytes: a typed item's texts and bytes, 64 for each
        other value it holds, and 512 for the envelope."""
        if self.mime is not None:
            return len(self.mime)
        if self.value is None:
            return 512
        values = (getattr(self.value, f.name) for f in dataclasses.fields(self.value))
        return sum(len(v) if isinstance(v, bytes | str) else 64 for v in values if v not in (None, ())) + 512
