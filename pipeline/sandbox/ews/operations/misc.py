"""Small operations clients send around the main work: ResolveNames, GetServerTimeZones (user
configurations: user_configuration.py).

They answer the way an Exchange with default settings would, without storing anything.
"""

from __future__ import annotations

from lxml import etree

from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M
from pipeline.sandbox.ews.registry import operation


@operation("ResolveNames")
def resolve_names(ctx: Context, request: etree._Element) -> str:
    wanted = (request.findtext(f"{M}UnresolvedEntry") or "").strip().lower().removeprefix("smtp:")
    matches = [
        m
        for m in ctx.store.mailboxes()
        if wanted and (m.address.startswith(wanted) or m.display_name.lower().startswith(wanted))
    ]
    if not matches:
        return soap.operation_response(
            "ResolveNames",
            [soap.error("ResolveNames", "ErrorNameResolutionNoResults", "No results were found.")],
        )
    entries = "".join(
        f"<t:Resolution><t:Mailbox><t:Name>{soap.esc(m.display_name)}</t:Name>"
        f"<t:EmailAddress>{soap.esc(m.address)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
        "<t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution>"
        for m in matches[:100]
    )
    inner = (
        f'<m:ResolutionSet TotalItemsInView="{len(matches)}" IncludesLastItemInRange="true">{entries}</m:ResolutionSet>'
    )
    if len(matches) > 1:
        return soap.operation_response(
            "ResolveNames",
            [
                '<m:ResolveNamesResponseMessage ResponseClass="Warning">'
                f"<m:MessageText>Multiple results were found."
                f"</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode>"
                f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{inner}</m:ResolveNamesResponseMessage>"
            ],
        )
    return soap.operation_response("ResolveNames", [soap.success("ResolveNames", inner)])


@operation("GetServerTimeZones")
def get_server_time_zones(ctx: Context, request: etree._Element) -> str:
    return soap.operation_response(
        "GetServerTimeZones", [soap.success("GetServerTimeZones", "<m:TimeZoneDefinitions/>")]
    )
