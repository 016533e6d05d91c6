"""Rules as Graph's `messageRule` (mailFolders/inbox/messageRules): a pure mapping of the extended rule
records of convert/user_settings/rules.py ([MS-OXORULE] conditions and actions) to messageRule bodies.

What maps: a condition that is an AND of tests (or one test) whose tests are subject/body/sender substrings,
importance, sensitivity, attachments, or a NOT of such tests (→ `exceptions`); OR of substrings on one
field → one list. Actions: move and copy to a folder of the file (→ the rebuilt folder's id), delete,
mark as read, stop processing. Everything else (forward/reply/bounce whose recipients need the address
book, a condition Graph's predicates cannot say) makes the rule "left", with its text; the junk e-mail
rule is never a messageRule (its lists have no Graph v1.0 API). A rule is matched on the server by its
display name (case-insensitively, as Exchange refuses duplicates): one already there is kept as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.convert.user_settings.restrictions import Restriction
from pipeline.convert.user_settings.rules import ExtendedRule
from pipeline.destination.graph.search_filters import describe

PR_SUBJECT, PR_BODY, PR_IMPORTANCE, PR_SENSITIVITY, PR_HASATTACH = 0x0037, 0x1000, 0x0017, 0x0036, 0x0E1B
PR_MESSAGE_FLAGS, MSGFLAG_HASATTACH = 0x0E07, 0x10
SENDER_PROPS = {0x0C1A, 0x0C1F, 0x0042, 0x0065, 0x0C1D, 0x0E04}
FL_SUBSTRING = 1
RELOP_EQ = 4
IMPORTANCE = {0: "low", 1: "normal", 2: "high"}
SENSITIVITY = {0: "normal", 1: "personal", 2: "private", 3: "confidential"}
ST_EXIT_LEVEL = 0x10


@dataclass(frozen=True, slots=True)
class MappedRule:
    name: str
    body: dict[str, Any] | None  # the messageRule to POST; None when the rule cannot be expressed
    left: tuple[str, ...]  # why not, with the rule's text


class _Inexpressible(Exception):
    pass


def _text(value: Any) -> str:
    if isinstance(value, bytes):  # a search key: "SMTP:ADDRESS\0"
        return value.rstrip(b"\0").decode("latin-1").partition(":")[2] or value.hex()
    return str(value)


def _test(node: Restriction, into: dict[str, Any]) -> None:
    prop_id = (node.tag or 0) >> 16
    if node.kind == "or" and node.children:
        for child in node.children:
            _test(child, into)
        return
    if node.kind == "content" and ((node.op or 0) & 0xFFFF) == FL_SUBSTRING and node.value not in (None, ""):
        key = {PR_SUBJECT: "subjectContains", PR_BODY: "bodyContains"}.get(prop_id)
        key = key or ("senderContains" if prop_id in SENDER_PROPS else None)
        if key:
            into.setdefault(key, []).append(_text(node.value))
            return
    if node.kind == "property" and node.op == RELOP_EQ:
        if prop_id == PR_IMPORTANCE and node.value in IMPORTANCE:
            into["importance"] = IMPORTANCE[node.value]
            return
        if prop_id == PR_SENSITIVITY and node.value in SENSITIVITY:
            into["sensitivity"] = SENSITIVITY[node.value]
            return
        if prop_id == PR_HASATTACH:
            into["hasAttachments"] = bool(node.value)
            return
    if node.kind == "bitmask" and prop_id == PR_MESSAGE_FLAGS and node.value == MSGFLAG_HASATTACH:
        into["hasAttachments"] = node.op == 1
        return
    raise _Inexpressible(describe(node))


def _predicates(condition: Restriction | None) -> tuple[dict[str, Any], dict[str, Any]]:
    conditions: dict[str, Any] = {}
    exceptions: dict[str, Any] = {}
    if condition is None:
        return conditions, exceptions
    tests = condition.children if condition.kind == "and" else (condition,)
    for test in tests:
        if test.kind == "not" and test.children:
            _test(test.children[0], exceptions)
        else:
            _test(test, conditions)
    return conditions, exceptions


def map_rule(rule: ExtendedRule, folder_id: Callable[[bytes], str | None]) -> MappedRule:
    """The messageRule of one extended rule; folder_id gives the rebuilt folder's Graph id for a folder
    entry id of the source store."""
    name = rule.name or "(unnamed rule)"
    try:
        conditions, exceptions = _predicates(rule.condition)
    except _Inexpressible as exc:
        return MappedRule(name, None, (f"rule {name!r}: condition {exc} has no Graph predicate",))
    actions: dict[str, Any] = {}
    for action in rule.actions:
        if action.kind in ("move", "copy"):
            target = folder_id(action.folder_entry_id) if action.folder_entry_id else None
            if target is None:
                return MappedRule(
                    name, None, (f"rule {name!r}: {action.kind} to a folder that is not in the file or not rebuilt",)
                )
            actions["moveToFolder" if action.kind == "move" else "copyToFolder"] = target
        elif action.kind == "delete":
            actions["delete"] = True
        elif action.kind == "mark_as_read":
            actions["markAsRead"] = True
        else:
            return MappedRule(
                name,
                None,
                (f"rule {name!r}: action {action.kind} (recipients or templates from the old store) has no mapping",),
            )
    if not actions:
        return MappedRule(name, None, (f"rule {name!r}: no action Graph can carry",))
    if (rule.state or 0) & ST_EXIT_LEVEL:
        actions["stopProcessingRules"] = True
    body: dict[str, Any] = {
        "displayName": name,
        "sequence": max(1, rule.sequence or 1),
        "isEnabled": rule.enabled,
        "actions": actions,
    }
    if conditions:
        body["conditions"] = conditions
    if exceptions:
        body["exceptions"] = exceptions
    return MappedRule(name, body, ())
