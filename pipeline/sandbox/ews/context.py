"""What every EWS operation shares: the request context (who asks, on whose mailbox, under which limits and
faults) and folder references resolved with their access checks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.soap import M_NS, T_NS
from pipeline.sandbox.faults import RequestFaults
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.rows import Account, FolderRow, Mailbox
from pipeline.sandbox.store import SandboxStore

T = f"{{{T_NS}}}"
M = f"{{{M_NS}}}"


@dataclass(slots=True)
class Context:
    """Who is asking, on whose mailbox, under which limits and injected faults."""

    store: SandboxStore
    account: Account
    mailbox: Mailbox | None  # the impersonated mailbox, or the account's own
    impersonating: bool
    limits: Limits
    faults: RequestFaults
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def may_open(self, mailbox: Mailbox) -> bool:
        """Only the acting mailbox: the impersonation right works through ExchangeImpersonation alone and
        grants no delegate (full) access to other mailboxes, as in Exchange."""
        return self.mailbox is not None and mailbox.id == self.mailbox.id

    def check_mailbox_faults(self, address: str) -> None:
        """An injected `error` rule scoped to this mailbox fails the response message that names it."""
        code = self.faults.mailbox_error(address)
        if code:
            raise ResponseError(code, f"Injected fault {code} for {address}.")

    def acting_mailbox(self) -> Mailbox:
        if self.mailbox is None:
            raise ResponseError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        return self.mailbox

    def mailbox_by_address(self, address: str) -> Mailbox:
        mailbox = self.store.mailbox(address)
        if mailbox is None:
            raise ResponseError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        if not self.may_open(mailbox):
            raise ResponseError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return mailbox

    def mailbox_by_id(self, mailbox_id: int) -> Mailbox:
        if self.mailbox is not None and self.mailbox.id == mailbox_id:
            return self.mailbox
        mailbox = self.store.mailbox_by_id(mailbox_id)
        if mailbox is None:
            raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
        if not self.may_open(mailbox):
            raise ResponseError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return mailbox


def local(elem: etree._Element) -> str:
    return etree.QName(elem).localname


def checked_ref(ctx: Context, elem: etree._Element, parse: Callable[[str], ids.RowRef]) -> ids.RowRef:
    """The row an id element's Id names (parse: ids.parse_folder_id or parse_item_id), after the checks every
    id passes: well formed (ErrorInvalidIdMalformed), and of a mailbox the caller may open, with its faults."""
    try:
        ref = parse(elem.get("Id", ""))
    except ids.MalformedId as exc:
        raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
    mailbox = ctx.mailbox_by_id(ref.mailbox_id)
    ctx.check_mailbox_faults(mailbox.address)
    return ref


def resolve_folder(ctx: Context, conn: sqlite3.Connection, elem: etree._Element) -> FolderRow:
    """A FolderId or DistinguishedFolderId element of the request -> the folder row, with access checks."""
    kind = local(elem)
    if kind == "DistinguishedFolderId":
        mailbox_elem = elem.find(f"{T}Mailbox/{T}EmailAddress")
        if mailbox_elem is not None and (mailbox_elem.text or "").strip():
            mailbox = ctx.mailbox_by_address(mailbox_elem.text or "")
        else:
            mailbox = ctx.acting_mailbox()
        ctx.check_mailbox_faults(mailbox.address)
        folder = ctx.store.distinguished(conn, mailbox.id, elem.get("Id", ""))
        if folder is None:
            raise ResponseError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return folder
    if kind == "FolderId":
        ref = checked_ref(ctx, elem, ids.parse_folder_id)
        folder = ctx.store.folder(conn, ref.row_id)
        if folder is None or folder.mailbox_id != ref.mailbox_id:
            raise ResponseError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return folder
    raise ResponseError("ErrorInvalidRequest", f"Unsupported folder reference {kind}.")


def folder_refs(parent: etree._Element | None) -> list[etree._Element]:
    return [] if parent is None else [c for c in parent if local(c) in ("FolderId", "DistinguishedFolderId")]


def to_folder(ctx: Context, conn: sqlite3.Connection, request: etree._Element) -> FolderRow:
    """The ToFolderId of a move or copy, resolved; ErrorToFolderNotFound when it is missing or unknown."""
    target_refs = folder_refs(request.find(f"{M}ToFolderId"))
    try:
        if not target_refs:
            raise ResponseError("ErrorToFolderNotFound", "The destination folder could not be found.")
        return resolve_folder(ctx, conn, target_refs[0])
    except ResponseError as exc:
        code = "ErrorToFolderNotFound" if exc.code == "ErrorFolderNotFound" else exc.code
        raise ResponseError(code, exc.text) from None
