"""Rules as Graph's `messageRule` (mailFolders/inbox/messageRules): a pure mapping of the extended rule
records of convert/user_settings/rules.py ([MS-OXORULE] conditions and actions) to messageRule bodies.

What maps: a condition that is an AND of tests (or one test) whose tests are subject/body/sender substrings,
importance, sensitivity, attachments, recipients' addresses (the recipients' sub-object), or a NOT of one
such test (→ `exceptions`, which except on any one); OR of substrings → lists. Actions: move and copy to a
folder of the file (→ the rebuilt folder's id), delete, mark as read, set importance, stop processing (the
rule state's ST_EXIT_LEVEL). Everything else (forward/reply/bounce whose recipients need the address
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
RECIPIENT_PROPS = {0x3001, 0x3003, 0x39FE, 0x300B}  # a recipient row's name, address, SMTP, search key
PR_MESSAGE_RECIPIENTS = 0x0E12000D
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


def _test(node: Restriction, into: dict[str, Any], recipients: bool = False) -> None:
    prop_id = (node.tag or 0) >> 16
    if node.kind == "or" and node.children:
        for child in node.children:
            _test(child, into, recipients)
        return
    if node.kind == "sub_object" and node.tag == PR_MESSAGE_RECIPIENTS and node.children and not recipients:
        _test(node.children[0], into, recipients=True)
        return
    if recipients:
        if node.kind == "content" and prop_id in RECIPIENT_PROPS and node.value not in (None, ""):
            into.setdefault("recipientContains", []).append(_text(node.value))
            return
        raise _Inexpressible(describe(node))
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


def _flat(node: Restriction) -> list[Restriction]:
    """The tests an AND (nested or not) requires all of."""
    return [t for child in node.children for t in _flat(child)] if node.kind == "and" else [node]


def _predicates(condition: Restriction | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Conditions (all required) and exceptions (any one excepts: a NOT of one test, or of an OR)."""
    conditions: dict[str, Any] = {}
    exceptions: dict[str, Any] = {}
    if condition is None:
        return conditions, exceptions
    for test in _flat(condition):
        if test.kind == "not" and test.children:
            inner = _flat(test.children[0])
            if len(inner) != 1:  # NOT(a AND b) excepts a message matching both: exceptions are any-of
                raise _Inexpressible(describe(test))
            _test(inner[0], exceptions)
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
        elif action.kind == "tag" and len(action.data) >= 8 and action.data[2:4] == b"\x17\x00":
            level = int.from_bytes(action.data[4:8], "little")
            if level not in IMPORTANCE:
                return MappedRule(name, None, (f"rule {name!r}: sets importance {level}, not a Graph importance",))
            actions["markImportance"] = IMPORTANCE[level]
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
