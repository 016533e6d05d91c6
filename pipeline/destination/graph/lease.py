"""The mailbox lease over Graph: a hidden mail folder under the top of the mailbox holding one message
whose extended property names the holder (pipeline/lease.py says who may take it).

Creating a folder whose name exists fails (409 ErrorFolderExists), so taking a free lease is atomic; an
expired or dead holder's folder is deleted by id and created anew, as over EWS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pipeline import mapi
from pipeline.destination.base import MailboxBusy, MailboxFatalError
from pipeline.destination.graph.transport import GraphError, GraphHttp
from pipeline.lease import LeaseHolder, LeaseLost, may_take

LEASE_FOLDER = "Mailbox rebuild lease"
LEASE_PROPERTY = f"String {{{mapi.PS_REBUILD}}} Name RebuildLease"
EMPTY_GRACE = 5.0
ATTEMPTS = 12


@dataclass
class HeldLease:
    folder_id: str
    message_id: str


def _find(http: GraphHttp) -> str | None:
    flt = f"displayName eq '{LEASE_FOLDER}'"
    found = http.call("GET", "/mailFolders", params={"$filter": flt, "includeHiddenFolders": "true"})
    values = found.get("value") or []
    return str(values[0]["id"]) if values else None


def _holder(http: GraphHttp, folder_id: str) -> tuple[str, LeaseHolder | None] | None:
    """(message id, holder) of the lease message, None when the folder is still empty."""
    expand = f"singleValueExtendedProperties($filter=id eq '{LEASE_PROPERTY}')"
    found = http.call("GET", f"/mailFolders/{folder_id}/messages",
                      params={"$select": "id", "$expand": expand, "$top": "10"})
    for entry in found.get("value") or []:
        for prop in entry.get("singleValueExtendedProperties") or []:
            return str(entry["id"]), LeaseHolder.from_json(str(prop.get("value") or ""))
    return None


def _delete(http: GraphHttp, folder_id: str) -> None:
    try:
        http.call("DELETE", f"/mailFolders/{folder_id}")
    except GraphError as exc:
        if exc.status != 404:
            raise


def _message(holder: LeaseHolder) -> dict[str, Any]:
    return {"subject": "mailbox rebuild lease",
            "singleValueExtendedProperties": [{"id": LEASE_PROPERTY, "value": holder.to_json()}]}


def take(http: GraphHttp, me: LeaseHolder, force: bool = False, sleep: Any = time.sleep) -> HeldLease:
    empty_since: float | None = None
    for _ in range(ATTEMPTS):
        folder_id = _find(http)
        if folder_id is None:
            try:
                made = http.call("POST", "/mailFolders", json_body={"displayName": LEASE_FOLDER, "isHidden": True})
            except GraphError as exc:
                if exc.status == 409:
                    continue  # another run created it a moment ago: read what it says
                raise
            try:
                message = http.call("POST", f"/mailFolders/{made['id']}/messages", json_body=_message(me))
            except GraphError as exc:
                if exc.status == 404:
                    continue  # deleted as void before we wrote ourselves in
                raise
            return HeldLease(str(made["id"]), str(message["id"]))
        found = _holder(http, folder_id)
        if found is None:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since < EMPTY_GRACE and not force:
                sleep(0.5)
                continue
            _delete(http, folder_id)
            continue
        _, current = found
        if not may_take(current, me, force):
            assert current is not None
            raise MailboxBusy(current.describe(), current.expires)
        _delete(http, folder_id)
    raise MailboxFatalError(f"could not take the mailbox lease after {ATTEMPTS} attempts")


def renew(http: GraphHttp, lease: HeldLease, me: LeaseHolder) -> None:
    try:
        found = _holder(http, lease.folder_id)
    except GraphError as exc:
        if exc.status == 404:
            raise LeaseLost("the lease was broken or taken over by another run") from exc
        raise
    current = found[1] if found else None
    if found is None or found[0] != lease.message_id or current is None or current.token != me.token:
        raise LeaseLost(f"taken over by {current.describe() if current else 'another run'}")
    http.call("PATCH", f"/messages/{lease.message_id}",
              json_body={"singleValueExtendedProperties": [{"id": LEASE_PROPERTY, "value": me.to_json()}]})


def release(http: GraphHttp, lease: HeldLease) -> None:
    _delete(http, lease.folder_id)
