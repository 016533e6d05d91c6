"""Rules kept as folder-associated messages: extended rules of [MS-OXORULE] 2.2.4 (IPM.ExtendedRule.Message),
among them the junk e-mail rule of [MS-OXCSPAM] with its safe and blocked senders, and Outlook's own rules
stream (IPM.RuleOrganizer, PR_RW_RULES_STREAM 0x6802), which no Microsoft spec describes: kept as bytes, and
its rules listed by name and state (`OutlookRule`). The stream's layout, as public reverse-engineered
descriptions give it: a header of eleven 32-bit words and a 16-bit rule count; per rule three marker bytes, a
locator byte, the name (an 8-bit count of UTF-16 units, 0xFF then a 16-bit count for long ones), a 32-bit
"active" word, four 32-bit words, and a 32-bit byte count of everything else the rule holds (its conditions
and actions, which have no lengths of their own: read as text by rules_stream.py, kept as bytes). The meaning of a rule is
read from its extended rule message (inbox_rules.py); the stream tells which rules Outlook has that no
extended rule message holds (client-only rules).

How the junk rule's lists are told apart: [MS-OXCSPAM] builds its condition as "blocked senders, or a spam
confidence level above the threshold, and not a trusted party". So an address compared with a sender
property outside every NOT is a blocked sender; inside a NOT it is a safe sender, and inside the
recipients' sub-object restriction (PR_MESSAGE_RECIPIENTS) a safe recipient.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError
from pipeline.convert.user_settings.restrictions import (
    NamedProperty,
    Restriction,
    RuleAction,
    parse_actions,
    parse_condition,
)
from pipeline.convert.user_settings.rules_stream import read_rule_elements

PR_RULE_MSG_STATE = 0x65E9
PR_RULE_MSG_USER_FLAGS = 0x65EA
PR_RULE_MSG_PROVIDER = 0x65EB
PR_RULE_MSG_NAME = 0x65EC
PR_RULE_MSG_LEVEL = 0x65ED
PR_RULE_MSG_PROVIDER_DATA = 0x65EE
PR_RULE_MSG_SEQUENCE = 0x65F3
PR_EXTENDED_RULE_MSG_ACTIONS = 0x0E99
PR_EXTENDED_RULE_MSG_CONDITION = 0x0E9A
PR_RW_RULES_STREAM = 0x6802
PR_JUNK_INCLUDE_CONTACTS = 0x6100
PR_JUNK_THRESHOLD = 0x6101
PR_JUNK_PERMANENTLY_DELETE = 0x6102
PR_JUNK_ADD_RECIPS_TO_SSL = 0x6103
PR_JUNK_PHISHING_ENABLE_LINKS = 0x6107
PR_MESSAGE_RECIPIENTS = 0x0E12000D
JUNK_PROVIDER = "JunkEmailRule"
ST_ENABLED = 0x1


@dataclass(frozen=True, slots=True)
class ExtendedRule:
    """An extended rule message: its name, provider, order, state, and condition and actions decoded."""

    name: str
    provider: str | None
    sequence: int | None
    state: int | None
    level: int | None
    user_flags: int | None
    provider_data: bytes | None
    named_properties: tuple[NamedProperty, ...]
    condition: Restriction | None
    version: int | None
    actions: tuple[RuleAction, ...]
    raw_condition: bytes
    raw_actions: bytes

    @property
    def enabled(self) -> bool:
        return bool((self.state or 0) & ST_ENABLED)


@dataclass(frozen=True, slots=True)
class JunkEmailRule:
    """The junk e-mail rule: its options and the three lists, read from the rule's condition."""

    rule: ExtendedRule
    safe_senders: tuple[str, ...]
    safe_recipients: tuple[str, ...]
    blocked_senders: tuple[str, ...]
    include_contacts: bool | None
    threshold: int | None
    permanently_delete: bool | None
    add_recipients_to_safe_senders: bool | None


@dataclass(frozen=True, slots=True)
class OutlookRule:
    """One rule of Outlook's rules stream: its name, whether Outlook shows it active, its bytes."""

    name: str
    enabled: bool
    raw: bytes  # the rule's conditions and actions
    elements: tuple[str, ...] = ()  # what they say, as text (rules_stream.py), as far as they could be read
    problem: str | None = None  # where reading its elements stopped


@dataclass(frozen=True, slots=True)
class RulesStream:
    """Outlook's rules organizer stream: undocumented by Microsoft, kept byte for byte; `rules` as far as
    they could be read (`problem` says where reading stopped, the rules before it kept)."""

    size: int
    raw: bytes
    rules: tuple[OutlookRule, ...] = ()
    problem: str | None = None  # where reading stopped, as SettingsFormatError words it


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: object) -> bool | None:
    number = _int(value)
    return None if number is None else number != 0


def read_extended_rule(properties: dict[int, object]) -> ExtendedRule:
    raw_condition = properties.get(PR_EXTENDED_RULE_MSG_CONDITION)
    raw_actions = properties.get(PR_EXTENDED_RULE_MSG_ACTIONS)
    raw_condition = raw_condition if isinstance(raw_condition, bytes) else b""
    raw_actions = raw_actions if isinstance(raw_actions, bytes) else b""
    named, condition = parse_condition(raw_condition) if raw_condition else ((), None)
    named_actions, version, actions = parse_actions(raw_actions) if raw_actions else ((), None, ())
    name, provider = properties.get(PR_RULE_MSG_NAME), properties.get(PR_RULE_MSG_PROVIDER)
    provider_data = properties.get(PR_RULE_MSG_PROVIDER_DATA)
    return ExtendedRule(
        name=name if isinstance(name, str) else "",
        provider=provider if isinstance(provider, str) else None,
        sequence=_int(properties.get(PR_RULE_MSG_SEQUENCE)),
        state=_int(properties.get(PR_RULE_MSG_STATE)),
        level=_int(properties.get(PR_RULE_MSG_LEVEL)),
        user_flags=_int(properties.get(PR_RULE_MSG_USER_FLAGS)),
        provider_data=provider_data if isinstance(provider_data, bytes) else None,
        named_properties=named + named_actions,
        condition=condition,
        version=version,
        actions=actions,
        raw_condition=raw_condition,
        raw_actions=raw_actions,
    )


def _addresses(condition: Restriction | None) -> tuple[list[str], list[str], list[str]]:
    safe_senders: list[str] = []
    safe_recipients: list[str] = []
    blocked: list[str] = []
    if condition is None:
        return safe_senders, safe_recipients, blocked
    for node, inside_not, sub_object in condition.walk():
        if node.kind not in ("content", "property"):
            continue
        values = node.value if isinstance(node.value, list) else [node.value]
        for value in values:
            if isinstance(value, bytes):  # a search key: "SMTP:ADDRESS\0"
                value = value.rstrip(b"\0").decode("latin-1").partition(":")[2] or None
            if not isinstance(value, str) or not value.strip():
                continue
            target = (
                (safe_recipients if sub_object == PR_MESSAGE_RECIPIENTS else safe_senders) if inside_not else blocked
            )
            if value not in target:
                target.append(value)
    return safe_senders, safe_recipients, blocked


def read_junk_rule(properties: dict[int, object]) -> JunkEmailRule:
    rule = read_extended_rule(properties)
    safe_senders, safe_recipients, blocked = _addresses(rule.condition)
    return JunkEmailRule(
        rule=rule,
        safe_senders=tuple(safe_senders),
        safe_recipients=tuple(safe_recipients),
        blocked_senders=tuple(blocked),
        include_contacts=_flag(properties.get(PR_JUNK_INCLUDE_CONTACTS)),
        threshold=_int(properties.get(PR_JUNK_THRESHOLD)),
        permanently_delete=_flag(properties.get(PR_JUNK_PERMANENTLY_DELETE)),
        add_recipients_to_safe_senders=_flag(properties.get(PR_JUNK_ADD_RECIPS_TO_SSL)),
    )


def _length(cursor: Cursor, name: str) -> int:
    length = cursor.u8(name)
    return cursor.u16(name) if length == 0xFF else length


def read_rules_stream(raw: bytes) -> RulesStream:
    """The stream with its rules' names and states; a stream that does not follow the layout keeps the rules
    read before the fault and says where it stopped (never raises)."""
    cursor = Cursor(raw, "rules stream")
    rules: list[OutlookRule] = []
    try:
        cursor.take(44, "stream header")
        count = cursor.u16("rule count")
        for _ in range(count):
            cursor.take(3, "rule marker")
            cursor.u8("rule locator")
            name = cursor.take(2 * _length(cursor, "rule name length"), "rule name").decode("utf-16-le", "replace")
            active = cursor.u32("rule active")
            cursor.take(16, "rule header")
            body = cursor.take(cursor.u32("rule byte count"), "rule body")
            said = read_rule_elements(body)
            rules.append(OutlookRule(name, active != 0, body, said.elements, said.problem))
    except SettingsFormatError as exc:
        return RulesStream(size=len(raw), raw=raw, rules=tuple(rules), problem=str(exc))
    return RulesStream(size=len(raw), raw=raw, rules=tuple(rules))
