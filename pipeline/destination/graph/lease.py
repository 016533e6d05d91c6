"""The mailbox lease over Graph: a hidden mail folder under the top of the mailbox holding one message
whose extended property names the holder (pipeline/lease.py says who may take it).

Creating a folder whose name exists fails (409 ErrorFolderExists), so taking a free lease is atomic; an
expired or dead holder's folder is deleted by id and created anew, as over EWS. Every request of the lease
goes in its own lane (lanes.py): ahead of item uploads, waiting only for the Retry-After the server set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipeline import mapi
from pipeline.destination import lease as protocol
from pipeline.destination.graph.lanes import Lane
from pipeline.destination.graph.transport import GraphError, GraphHttp, Unanswered
from pipeline.destination.lease import EMPTY, LEASE_FOLDER, Empty
from pipeline.lease import LeaseHolder, LeaseLost

LEASE_PROPERTY = f"String {{{mapi.PS_REBUILD}}} Name RebuildLease"


@dataclass
class HeldLease:
    folder_id: str
    message_id: str


def _find(http: GraphHttp) -> str | None:
    flt = f"displayName eq '{LEASE_FOLDER}'"
    found = http.call("GET", "/mailFolders", params={"$filter": flt, "includeHiddenFolders": "true"}, lane=Lane.LEASE)
    values = found.get("value") or []
    return str(values[0]["id"]) if values else None


def _holder(http: GraphHttp, folder_id: str, token: str | None = None) -> tuple[str, LeaseHolder | None] | None:
    """(message id, holder) of the lease message, None when the folder is still empty. A creation whose
    answer was lost and sent again leaves two messages of one holder: the one naming `token` is preferred."""
    expand = f"singleValueExtendedProperties($filter=id eq '{LEASE_PROPERTY}')"
    found = http.call(
        "GET",
        f"/mailFolders/{folder_id}/messages",
        params={"$select": "id", "$expand": expand, "$top": "10"},
        lane=Lane.LEASE,
    )
    first: tuple[str, LeaseHolder | None] | None = None
    for entry in found.get("value") or []:
        for prop in entry.get("singleValueExtendedProperties") or []:
            holder = LeaseHolder.from_json(str(prop.get("value") or ""))
            if token is not None and holder is not None and holder.token == token:
                return str(entry["id"]), holder
            first = first or (str(entry["id"]), holder)
    return first


def _delete(http: GraphHttp, folder_id: str) -> None:
    try:
        http.call("DELETE", f"/mailFolders/{folder_id}", lane=Lane.LEASE)
    except GraphError as exc:
        if exc.status != 404:
            raise


def _message(holder: LeaseHolder) -> dict[str, Any]:
    return {
        "subject": "mailbox rebuild lease",
        "singleValueExtendedProperties": [{"id": LEASE_PROPERTY, "value": holder.to_json()}],
    }


class _Store:
    """The lease folder at the top of the mailbox (destination/lease.py takes it)."""

    def __init__(self, http: GraphHttp) -> None:
        self.http = http

    def find(self) -> str | None:
        return _find(self.http)

    def create(self) -> str | None:
        try:
            made = self.http.call(
                "POST", "/mailFolders", json_body={"displayName": LEASE_FOLDER, "isHidden": True}, lane=Lane.LEASE
            )
        except GraphError as exc:
            if exc.status == 409:
                return None
            raise
        return str(made["id"])

    def write(self, folder_id: str, me: LeaseHolder) -> HeldLease | None:
        """Never sent twice (as over EWS: a second record beside one whose answer was lost would be one that
        renewals never touch); unanswered, it is None and the next round reads the folder."""
        try:
            message = self.http.call(
                "POST", f"/mailFolders/{folder_id}/messages", json_body=_message(me), lane=Lane.LEASE, idempotent=False
            )
        except Unanswered:
            return None
        except GraphError as exc:
            if exc.status == 404 or exc.status >= 500:  # (a 5xx, unretried: it may have been stored too)
                return None
            raise
        return HeldLease(folder_id, str(message["id"]))

    def read(self, folder_id: str) -> LeaseHolder | Empty | None:
        found = _holder(self.http, folder_id)
        return EMPTY if found is None else found[1]

    def delete(self, folder_id: str) -> None:
        _delete(self.http, folder_id)


def take(http: GraphHttp, me: LeaseHolder, force: bool = False, sleep: Any = time.sleep) -> HeldLease:
    """Take the mailbox's lease for `me`, or raise MailboxBusy naming the live holder."""
    return protocol.take(_Store(http), me, force, sleep)


def renew(http: GraphHttp, lease: HeldLease, me: LeaseHolder) -> None:
    try:
        found = _holder(http, lease.folder_id, me.token)
    except GraphError as exc:
        if exc.status == 404:
            raise LeaseLost("the lease was broken or taken over by another run") from exc
        raise
    current = found[1] if found else None
    if found is None or current is None or current.token != me.token:
        raise LeaseLost(f"taken over by {current.describe() if current else 'another run'}")
    lease.message_id = found[0]  # ours, whichever copy of it the folder lists
    http.call(
        "PATCH",
        f"/messages/{lease.message_id}",
        json_body={"singleValueExtendedProperties": [{"id": LEASE_PROPERTY, "value": me.to_json()}]},
        lane=Lane.LEASE,
    )


def release(http: GraphHttp, lease: HeldLease) -> None:
    _delete(http, lease.folder_id)
