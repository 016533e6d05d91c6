"""ConvertId: between the EwsId, EntryId and HexEntryId forms of this server's ids.

As on Exchange, the Mailbox attribute is checked for its format only ("The ConvertId operation validates that
a given SMTP address has a valid format. The operation does not determine whether the SMTP address
represents a valid mailbox."): the answer names the mailbox the id belongs to, which is how clients such as
DavMail learn their primary address from the root folder's id. exchangelib sends ConvertId with a dummy id to
learn the server version: malformed ids fail per message.
"""

from __future__ import annotations

import base64
import re

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation

#: local@domain with no spaces, one @, a domain of dot-separated labels: the format check, nothing more.
_SMTP = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*$")
_EWS_FORMATS = ("EwsId", "EwsLegacyId", "OwaId")


def _entry_id(source_format: str, text: str) -> bytes:
    """The entry id a source id stands for (MalformedId when it is none of this server's)."""
    if source_format in _EWS_FORMATS:
        return ids.entry_id_of(text)  # MalformedId for a short id of an earlier sandbox: the caller's turn
    try:
        if source_format == "EntryId":
            return base64.b64decode(text, validate=True)
        if source_format == "HexEntryId":
            return bytes.fromhex(text)
    except ValueError as exc:  # binascii.Error
        raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
    raise ResponseError("ErrorInvalidRequest", f"Conversion from {source_format} is not supported.")


def _short_id_entry(text: str) -> bytes:
    """The entry id of a short id handed out by an earlier sandbox (MalformedId if it is none)."""
    try:
        ref = ids.parse_item_id(text)
        return ids.item_entry_id(ref.mailbox_id, ref.row_id)
    except ids.MalformedId:
        ref = ids.parse_folder_id(text)
        return ids.folder_entry_id(ref.mailbox_id, ref.row_id)


def _convert(ctx: Context, source: etree._Element, destination: str) -> str:
    address = (source.get("Mailbox") or "").strip()
    if not _SMTP.match(address):
        raise ResponseError("ErrorInvalidSmtpAddress", "The SMTP address format is invalid.")
    source_format = source.get("Format", "")
    text = source.get("Id", "")
    try:
        entry = _entry_id(source_format, text)
    except ids.MalformedId:
        if source_format not in _EWS_FORMATS:
            raise
        entry = _short_id_entry(text)
    mailbox_id, _, _ = ids.parse_entry_id(entry)
    owner = ctx.store.mailbox_by_id(mailbox_id)
    if destination == "HexEntryId":
        value = entry.hex().upper()
    elif destination == "EntryId":
        value = base64.b64encode(entry).decode("ascii")
    elif destination in _EWS_FORMATS:
        value = ids.ews_id_of_entry(entry)
    else:
        raise ResponseError("ErrorInvalidRequest", f"Conversion to {destination} is not supported.")
    return _answer(destination, value, owner.address if owner else address)


def _answer(destination: str, value: str, address: str) -> str:
    return soap.success(
        "ConvertId",
        f'<m:AlternateId xsi:type="t:AlternateIdType" Format="{destination}" '
        f"Id={soap.attr(value)} Mailbox={soap.attr(address)}/>",
    )


@operation("ConvertId")
def convert_id(ctx: Context, request: etree._Element) -> str:
    destination = request.get("DestinationFormat", "EwsId")
    source_ids = request.find(f"{M}SourceIds")
    messages = []
    for source in source_ids if source_ids is not None else []:
        if local(source) != "AlternateId":
            messages.append(soap.error("ConvertId", "ErrorInvalidRequest", "Only AlternateId is supported."))
            continue
        try:
            messages.append(_convert(ctx, source, destination))
        except ids.MalformedId:
            messages.append(soap.error("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed."))
        except ResponseError as exc:
            messages.append(soap.error("ConvertId", exc.code, exc.text))
    return soap.operation_response("ConvertId", messages)
