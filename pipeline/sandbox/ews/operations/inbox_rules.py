"""GetInboxRules and UpdateInboxRules: the mailbox's inbox rules as Exchange keeps them ([MS-OXWSRULES]),
with Exchange's validation errors (ledger: inbox-rules).

A rule is kept as the RuleType XML it was given, its folder references turned into FolderIds (as Exchange
answers them), and answered in priority order with its RuleId. UpdateInboxRules applies all its operations
or none: any invalid one makes the whole response ErrorInboxRulesValidationError with a RuleOperationError
per failed operation (OperationIndex, then FieldURI, ErrorCode, ErrorMessage, FieldValue for each error).
RemoveOutlookRuleBlob true deletes Outlook's rules blob; false (or absent) while the blob exists is
ErrorOutlookRuleBlobExists, and nothing changes. Rules that would take more than the mailbox's RulesQuota
(`Limits.rules_quota_bytes`, their stored XML counted) are ErrorRulesOverQuota, and nothing changes.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox import mailbox_settings as settings
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, T, folder_refs, local, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.ews.soap import T_NS

_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_ADDRESS_FIELDS = ("FromAddresses", "SentToAddresses")
_BOOLEANS = {
    "IsEnabled",
    "IsNotSupported",
    "IsInError",
    "HasAttachments",
    "IsApprovalRequest",
    "IsAutomaticForward",
    "IsAutomaticReply",
    "IsEncrypted",
    "IsMeetingRequest",
    "IsMeetingResponse",
    "IsNDR",
    "IsPermissionControlled",
    "IsReadReceipt",
    "IsSigned",
    "IsVoicemail",
    "NotSentToMe",
    "SentCcMe",
    "SentOnlyToMe",
    "SentToMe",
    "SentToOrCcMe",
    "Delete",
    "MarkAsRead",
    "PermanentDelete",
    "StopProcessingRules",
}
_RECIPIENT_ACTIONS = (
    "ForwardAsAttachmentToRecipients",
    "ForwardToRecipients",
    "RedirectToRecipients",
    "SendSMSAlertToRecipients",
)


@dataclass(frozen=True, slots=True)
class Invalid:
    """One validation error of one operation."""

    field: str  # a RuleFieldURIType value
    code: str  # a RuleValidationErrorCodeType value
    message: str
    value: str


def _date(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat((text or "").replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _predicates(ctx: Context, conn, rule: etree._Element, part: str, found: list[Invalid]) -> None:
    predicates = rule.find(f"{T}{part}")
    if predicates is None:
        return
    prefix = "Condition" if part == "Conditions" else "Exception"
    for name in _ADDRESS_FIELDS:
        for address in predicates.findall(f"{T}{name}/{T}Address/{T}EmailAddress"):
            if not _ADDRESS.fullmatch((address.text or "").strip()):
                found.append(
                    Invalid(
                        f"{prefix}:{name}", "InvalidAddress", "The e-mail address is not valid.", address.text or ""
                    )
                )
    sizes = predicates.find(f"{T}WithinSizeRange")
    if sizes is not None:
        low, high = (int(sizes.findtext(f"{T}{n}") or 0) for n in ("MinimumSize", "MaximumSize"))
        if low < 0 or high < 0:
            found.append(
                Invalid(f"{prefix}:WithinSizeRange", "SizeLessThanZero", "A size is less than zero.", f"{low}-{high}")
            )
        elif sizes.find(f"{T}MaximumSize") is not None and low > high:
            found.append(
                Invalid(
                    f"{prefix}:WithinSizeRange",
                    "InvalidSizeRange",
                    "The minimum size is larger than the maximum.",
                    f"{low}-{high}",
                )
            )
    dates = predicates.find(f"{T}WithinDateRange")
    if dates is not None:
        start, end = (_date(dates.findtext(f"{T}{n}")) for n in ("StartDateTime", "EndDateTime"))
        if start and end and start > end:
            found.append(
                Invalid(
                    f"{prefix}:WithinDateRange",
                    "InvalidDateRange",
                    "The start date is after the end date.",
                    f"{start}-{end}",
                )
            )


def _actions(ctx: Context, conn, rule: etree._Element, found: list[Invalid]) -> None:
    actions = rule.find(f"{T}Actions")
    if actions is None or len(actions) == 0:
        found.append(Invalid("Actions", "MissingAction", "A rule needs at least one action.", ""))
        return
    for name in ("MoveToFolder", "CopyToFolder"):
        target = actions.find(f"{T}{name}")
        if target is None:
            continue
        refs = folder_refs(target)
        if not refs:
            found.append(Invalid(f"Action:{name}", "MissingParameter", "The action names no folder.", ""))
            continue
        try:
            folder = resolve_folder(ctx, conn, refs[0])
        except ResponseError as exc:
            code = "InvalidFolderId" if exc.code == "ErrorInvalidIdMalformed" else "FolderDoesNotExist"
            found.append(Invalid(f"Action:{name}", code, exc.text, refs[0].get("Id", "")))
            continue
        for ref in refs:  # answered as Exchange does: the folder's own FolderId
            target.remove(ref)
        folder_elem = etree.SubElement(target, f"{T}FolderId")
        folder_elem.set("Id", ids.folder_id(folder.mailbox_id, folder.id))
        folder_elem.set("ChangeKey", ids.change_key(folder.version))
    for name in _RECIPIENT_ACTIONS:
        for address in actions.findall(f"{T}{name}/{T}Address/{T}EmailAddress"):
            if not _ADDRESS.fullmatch((address.text or "").strip()):
                found.append(
                    Invalid(f"Action:{name}", "InvalidAddress", "The e-mail address is not valid.", address.text or "")
                )


def _check_rule(ctx: Context, conn, rule: etree._Element, found: list[Invalid]) -> None:
    if not (rule.findtext(f"{T}DisplayName") or "").strip():
        found.append(Invalid("DisplayName", "EmptyValueFound", "The rule has no name.", ""))
    _predicates(ctx, conn, rule, "Conditions", found)
    _predicates(ctx, conn, rule, "Exceptions", found)
    _actions(ctx, conn, rule, found)


def _rule_row(mailbox_id: int, text: str | None, rows: dict[int, settings.InboxRule]) -> int | None:
    try:
        ref = ids.parse_rule_id(text or "")
    except ids.MalformedId:
        return None
    return ref.row_id if ref.mailbox_id == mailbox_id and ref.row_id in rows else None


def _stored(rule: etree._Element) -> str:
    """The rule as it will be answered: no RuleId (added then), xs:boolean values canonical (a client's 1 is
    true), IsNotSupported and IsInError false where the client left them out, as Exchange reports them."""
    kept = copy.deepcopy(rule)
    for rule_id in kept.findall(f"{T}RuleId"):
        kept.remove(rule_id)
    kept.tag = f"{T}Rule"
    for elem in kept.iter():
        if local(elem) in _BOOLEANS and elem.text is not None:
            elem.text = "true" if elem.text.strip() in ("1", "true") else "false"
    anchor = kept.find(f"{T}IsEnabled")
    position = list(kept).index(anchor) + 1 if anchor is not None else 3
    for name in ("IsNotSupported", "IsInError"):
        if kept.find(f"{T}{name}") is None:
            flag = etree.Element(f"{T}{name}")
            flag.text = "false"
            kept.insert(position, flag)
        position += 1
    return etree.tostring(kept, encoding="unicode")


def _answer(rule: settings.InboxRule) -> str:
    elem = etree.fromstring(rule.xml)
    rule_id = etree.Element(f"{T}RuleId")
    rule_id.text = ids.rule_id(rule.mailbox_id, rule.id)
    elem.insert(0, rule_id)
    priority = elem.find(f"{T}Priority")
    if priority is not None:
        priority.text = str(rule.priority)
    etree.cleanup_namespaces(elem, top_nsmap={"t": T_NS})
    return etree.tostring(elem, encoding="unicode")


def _mailbox(ctx: Context, request: etree._Element):
    address = (request.findtext(f"{M}MailboxSmtpAddress") or "").strip()
    return ctx.mailbox_by_address(address) if address else ctx.acting_mailbox()


@operation("GetInboxRules")
def get_inbox_rules(ctx: Context, request: etree._Element) -> str:
    try:
        mailbox = _mailbox(ctx, request)
        ctx.check_mailbox_faults(mailbox.address)
    except ResponseError as exc:
        return _top("GetInboxRules", "Error", exc.code, exc.text)
    with ctx.store.connection() as conn:
        blob = settings.outlook_rule_blob(conn, mailbox.id) is not None
        rules = settings.rules(conn, mailbox.id)
    inner = f"<m:OutlookRuleBlobExists>{'true' if blob else 'false'}</m:OutlookRuleBlobExists>" + (
        "<m:InboxRules>" + "".join(_answer(r) for r in rules) + "</m:InboxRules>" if rules else ""
    )
    return _top("GetInboxRules", "Success", "NoError", "", inner)


def _top(name: str, klass: str, code: str, text: str, inner: str = "") -> str:
    """These two answer in the response element itself, not in ResponseMessages."""
    message = f"<m:MessageText>{soap.esc(text)}</m:MessageText>" if klass == "Error" else ""
    link = "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>" if klass == "Error" else ""
    return (
        f'<m:{name}Response xmlns:m="{soap.M_NS}" xmlns:t="{T_NS}" ResponseClass="{klass}">{message}'
        f"<m:ResponseCode>{code}</m:ResponseCode>{link}{inner}</m:{name}Response>"
    )


def _errors_xml(errors: dict[int, list[Invalid]]) -> str:
    parts = ["<m:RuleOperationErrors>"]
    for index, found in sorted(errors.items()):
        parts.append(f"<t:RuleOperationError><t:OperationIndex>{index}</t:OperationIndex><t:ValidationErrors>")
        for error in found:
            parts.append(
                f"<t:Error><t:FieldURI>{error.field}</t:FieldURI><t:ErrorCode>{error.code}</t:ErrorCode>"
                f"<t:ErrorMessage>{soap.esc(error.message)}</t:ErrorMessage>"
                f"<t:FieldValue>{soap.esc(error.value)}</t:FieldValue></t:Error>"
            )
        parts.append("</t:ValidationErrors></t:RuleOperationError>")
    parts.append("</m:RuleOperationErrors>")
    return "".join(parts)


@operation("UpdateInboxRules")
def update_inbox_rules(ctx: Context, request: etree._Element) -> str:
    remove_blob = (request.findtext(f"{M}RemoveOutlookRuleBlob") or "false").strip() in ("true", "1")
    try:
        mailbox = _mailbox(ctx, request)
        ctx.check_mailbox_faults(mailbox.address)
    except ResponseError as exc:
        return _top("UpdateInboxRules", "Error", exc.code, exc.text)
    operations = list(request.find(f"{M}Operations"))
    with ctx.store.write() as conn:
        if not remove_blob and settings.outlook_rule_blob(conn, mailbox.id) is not None:
            return _top(
                "UpdateInboxRules",
                "Error",
                "ErrorOutlookRuleBlobExists",
                "The Outlook rules blob exists; set RemoveOutlookRuleBlob to remove it.",
            )
        rows = {r.id: r for r in settings.rules(conn, mailbox.id)}
        errors: dict[int, list[Invalid]] = {}
        planned: list[tuple[str, int | None, etree._Element | None]] = []
        touched: set[int] = set()
        for index, op in enumerate(operations):
            found: list[Invalid] = []
            kind = local(op)
            rule = op.find(f"{T}Rule")
            rule_id_text = rule.findtext(f"{T}RuleId") if rule is not None else op.findtext(f"{T}RuleId")
            row_id = None
            if kind == "CreateRuleOperation":
                if rule_id_text:
                    found.append(
                        Invalid("RuleId", "CreateWithRuleId", "A new rule cannot have a RuleId.", rule_id_text)
                    )
            else:
                row_id = _rule_row(mailbox.id, rule_id_text, rows)
                if row_id is None:
                    found.append(Invalid("RuleId", "RuleNotFound", "The rule was not found.", rule_id_text or ""))
                elif row_id in touched:
                    found.append(
                        Invalid(
                            "RuleId",
                            "DuplicatedOperationOnTheSameRule",
                            "Two operations change the same rule.",
                            rule_id_text or "",
                        )
                    )
                else:
                    touched.add(row_id)
            if rule is not None:
                _check_rule(ctx, conn, rule, found)
            if found:
                errors[index] = found
            planned.append((kind, row_id, rule))
        if errors:
            return _top(
                "UpdateInboxRules",
                "Error",
                "ErrorInboxRulesValidationError",
                "Validation error(s) occurred while updating the inbox rules.",
                _errors_xml(errors),
            )
        after: dict[object, int] = {row_id: len(row.xml.encode()) for row_id, row in rows.items()}
        for index, (kind, row_id, rule) in enumerate(planned):
            if kind == "DeleteRuleOperation" and row_id is not None:
                after.pop(row_id, None)
            elif rule is not None:
                after[row_id if row_id is not None else f"new {index}"] = len(_stored(rule).encode())
        if sum(after.values()) > ctx.limits.rules_quota_bytes:
            return _top(
                "UpdateInboxRules",
                "Error",
                "ErrorRulesOverQuota",
                "The rules quota of the mailbox is exceeded.",
            )
        for kind, row_id, rule in planned:
            if kind == "DeleteRuleOperation" and row_id is not None:
                settings.delete_rule(conn, row_id)
            elif rule is not None:
                priority = int(rule.findtext(f"{T}Priority") or 1)
                settings.save_rule(conn, mailbox.id, priority, _stored(rule), row_id)
        if remove_blob:
            settings.set_outlook_rule_blob(conn, mailbox.id, None)
    return _top("UpdateInboxRules", "Success", "NoError", "")
