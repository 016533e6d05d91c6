"""Inbox rules restored from the extended rule messages: what each means (convert/user_settings/inbox_rules.py),
what a restore writes (rule_plan.py), written through the mailbox's InboxRuleStore (destination/ews/rules.py),
folder actions pointing at the rebuilt folders; every rule not restored is listed with its text.

Outlook's rules blob: a mailbox that has one gets no rule (writing rules over EWS would delete it and the
client-only rules it holds); a full rules quota fails that rule and every one after it (a rerun after the quota
is raised adds them). A rule the server refuses is reported as failed; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from pipeline.convert.user_settings.inbox_rules import interpret
from pipeline.convert.user_settings.merge import SettingAction
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage
from pipeline.convert.user_settings.rule_plan import RuleDecision, folder_targets, plan_rules
from pipeline.convert.user_settings.rules import ExtendedRule, RulesStream
from pipeline.destination.base import InboxRulesQuotaFull, InboxRuleStore, OutlookRulesBlobPresent
from pipeline.model import SourceFolder

BLOB_REASON = (
    "the new mailbox has Outlook's rules blob (rules were edited in Outlook there): writing rules over EWS would"
    " delete it and the client-only rules it holds, so none is written"
)
QUOTA_REASON = (
    "the new mailbox's rules quota is full (Exchange's RulesQuota: Set-Mailbox -RulesQuota, up to 256 KB);"
    " a rerun after it is raised restores the rest"
)


def restore_rules(
    messages: list[SettingsMessage],
    folders: list[SourceFolder],
    folder_of: Callable[[bytes], int | None],
    mailbox: Any,
    server_id: Callable[[int], str | None],
    fatal: tuple[type[BaseException], ...],
) -> Iterator[dict[str, Any]]:
    """One report entry per rule (action "failed" for one the server refused). `folder_of`: the node of the
    folder a rule's entry id names; `server_id`: the rebuilt folder's id for a node, None when it has none;
    `fatal`: the errors that stop the mailbox (passed through)."""
    rules, stream = [], None
    for message in messages:
        if message.kind is SettingKind.EXTENDED_RULE and isinstance(message.record, ExtendedRule):
            rules.append(interpret(message.record))
        elif message.kind is SettingKind.EXTENDED_RULE:
            yield (
                {
                    "setting": "rule",
                    "name": message.subject,
                    "action": SettingAction.SKIP.value,
                    "reason": f"{message.subject!r}: unreadable ({message.problem})",
                }
            )
        elif message.kind is SettingKind.RULES_STREAM and isinstance(message.record, RulesStream):
            stream = stream or message.record
    if not rules and (stream is None or not stream.rules):
        return
    paths = {f.node_id: "/".join(f.path) for f in folders}
    nodes = {e: folder_of(e) for rule in rules for e in folder_targets(rule)}
    names = {e: paths[n] for e, n in nodes.items() if n in paths}
    factory = getattr(mailbox, "inbox_rules", None)
    if factory is None:  # every rule listed, with its text
        for decided in plan_rules(rules, stream, {}, lambda r: None, dict.fromkeys(nodes, ""), names):
            if decided.decision is not RuleDecision.SKIP:
                decided = replace(
                    decided,
                    decision=RuleDecision.SKIP,
                    reason="this destination cannot write inbox rules yet",
                    left_out=(),
                )
            yield (decided.as_dict())
        return
    store: InboxRuleStore = factory()
    targets: dict[bytes, str] = {}
    for entry_id, node in nodes.items():
        found = server_id(node) if node is not None else None
        if found is not None:
            targets[entry_id] = found
    try:
        server_rules, priority = store.existing()
    except fatal:
        raise
    except Exception as exc:  # noqa: BLE001 - the rules cannot be read: none written, reported
        yield ({"setting": "rule", "action": "failed", "reason": f"reading the rules: {type(exc).__name__}: {exc}"})
        return
    blob = quota = False
    for decided in plan_rules(rules, stream, server_rules, lambda r: store.content_of(r, targets), targets, names):
        if decided.decision is RuleDecision.CREATE and decided.rule is not None:
            if blob:
                decided = replace(decided, decision=RuleDecision.SKIP, reason=BLOB_REASON)
            elif not quota:
                priority += 1
                try:
                    store.create(decided.rule, targets, priority)
                except OutlookRulesBlobPresent:
                    blob = True
                    decided = replace(decided, decision=RuleDecision.SKIP, reason=BLOB_REASON)
                except InboxRulesQuotaFull:
                    quota = True
                except fatal:
                    raise
                except Exception as exc:  # noqa: BLE001 - one rule refused: reported, the others go on
                    yield (
                        {
                            **decided.as_dict(),
                            "action": "failed",
                            "reason": f"{decided.name!r}: {type(exc).__name__}: {exc}",
                        }
                    )
                    continue
            if quota:  # this rule and every one after it: failed, a rerun after a larger quota adds them
                yield ({**decided.as_dict(), "action": "failed", "reason": f"{QUOTA_REASON} -- {decided.text}"})
                continue
        yield (decided.as_dict())
