"""The idempotent uploader: batches bounded by count and bytes, retries with tenacity, dedupe by fingerprint.

Every retry of a batch first asks the server which of its fingerprints already landed, so a request the
server committed but never answered (commit-then-drop, a killed run) is never stored twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exchangelib import Account
from exchangelib.items import SAVE_ONLY, SEND_TO_NONE

from pipeline.destination.base import (
    Failure,
    FailureKind,
    MailboxFatalError,
    Outcome,
    OutcomeState,
    SendStats,
)
from pipeline.destination.ews import retry
from pipeline.destination.ews.errors import ErrorKind, classify, describe, is_size_refusal
from pipeline.destination.ews.item_xml import prebuilt_item
from pipeline.destination.ews.items import build_item
from pipeline.destination.ews.properties import FINGERPRINT_FIELD, PENDING_FIELD, register_fingerprint
from pipeline.fingerprint import Stamp, read_stamp
from pipeline.item_values import JournalEntry, MailMessage, StickyNote
from pipeline.item_values.item_warnings import fallback
from pipeline.lease import check_fence
from pipeline.model import UploadItem

#: Page size when reading fingerprints back (Exchange's default FindItem page limit).
FINGERPRINT_PAGE = 1000


UploadStats = SendStats


def stamps(folder: Any) -> list[Stamp]:
    """The stamps on the folder's items, one per stamped item (FindItem pages of those properties only)."""
    register_fingerprint()
    query = folder.all().only(FINGERPRINT_FIELD, PENDING_FIELD)
    query.page_size = FINGERPRINT_PAGE
    return [
        read_stamp(value, pending, str(item_id))
        for item_id, value, pending in query.values_list("id", FINGERPRINT_FIELD, PENDING_FIELD)
        if value
    ]


def stamped_fingerprints(folder: Any) -> list[str]:
    """The identities stamped on the folder's items, one per item."""
    return [stamp.identity for stamp in stamps(folder)]


def _failed(upload: UploadItem, kind: FailureKind, detail: str) -> Outcome:
    return Outcome(upload, OutcomeState.FAILED, failure=Failure(kind, detail))


def ids_stamped(folder: Any, identity: str) -> list[str]:
    """Ids of the folder's items stamped with this identity (unrestricted read-back, as above)."""
    register_fingerprint()
    query = folder.all().only(FINGERPRINT_FIELD)
    query.page_size = FINGERPRINT_PAGE
    return [
        item_id
        for item_id, value in query.values_list("id", FINGERPRINT_FIELD)
        if value and read_stamp(value).identity == identity
    ]


class Uploader:
    """Sends batches into one folder at a time and reports an Outcome per item through on_outcomes."""

    def __init__(
        self,
        account: Account,
        on_outcomes: Callable[[list[Outcome]], None],
        policy: retry.RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.on_outcomes = on_outcomes
        self.policy = policy or retry.RetryPolicy()
        self.sleep = sleep
        self.stats = UploadStats()
        register_fingerprint()

    # -- reading back -----------------------------------------------------------------------------
    def server_fingerprints(self, folder: Any) -> set[str]:
        """Every fingerprint stamped in the folder, paged, that property only."""
        return retry.call(lambda: set(stamped_fingerprints(folder)), self.policy, self.sleep)

    def present_among(self, folder: Any, fingerprints: list[str]) -> set[str]:
        """Which of these fingerprints the folder already holds, from an unrestricted read-back of the
        folder's fingerprints: Exchange's restricted FindItem can miss items committed seconds ago (the
        answer the retry follows), the folder's contents cannot."""
        if not fingerprints:
            return set()
        return set(fingerprints) & set(stamped_fingerprints(folder))

    # -- sending ----------------------------------------------------------------------------------
    def send(self, folder: Any, batch: list[UploadItem]) -> None:
        """Create the batch's items in folder; every item ends up with exactly one Outcome."""
        pending = list(batch)
        first = True
        try:
            for attempt in retry.retrying(self.policy, self.sleep):
                with attempt:
                    check_fence()
                    if not first:
                        self.stats.retries += 1
                        pending = self._drop_in_doubt(folder, pending)
                        if not pending:
                            return
                    first = False
                    pending = self._send_once(folder, pending)
                    if pending:
                        raise retry.Transient(_ItemsRefused(f"{len(pending)} items refused for now"))
        except retry.Transient as exc:
            if not isinstance(exc.cause, _ItemsRefused):
                # The server kept failing whole requests: stop this mailbox; the rerun resumes it.
                raise MailboxFatalError(
                    f"the server kept failing after {self.policy.max_attempts} attempts: {exc}"
                ) from exc
            self.on_outcomes(
                [_failed(u, FailureKind.GAVE_UP, f"after {self.policy.max_attempts} attempts: {exc}") for u in pending]
            )
        except _SplitBatch:
            # exchangelib raises for the whole request when one item is refused (unless the error is one it
            # catches per item), although the server stored the others: those are done, the rest goes singly.
            rest = retry.call(lambda: self._drop_in_doubt(folder, pending), self.policy, self.sleep)
            for upload in rest:
                self.send(folder, [upload])

    def _send_once(self, folder: Any, pending: list[UploadItem]) -> list[UploadItem]:
        """One CreateItem request; returns the items to try again (per-item transient refusals)."""
        items = []
        outcomes: list[Outcome] = []
        sendable: list[UploadItem] = []
        version = self.account.version
        for upload in pending:
            try:
                items.append(prebuilt_item(upload, version) or build_item(upload, self.account, folder))
                sendable.append(upload)
            except (ValueError, TypeError, KeyError) as exc:
                outcomes.append(_failed(upload, FailureKind.BUILD, f"the EWS item: {describe(exc)}"))
        if not sendable:
            self.on_outcomes(outcomes)
            return []
        check_fence()  # building the items took a while: the lease may have passed meanwhile
        self.stats.requests += 1
        try:
            results = self.account.bulk_create(
                folder=folder,
                items=items,
                message_disposition=SAVE_ONLY,
                send_meeting_invitations=SEND_TO_NONE,
                chunk_size=len(items),
            )
        except Exception as exc:  # noqa: BLE001 - classified right below
            kind = classify(exc)
            if kind is ErrorKind.FATAL:
                raise MailboxFatalError(describe(exc)) from exc
            if kind is ErrorKind.ITEM:
                if len(sendable) > 1:
                    self.on_outcomes(outcomes)
                    raise _SplitBatch() from exc
                simpler = None if is_size_refusal(exc) else _simpler(sendable[0], exc)
                if simpler is not None:
                    self.on_outcomes(outcomes)
                    return [simpler]
                self.on_outcomes([*outcomes, _failed(sendable[0], _refusal(exc), describe(exc))])
                return []
            self.on_outcomes(outcomes)
            raise retry.Transient(exc) from exc
        again: list[UploadItem] = []
        for upload, result in zip(sendable, results, strict=True):
            if isinstance(result, Exception):
                kind = classify(result)
                if kind is ErrorKind.FATAL:
                    self.on_outcomes(outcomes)
                    raise MailboxFatalError(describe(result))
                if kind is ErrorKind.TRANSIENT:
                    again.append(upload)
                elif not is_size_refusal(result) and (simpler := _simpler(upload, result)) is not None:
                    again.append(simpler)
                else:
                    outcomes.append(_failed(upload, _refusal(result), describe(result)))
            else:
                outcomes.append(Outcome(upload, OutcomeState.UPLOADED, server_id=getattr(result, "id", None)))
        self.on_outcomes(outcomes)
        return again

    def _drop_in_doubt(self, folder: Any, pending: list[UploadItem]) -> list[UploadItem]:
        """Before a resend: the items the server stored although we never heard back are done."""
        try:
            present = self.present_among(folder, [u.identity for u in pending])
        except Exception as exc:
            retry.raise_classified(exc)
        if present:
            self.stats.in_doubt_found += len(present)
            self.on_outcomes([Outcome(u, OutcomeState.PRESENT) for u in pending if u.identity in present])
        return [u for u in pending if u.identity not in present]


def _refusal(exc: BaseException) -> FailureKind:
    return FailureKind.TOO_LARGE if is_size_refusal(exc) else FailureKind.REFUSED


def _simpler(upload: UploadItem, cause: BaseException) -> UploadItem | None:
    """The item again in a form the server is more likely to take, or None when there is none left:
    first without its best-effort properties, then as a plain message (its original class stays recorded
    in the RebuildOriginalItemClass property)."""
    reason = describe(cause)
    if upload.extra_extended:
        note = fallback("extra properties dropped", f"the server refused them ({reason})")
        return dataclasses.replace(
            upload, extra_extended=[], warnings=[*upload.warnings, note], fallbacks=[*upload.fallbacks, note]
        )
    value = upload.value
    if isinstance(value, MailMessage | StickyNote | JournalEntry) and value.item_class:
        note = fallback("kept as a plain message", f"the server refused class {upload.item_class} ({reason})")
        plain = dataclasses.replace(value, item_class=None)
        return dataclasses.replace(
            upload, value=plain, warnings=[*upload.warnings, note], fallbacks=[*upload.fallbacks, note]
        )
    return None


class _ItemsRefused(Exception):
    """Some items of a batch were refused with a transient per-item error."""


class _SplitBatch(Exception):
    """The request was refused for its content: send the items one by one to find the culprit."""


@dataclass
class Batcher:
    """Collects UploadItems for one folder until the count or byte bound is reached."""

    max_items: int
    max_bytes: int
    items: list[UploadItem] = field(default_factory=list)
    size: int = 0

    def add(self, item: UploadItem) -> list[UploadItem] | None:
        """Add item; returns a full batch to send (possibly the previous items) or None."""
        full = None
        if self.items and (len(self.items) >= self.max_items or self.size + item.size > self.max_bytes):
            full = self.take()
        self.items.append(item)
        self.size += item.size
        return full

    def take(self) -> list[UploadItem]:
        batch, self.items, self.size = self.items, [], 0
        return batch
