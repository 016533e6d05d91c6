"""Batches over Graph: each item created once (importMime, or JSON with its properties), the imported
ones finished by one $batch of PATCHes; up to `in_flight` batches at once on threads, outcomes handed to
the run in its own thread.

A creation that went unanswered (a reset, a timeout, a 5xx) is never simply sent again: the folder is
first asked, by a $filter on the identity, whether it landed; only then is it resent.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pybase64

from pipeline.destination.base import (
    Failure,
    FailureKind,
    MailboxFatalError,
    Outcome,
    OutcomeState,
    SendStats,
    ServerFolder,
)
from pipeline.destination.graph import items
from pipeline.destination.graph.folders import CALENDAR, CONTACTS, MAIL, TODO, Ref
from pipeline.destination.graph.transport import (
    MAX_IN_FLIGHT,
    ErrorKind,
    GraphError,
    GraphHttp,
    Unanswered,
    answer_error,
)
from pipeline.destination.inflight import InFlight
from pipeline.item_values.item_warnings import fallback
from pipeline.lease import bind, current_fence
from pipeline.model import UploadItem

BATCH_LIMIT = 20
#: Upload-session ranges: a multiple of 320 KiB under Graph's 4 MiB per request.
UPLOAD_CHUNK = 10 * 320 * 1024
#: Which item kinds each folder kind takes over Graph.
ACCEPTS = {
    MAIL: ("message", "note", "journal", "unknown"),
    CALENDAR: ("calendar",),
    CONTACTS: ("contact", "distlist"),
    TODO: ("task",),
}


def items_path(ref: Ref) -> str:
    if ref.kind == MAIL:
        return f"/mailFolders/{ref.id}/messages"
    if ref.kind == CALENDAR:
        return f"/calendars/{ref.id}/events"
    if ref.kind == CONTACTS:
        return f"/contactFolders/{ref.id}/contacts" if ref.id else "/contacts"
    return f"/todo/lists/{ref.id}/tasks"


def item_path(ref: Ref, server_id: str) -> str:
    return {MAIL: "/messages/", CALENDAR: "/events/", CONTACTS: "/contacts/"}.get(
        ref.kind, f"/todo/lists/{ref.id}/tasks/"
    ) + server_id


@dataclass
class Leftovers:
    """What killed runs left half done, per folder id and identity (found by GraphMailbox.stamps):
    imported messages never finished by their PATCH, JSON messages whose large attachments never arrived."""

    imported: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    half_made: dict[str, dict[str, list[str]]] = field(default_factory=dict)


class Imports:
    """Whether importMime works here (it does not on other clouds, or when refused): learnt once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled


class Creator:
    """Creates one batch's items in one folder; every item gets exactly one Outcome."""

    def __init__(
        self,
        http: GraphHttp,
        imports: Imports,
        leftovers: Leftovers,
        stats: SendStats,
        lock: threading.Lock,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.http = http
        self.pool = pool
        self.imports = imports
        self.leftovers = leftovers
        self.stats = stats
        self.lock = lock

    def send(self, folder: ServerFolder, batch: list[UploadItem]) -> list[Outcome]:
        """Each item is one request: up to MAX_IN_FLIGHT of them at once (the mailbox's GraphHttp caps the
        total), then the imported ones are finished by $batch PATCHes."""
        ref: Ref = folder.handle
        results = list(self.pool.map(lambda upload: self._one(ref, folder, upload), batch))
        outcomes = [outcome for outcome, patch_id in results if patch_id is None]
        outcomes.extend(
            self._finish([(outcome.item, patch_id) for outcome, patch_id in results if patch_id is not None])
        )
        return outcomes

    def _one(self, ref: Ref, folder: ServerFolder, upload: UploadItem) -> tuple[Outcome, str | None]:
        if upload.kind not in ACCEPTS[ref.kind]:
            if ref.kind != MAIL:
                return _failed(
                    upload, FailureKind.BUILD, f"Graph cannot store a {upload.kind} in a {ref.kind} folder"
                ), None
            # An appointment, contact or task in a mail folder (Deleted Items): kept as a message of its class.
            note = fallback(
                f"over Graph, a {upload.kind} in a mail folder is kept as a message of its class", upload.item_class
            )
            upload = dataclasses.replace(
                upload, kind="note", warnings=[*upload.warnings, note], fallbacks=[*upload.fallbacks, note]
            )
        try:
            return self._create(ref, folder, upload)
        except MailboxFatalError:
            raise
        except GraphError as exc:
            kind = (
                FailureKind.TOO_LARGE
                if exc.status == 413
                else (FailureKind.GAVE_UP if exc.kind is ErrorKind.TRANSIENT else FailureKind.REFUSED)
            )
            return _failed(upload, kind, str(exc)), None
        except Unanswered as exc:
            return _failed(upload, FailureKind.GAVE_UP, f"no answer: {exc}"), None
        except (ValueError, TypeError, KeyError) as exc:
            return _failed(upload, FailureKind.BUILD, f"the Graph item: {exc}"), None

    # -- creation ---------------------------------------------------------------------------------
    def _create(self, ref: Ref, folder: ServerFolder, upload: UploadItem) -> tuple[Outcome, str | None]:
        """(the outcome, or the id of an imported message still to be finished by a PATCH)."""
        half = self.leftovers.imported.get(folder.id, {}).get(upload.identity)
        if half:
            with self.lock:
                server_id = half.pop(0)
            return Outcome(upload, OutcomeState.UPLOADED, server_id=server_id), server_id
        for doomed in self.leftovers.half_made.get(folder.id, {}).pop(upload.identity, []):
            try:  # its large attachments never all arrived: made again below
                self.http.call("DELETE", item_path(ref, doomed))
            except GraphError as exc:
                if exc.status != 404:
                    raise
        if (
            ref.kind == MAIL
            and upload.mime is not None
            and upload.kind in ("message", "unknown")
            and not items.is_draft(upload)
            and self.imports.enabled
        ):
            created = self._once(ref, upload, lambda: self._import(ref, upload), items.HEADER_PROPERTY, True)
            if created is not None:  # finished by the PATCH, whether this attempt or a lost one stored it
                return Outcome(upload, OutcomeState.UPLOADED, server_id=created["id"]), created["id"]
        if (
            ref.kind == MAIL
            and upload.kind in ("message", "unknown")
            and upload.mime is not None
            and not items.is_draft(upload)
        ):
            note = fallback("raw MIME headers lost", "created from JSON (importMime not available here)")
            upload = dataclasses.replace(upload, warnings=[*upload.warnings, note], fallbacks=[*upload.fallbacks, note])
        large: list[items.LargeAttachment] = []
        body = items.json_message(upload, large) if ref.kind == MAIL else self._body(ref, upload)
        created = self._once(
            ref,
            upload,
            lambda: self.http.call("POST", items_path(ref), json_body=body, idempotent=False),
            items.FINGERPRINT_PROPERTY,
        )
        assert created is not None
        picture = items.photo(upload) if ref.kind == CONTACTS else None
        if large or picture:  # stored stamped as pending: the attachments or photo, then the mark cleared
            for attachment in large:
                self._upload(created["id"], attachment)
            if picture:
                kind = "image/png" if picture.startswith(b"\x89PNG") else "image/jpeg"
                self.http.call(
                    "PUT", f"/contacts/{created['id']}/photo/$value", content=picture, headers={"Content-Type": kind}
                )
            self.http.call(
                "PATCH",
                item_path(ref, created["id"]),
                json_body={"singleValueExtendedProperties": [{"id": items.ATTACHMENTS_PENDING, "value": "false"}]},
            )
        if created.get("_present") and not (large or picture):
            with self.lock:
                self.stats.in_doubt_found += 1
            return Outcome(upload, OutcomeState.PRESENT, server_id=created["id"]), None
        return Outcome(upload, OutcomeState.UPLOADED, server_id=created["id"]), None

    def _upload(self, message_id: str, attachment: items.LargeAttachment) -> None:
        """One attachment through an upload session, in ranges of UPLOAD_CHUNK bytes."""
        session = self.http.call(
            "POST", f"/messages/{message_id}/attachments/createUploadSession", json_body=attachment.session_body()
        )
        url, data = str(session["uploadUrl"]), attachment.data
        for start in range(0, len(data), UPLOAD_CHUNK):
            chunk = data[start : start + UPLOAD_CHUNK]
            self.http.put_range(url, chunk, start, len(data))

    def _body(self, ref: Ref, upload: UploadItem) -> dict[str, Any]:
        if ref.kind == MAIL:
            return items.json_message(upload)
        if ref.kind == CALENDAR:
            return items.event(upload)
        if ref.kind == CONTACTS:
            return items.contact(upload)
        return items.todo_task(upload)

    def _import(self, ref: Ref, upload: UploadItem) -> Any:
        data = pybase64.b64encode(items.mime_for_import(upload))
        return self.http.call(
            "POST",
            f"/mailFolders/{ref.id}/importMime",
            content=data,
            beta=True,
            headers={"Content-Type": "text/plain"},
            idempotent=False,
        )

    def _once(
        self, ref: Ref, upload: UploadItem, create: Callable[[], Any], identity_property: str, is_import: bool = False
    ) -> Any:
        """Create, and after an unanswered or failed attempt look for the item before creating again.
        None when importMime turned out not to exist here (the caller then creates JSON)."""
        attempts = self.http.policy.max_attempts
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                with self.lock:
                    self.stats.retries += 1
                found = self._find(ref, upload, identity_property)
                if found is not None:
                    return {"id": found, "_present": True}
            try:
                with self.lock:
                    self.stats.requests += 1
                return create()
            except Unanswered:
                if attempt == attempts:
                    raise
                continue
            except GraphError as exc:
                if is_import and exc.status in (400, 404, 405, 501) and _no_import(exc):
                    self.imports.enabled = False
                    return None
                if exc.kind is ErrorKind.ITEM or attempt == attempts:
                    raise
                self.http._wait(attempt, exc.retry_after)
        return None

    def _find(self, ref: Ref, upload: UploadItem, identity_property: str) -> str | None:
        """The id of this item if an earlier attempt stored it (the in-doubt check)."""
        if ref.kind == TODO:
            for entry in self.http.pages(items_path(ref), {"$top": "1000", "$expand": "extensions"}):
                for extension in entry.get("extensions") or []:
                    if (
                        extension.get("extensionName") == items.EXTENSION_NAME
                        and extension.get("identity") == upload.identity
                    ):
                        return str(entry["id"])
            return None
        literal = upload.identity.replace("'", "''")
        flt = f"singleValueExtendedProperties/any(ep: ep/id eq '{identity_property}' and ep/value eq '{literal}')"
        found = self.http.call("GET", items_path(ref), params={"$filter": flt, "$select": "id", "$top": "10"})
        values = found.get("value") or []
        return str(values[0]["id"]) if values else None

    # -- finishing imported messages --------------------------------------------------------------
    def _finish(self, pending: list[tuple[UploadItem, str]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            requests = [
                {
                    "id": str(n),
                    "method": "PATCH",
                    "url": f"/messages/{server_id}",
                    "headers": {"Content-Type": "application/json"},
                    "body": items.after_import(upload),
                }
                for n, (upload, server_id) in enumerate(chunk)
            ]
            with self.lock:
                self.stats.requests += 1
            try:
                answers = self.http.batch(requests)
            except GraphError as exc:
                outcomes.extend(_failed(u, FailureKind.GAVE_UP, f"stored, not finished: {exc}") for u, _ in chunk)
                continue
            for n, (upload, server_id) in enumerate(chunk):
                error = answer_error(answers.get(str(n), {"status": 0}))
                if error is None:
                    outcomes.append(Outcome(upload, OutcomeState.UPLOADED, server_id=server_id))
                else:
                    outcomes.append(_failed(upload, FailureKind.REFUSED, f"stored, not finished: {error}"))
        return outcomes


def _no_import(exc: GraphError) -> bool:
    text = f"{exc.code} {exc.message}".lower()
    return "importmime" in text or exc.status in (404, 501) or "not supported" in text


def _failed(upload: UploadItem, kind: FailureKind, detail: str) -> Outcome:
    return Outcome(upload, OutcomeState.FAILED, failure=Failure(kind, detail))


class GraphSender(InFlight):
    """base.BatchSender over Graph: `in_flight` batches at once (Graph allows 4 requests per mailbox)."""

    def __init__(
        self,
        http: GraphHttp,
        imports: Imports,
        leftovers: Leftovers,
        handle: Callable[[list[Outcome]], None],
        in_flight: int,
        finish: Callable[[Any, str, UploadItem], Outcome] | None = None,
    ) -> None:
        # Graph takes one item per request (EWS: a batch per request): batches go `in_flight` at a time, and
        # their items share the mailbox's budget of Graph's 4 requests in flight.
        super().__init__(handle, min(in_flight, MAX_IN_FLIGHT), "graph-send", finish)
        self.http = http
        self._stats = SendStats()
        self._lock = threading.Lock()
        self._items = ThreadPoolExecutor(
            max_workers=MAX_IN_FLIGHT, thread_name_prefix="graph-item", initializer=bind, initargs=(current_fence(),)
        )
        self.creator = Creator(http, imports, leftovers, self._stats, self._lock, self._items)

    @property
    def stats(self) -> SendStats:
        """Requests and retries as the mailbox's HTTP counted them (429s and resends included)."""
        return SendStats(
            requests=self.http.requests,
            retries=self.http.retries + self._stats.retries,
            in_doubt_found=self._stats.in_doubt_found,
        )

    def _deliver(self, folder: ServerFolder, batch: list[UploadItem]) -> None:
        self.outcomes.put(self.creator.send(folder, batch))

    def close(self) -> None:
        super().close()
        self._items.shutdown(wait=True)
