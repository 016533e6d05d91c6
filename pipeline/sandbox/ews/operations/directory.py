"""ExpandDL and GetUserPhoto: what clients ask the directory about addresses.

ExpandDL expands a private distribution list of the acting mailbox (by its ItemId) into its members, as
Exchange does; the sandbox's directory has no public groups, so an address is ErrorNameResolutionNoResults,
and an item that is no distribution list is ErrorInvalidItemForOperationExpandDL. GetUserPhoto: the
sandbox keeps no user photos, so every mailbox answers as Exchange does for a user without one,
ErrorItemNotFound "The photo wasn't found." (an unknown address alike).
Learn: expanddl-operation, getuserphoto-operation.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, T, local
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.item_refs import NOT_FOUND, parse_ref
from pipeline.sandbox.ews.registry import operation


def _members(fields: dict[str, str]) -> list[etree._Element]:
    xml = fields.get("Members")
    if not xml:
        return []
    return [m for m in etree.fromstring(xml).iter(f"{T}Mailbox")]


def _mailbox_xml(mailbox: etree._Element) -> str:
    parts = []
    for name in ("Name", "EmailAddress", "RoutingType", "MailboxType"):
        text = mailbox.findtext(f"{T}{name}")
        if text is not None:
            parts.append(f"<t:{name}>{soap.esc(text)}</t:{name}>")
    if mailbox.findtext(f"{T}RoutingType") is None:
        parts.insert(
            2 if mailbox.findtext(f"{T}EmailAddress") is not None else 1, "<t:RoutingType>SMTP</t:RoutingType>"
        )
    return "<t:Mailbox>" + "".join(parts) + "</t:Mailbox>"


@operation("ExpandDL")
def expand_dl(ctx: Context, request: etree._Element) -> str:
    mailbox = request.find(f"{M}Mailbox")
    try:
        item_id = mailbox.find(f"{T}ItemId") if mailbox is not None else None
        if item_id is None:
            raise ResponseError("ErrorNameResolutionNoResults", "No results were found.")
        mailbox_id, row_id = parse_ref(ctx, item_id)
        with ctx.store.connection() as conn:
            rows = ctx.store.load_items(conn, [row_id])
        item = rows.get(row_id)
        if item is None or item.mailbox_id != mailbox_id:
            raise NOT_FOUND
        if item.kind != "DistributionList":
            raise ResponseError("ErrorInvalidItemForOperationExpandDL", "Only distribution lists can be expanded.")
        members = [m for m in _members(item.fields) if local(m) == "Mailbox"]
        body = "".join(_mailbox_xml(m) for m in members)
        inner = (
            f'<m:DLExpansion TotalItemsInView="{len(members)}" IncludesLastItemInRange="true">{body}</m:DLExpansion>'
        )
        message = soap.success("ExpandDL", inner)
    except ResponseError as exc:
        message = soap.error("ExpandDL", exc.code, exc.text)
    return soap.operation_response("ExpandDL", [message])


@operation("GetUserPhoto")
def get_user_photo(ctx: Context, request: etree._Element) -> str:
    return (
        f'<m:GetUserPhotoResponse xmlns:m="{soap.M_NS}" xmlns:t="{soap.T_NS}" ResponseClass="Error">'
        "<m:MessageText>The photo wasn't found.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode>"
        "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:HasChanged>false</m:HasChanged>"
        "<m:PictureData/></m:GetUserPhotoResponse>"
    )
