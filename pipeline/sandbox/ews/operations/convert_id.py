"""ConvertId: between EwsId, EntryId and HexEntryId forms of this server's ids.

exchangelib sends ConvertId with a dummy id to learn the server version: malformed ids fail per message.
"""

from __future__ import annotations

import base64

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation


def _raw(source_format: str, text: str) -> bytes:
    try:
        if source_format in ("EwsId", "EwsLegacyId", "EntryId", "OwaId"):
            return base64.b64decode(text, validate=True)
        if source_format == "HexEntryId":
            return bytes.fromhex(text)
    except ValueError as exc:
        raise ResponseError("ErrorInvalidIdMalformed", "Id is malformed.") from exc
    raise ResponseError("ErrorInvalidRequest", f"Conversion from {source_format} is not supported.")


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
            raw = _raw(source.get("Format", ""), source.get("Id", ""))
            encoded = base64.b64encode(raw).decode()
            try:
                ids.parse_item_id(encoded)
            except ids.MalformedId:
                ids.parse_folder_id(encoded)
            mailbox = ctx.mailbox_by_address(source.get("Mailbox", ""))
            value = raw.hex().upper() if destination == "HexEntryId" else encoded
            messages.append(
                soap.success(
                    "ConvertId",
                    f'<m:AlternateId xsi:type="t:AlternateIdType" Format="{destination}" '
                    f"Id={soap.attr(value)} Mailbox={soap.attr(mailbox.address)}/>",
                )
            )
        except ids.MalformedId:
            messages.append(soap.error("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed."))
        except ResponseError as exc:
            messages.append(soap.error("ConvertId", exc.code, exc.text))
    return soap.operation_response("ConvertId", messages)
