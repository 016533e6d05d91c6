"""Inbox rules on an EWS mailbox: read with GetInboxRules, written one CreateRuleOperation at a time with
UpdateInboxRules (exchangelib's services; `Account.create_rule` is not used because it always sends
RemoveOutlookRuleBlob=true).

Outlook's rules blob: RemoveOutlookRuleBlob is sent false, always. A new mailbox has no blob, and the rules
are created; Outlook rebuilds its blob from the server's rules when it next opens the rules dialog. A mailbox
that has one (the user edited rules in Outlook there) answers ErrorOutlookRuleBlobExists: then no rule is
written, and the report says why; true would delete the blob and with it the client-only rules the user made
on the new mailbox. The source's own blob cannot travel over EWS (it is an associated message, which EWS does
not create): `export` keeps it in _settings/, and the report lists the rules only it holds.

exchangelib 5.6 writes WithinDateRange and WithinSizeRange with a DateRange/SizeRange element inside, which
the schema refuses (types.xsd: StartDateTime/EndDateTime, MinimumSize/MaximumSize directly under them); the
Conditions and Exceptions written here lift those children up. Reading them back works as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from exchangelib import EWSDateTime
from exchangelib.errors import ErrorOutlookRuleBlobExists, ErrorRulesOverQuota
from exchangelib.properties import (
    Actions,
    Address,
    Conditions,
    CopyToFolder,
    Exceptions,
    FolderId,
    MoveToFolder,
    Rule,
    WithinDateRange,
    WithinSizeRange,
)
from exchangelib.services.inbox_rules import CreateInboxRule, GetInboxRules
from exchangelib.util import TNS

from pipeline.convert.user_settings.inbox_rules import InboxRule, RulePredicates
from pipeline.destination.base import InboxRulesQuotaFull, OutlookRulesBlobPresent

_WRAPPED = (("WithinDateRange", "DateRange"), ("WithinSizeRange", "SizeRange"))


def _unwrap(elem: Any) -> Any:
    for outer, inner in _WRAPPED:
        for holder in elem.findall(f"{{{TNS}}}{outer}"):
            for wrapper in holder.findall(f"{{{TNS}}}{inner}"):
                holder.remove(wrapper)
                holder.extend(list(wrapper))
    return elem


class _Conditions(Conditions):
    """Conditions as the schema takes them (see the module's note on ranges)."""

    def to_xml(self, version: Any) -> Any:
        return _unwrap(super().to_xml(version=version))


class _Exceptions(Exceptions):
    def to_xml(self, version: Any) -> Any:
        return _unwrap(super().to_xml(version=version))


_ADDRESS_FIELDS = {
    "from_addresses",
    "sent_to_addresses",
    "forward_to_recipients",
    "forward_as_attachment_to_recipients",
    "redirect_to_recipients",
}
_FOLDER_FIELDS = {"move_to_folder", "copy_to_folder"}
#: EWS takes both bounds; "at least N" is written as N up to this. Kept well under 9,999,990 KiB, the maximum
#: [MS-OXWSRULES] 4.6 shows failing validation (Outlook itself always writes both bounds).
_MAX_SIZE_KIB = 999_999


#: The predicates whose EWS name (exchangelib's field) differs from the rule model's.
_EWS_NAMES = {"with_attachments": "has_attachments"}


def _predicates(cls: type, predicates: RulePredicates) -> Any:
    found = {_EWS_NAMES.get(name, name): value for name, value in predicates.as_dict().items()}
    if not found:
        return None
    values: dict[str, Any] = {}
    for name, value in found.items():
        if name in _ADDRESS_FIELDS:
            values[name] = [Address(email_address=a) for a in value]
        elif name == "within_size_range":
            low, high = value
            values[name] = WithinSizeRange(minimum_size=low or 0, maximum_size=_MAX_SIZE_KIB if high is None else high)
        elif name == "within_date_range":
            after, before = value
            values[name] = WithinDateRange(
                start_date_time=EWSDateTime.from_datetime(after or datetime(1601, 1, 1, tzinfo=UTC)),
                end_date_time=EWSDateTime.from_datetime(before or datetime(9999, 12, 31, tzinfo=UTC)),
            )
        elif isinstance(value, tuple):
            values[name] = list(value)
        else:
            values[name] = value
    return cls(**values)


def to_ews(rule: InboxRule, folders: Mapping[bytes, str], priority: int) -> Rule:
    """The exchangelib Rule for an inbox rule, folder actions pointing at the rebuilt folders (`folders`: the
    source's folder entry id -> server folder id: every folder the rule names is in it, plan_rules saw to that)."""
    values: dict[str, Any] = {}
    for name, value in rule.actions.as_dict().items():
        if name in _FOLDER_FIELDS:
            holder = MoveToFolder if name == "move_to_folder" else CopyToFolder
            values[name] = holder(folder_id=FolderId(id=folders[value]))
        elif name in _ADDRESS_FIELDS:
            values[name] = [Address(email_address=a) for a in value]
        else:
            values[name] = value
    return Rule(
        display_name=rule.name,
        priority=priority,
        is_enabled=rule.enabled,
        conditions=_predicates(_Conditions, rule.conditions),
        exceptions=_predicates(_Exceptions, rule.exceptions),
        actions=Actions(**values),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(sorted(_plain(v) for v in value))
    if isinstance(value, Address):
        return (value.email_address or "").lower()
    if isinstance(value, CopyToFolder):  # MoveToFolder too
        return value.folder_id.id if value.folder_id is not None else value.distinguished_folder_id.id
    if isinstance(value, WithinSizeRange):
        return (value.minimum_size, value.maximum_size)
    if isinstance(value, WithinDateRange):
        return tuple(
            datetime.fromtimestamp(d.timestamp(), UTC).isoformat() for d in (value.start_date_time, value.end_date_time)
        )
    return value


def _fields(element: Any) -> tuple[tuple[str, Any], ...]:
    if element is None:
        return ()
    found = []
    for f in element.FIELDS:
        value = getattr(element, f.name, None)
        if value is None or value is False or (isinstance(value, list | tuple) and not value):
            continue
        found.append((f.name, _plain(value)))
    return tuple(sorted(found))


def content(rule: Rule) -> tuple[Any, ...]:
    """What a rule is, compared property by property (not its id or priority: the user may reorder)."""
    return (
        bool(rule.is_enabled),
        _fields(rule.conditions),
        _fields(rule.exceptions),
        _fields(rule.actions),
    )


class EwsInboxRules:
    """The mailbox's inbox rules under the mailbox's retry policy (`call`), seen through plain values: the
    run compares what `existing` and `content_of` give, and never sees an exchangelib object."""

    def __init__(self, account: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.account, self._call = account, call

    def _read(self) -> list[Rule]:
        def get() -> list[Rule]:
            found = list(GetInboxRules(account=self.account).call())
            for rule in found:
                if isinstance(rule, Exception):
                    raise rule
            return found

        return self._call(get)

    def existing(self) -> tuple[dict[str, list[object]], int]:
        """The server's rules (name case-folded -> the contents of the rules of that name) and the highest
        priority they use."""
        rules = self._read()
        found: dict[str, list[object]] = {}
        for rule in rules:
            found.setdefault((rule.display_name or "").casefold(), []).append(content(rule))
        return found, max((r.priority or 0 for r in rules), default=0)

    def content_of(self, rule: InboxRule, folders: Mapping[bytes, str]) -> object:
        return content(to_ews(rule, folders, 1))

    def create(self, rule: InboxRule, folders: Mapping[bytes, str], priority: int) -> None:
        """Creates one rule, Outlook's blob kept (OutlookRulesBlobPresent when the mailbox has one;
        InboxRulesQuotaFull when it does not fit). A request sent again after a lost answer first looks for
        the rule it may have made (same name and content), so a retry never makes it twice."""
        made = to_ews(rule, folders, priority)
        wanted = content(made)
        attempts = 0

        def send() -> None:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                rules = list(GetInboxRules(account=self.account).call())
                name = rule.name.casefold()
                if any(
                    not isinstance(r, Exception) and (r.display_name or "").casefold() == name and content(r) == wanted
                    for r in rules
                ):
                    return
            try:
                CreateInboxRule(account=self.account).get(rule=made, remove_outlook_rule_blob=False)
            except ErrorOutlookRuleBlobExists as exc:
                raise OutlookRulesBlobPresent(str(exc)) from exc
            except ErrorRulesOverQuota as exc:
                raise InboxRulesQuotaFull(str(exc)) from exc

        self._call(send)
