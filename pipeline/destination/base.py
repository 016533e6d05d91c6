"""The Protocol a run needs from a destination, and the typed values that cross it.

A destination opens mailboxes; a mailbox maps source folders to server folders, lists the identities
stamped in a folder, sends batches (outcomes come back as typed values, never text to parse), finishes
recurring series and holds the mailbox lease. ews/ implements it with exchangelib; fake.py in memory.
Like structlog's BindableLogger, it is a small Protocol that every implementation satisfies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline.fingerprint import Stamp
from pipeline.folder_plan import PlannedFolder
from pipeline.item_values.item_warnings import ItemWarning
from pipeline.lease import LeaseHolder
from pipeline.model import UploadItem


class MailboxFatalError(Exception):
    """Stops one mailbox (bad credentials, no such mailbox, no permission); others go on."""


class NoSuchMailbox(MailboxFatalError):
    """The server has no mailbox at this address (EWS ErrorNonExistentMailbox, Graph ErrorInvalidUser); the
    message is the server's own words."""


class MailboxBusy(MailboxFatalError):
    """Another run holds the mailbox's lease: nothing was written. Carries who holds it and until when."""

    def __init__(self, holder: str, expires: datetime) -> None:
        super().__init__(
            f"another run holds this mailbox: {holder}, lease until {expires:%Y-%m-%d %H:%M:%S} UTC "
            f"(wait, or --break-lease if that run is gone)"
        )
        self.holder = holder
        self.expires = expires


class OutcomeState(enum.StrEnum):
    UPLOADED = "uploaded"
    PRESENT = "present"  # already on the server (a rerun, or a request committed but never answered)
    PENDING = "pending"  # on the server; a recurring series whose exceptions the rerun must finish
    FAILED = "failed"


class FailureKind(enum.StrEnum):
    """Why an item did not arrive; the value is what the summary and the reports show."""

    UNREADABLE = "unreadable"  # the source could not be read
    FINGERPRINT = "fingerprint"  # its identity could not be computed
    CONVERSION = "conversion"
    BUILD = "cannot build"  # the destination's client could not express it
    TOO_LARGE = "too large"  # over the item or request size limit
    REFUSED = "refused"  # the server refused this item
    GAVE_UP = "gave up"  # transient refusals until the retry budget ran out
    VANISHED = "vanished"  # stored, then gone from the server before the run ended, twice over
    STATE = "state not applied"  # a merge run's newer state for an item already there: update or move refused


@dataclass(frozen=True, slots=True)
class Failure:
    """kind says what went wrong; what names the part (e.g. 'item', 'folder'); detail is the server's or
    the reader's own words."""

    kind: FailureKind
    detail: str = ""
    what: str = ""

    def __str__(self) -> str:
        head = f"{self.kind} {self.what}" if self.what else str(self.kind)
        return f"{head}: {self.detail}" if self.detail else head


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item (the simpler forms the server needed are in item.fallbacks)."""

    item: UploadItem
    state: OutcomeState
    server_id: str | None = None
    failure: Failure | None = None
    #: What finishing the item (a series' exceptions) could not carry, for the run's report (also in warnings).
    notes: tuple[ItemWarning, ...] = ()

    @property
    def error(self) -> str | None:
        return str(self.failure) if self.failure else None


@dataclass(frozen=True, slots=True)
class ServerFolder:
    """A folder on the destination: id for the journal, handle for the destination's own use; created: this
    open mailbox created it (it held nothing then, and only the lease holder writes into it since)."""

    id: str
    name: str
    handle: Any = field(default=None, compare=False, repr=False)
    created: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class SettingsLinks:
    """What a destination that restores the user's settings itself (Graph: `restore_settings`) needs of the
    source and the run: the rebuilt folder's server id for a folder entry id of the source store, the
    (property set, name) of the store's named property ids, and the rebuilt top of the mailbox."""

    folder_id: Callable[[bytes], str | None]
    property_name: Callable[[int], tuple[str, int | str] | None]
    scope_default: str | None = None


#: The action of a setting the server refused (beside merge.py's SettingAction values).
SETTING_FAILED = "failed"


class OutlookRulesBlobPresent(Exception):
    """The new mailbox has Outlook's rules blob: writing inbox rules would delete it (and the client-only
    rules it holds), so none is written."""


class InboxRulesQuotaFull(Exception):
    """The new mailbox's inbox rules would pass its rules quota (Exchange's RulesQuota): the rule is not
    written, nor any after it."""


class InboxRuleStore(Protocol):
    """A mailbox's inbox rules, as the settings restore sees them (a Mailbox offering `inbox_rules()` gives
    one): contents are opaque values the destination makes, compared for equality only."""

    def existing(self) -> tuple[dict[str, list[object]], int]:
        """The server's rules (name case-folded -> the contents of the rules of that name), highest priority."""
        ...

    def content_of(self, rule: Any, folders: dict[bytes, str]) -> object:
        """What the server would hold for `rule` (an inbox_rules.InboxRule); `folders` maps the source's
        folder entry ids to server folder ids."""
        ...

    def create(self, rule: Any, folders: dict[bytes, str], priority: int) -> None:
        """Raises OutlookRulesBlobPresent when the mailbox keeps Outlook's rules blob, InboxRulesQuotaFull when
        the rule does not fit in the mailbox's rules quota."""
        ...


@dataclass
class FolderStats:
    mapped: int = 0  # roles mapped onto the server's well-known folders
    created: int = 0
    found: int = 0  # existing folders reused (rerun, or a folder the user had)
    renamed: int = 0  # created under a disambiguated name


@dataclass
class SendStats:
    requests: int = 0
    retries: int = 0
    in_doubt_found: int = 0  # items a retry found already stored (the server committed, we never heard)


class BatchSender(Protocol):
    """Sends batches into folders; each item's Outcome reaches the run's handler in the run's thread."""

    @property
    def stats(self) -> SendStats: ...

    def send(self, folder: ServerFolder, batch: list[UploadItem]) -> None: ...

    def after(self, step: Callable[[], None]) -> None:
        """Run step in the caller's thread once every batch sent so far has been handled."""

    def wait(self) -> None:
        """Every batch sent, its outcomes handled and every step run."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ItemState:
    """What a merge run applies to an item already on the server: read, flag status, categories."""

    read: bool
    flag: int  # PR_FLAG_STATUS: 0 none, 1 complete, 2 flagged
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StateChange:
    """A server item given a newer state (and its new stamp), and moved into `target` when `move`."""

    server_id: str
    target: ServerFolder
    state: ItemState
    stamp: str
    move: bool


class Mailbox(Protocol):
    """One open mailbox on a destination."""

    @property
    def folder_stats(self) -> FolderStats: ...

    def check_access(self) -> None:
        """The first request: proves the credentials and the mailbox (MailboxFatalError otherwise)."""

    def take_lease(self, holder: LeaseHolder, force: bool = False) -> None:
        """Become the mailbox's one writer, or raise MailboxBusy (pipeline/lease.py says who may take it)."""

    def renew_lease(self, holder: LeaseHolder) -> None:
        """Extend the held lease; LeaseLost when another run has taken it."""

    def release_lease(self) -> None: ...

    def folder(self, planned: PlannedFolder, parent: ServerFolder | None, create: bool = True) -> ServerFolder | None:
        """The server folder for a planned folder, under parent (None: the top), created unless create is
        False (then None when it does not exist). The caller resolves parents first."""

    def folders_below(self) -> list[ServerFolder]:
        """Every folder under the rebuilt tree's top (the message folder root, or --target-root)."""

    def stamps(self, folder: ServerFolder) -> list[Stamp]:
        """The stamp of every item in the folder that carries one (one entry per server item)."""

    def delete_items(self, folder: ServerFolder, server_ids: list[str]) -> None:
        """Remove these items of the folder for good (reconciliation's extra copies); already gone is fine."""

    def cannot_carry(self, upload: UploadItem) -> list[ItemWarning]:
        """Fields of upload this destination cannot store (reported as warnings, never dropped silently)."""

    def sender(self, handle: Callable[[list[Outcome]], None], in_flight: int) -> BatchSender: ...

    def find_stamped(self, folder: ServerFolder, identity: str) -> list[str]:
        """Server ids of the folder's items stamped with identity."""

    def complete_series(self, folder: ServerFolder, server_id: str, upload: UploadItem) -> Outcome:
        """Apply a series' deleted and modified occurrences, then clear its pending state (destination/series.py):
        UPLOADED, or PENDING when the rerun must finish it. Senders call it for each series they create."""

    def update_state(self, change: StateChange) -> str:
        """Apply a newer state to a stamped item, restamp it, and move it when asked (a merge run's later
        file); returns the item's server id afterwards (a move gives it a new one)."""

    def close(self) -> None: ...


class Destination(Protocol):
    """Where mailboxes are written; opened once per run (per process), holding no password."""

    name: str

    def open(self, mailbox: str, target_root: str | None = None) -> Mailbox:
        """The mailbox, with everything under one new folder target_root when given."""
