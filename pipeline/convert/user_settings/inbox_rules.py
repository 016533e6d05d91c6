"""What a rule means: an extended rule message ([MS-OXORULE] 2.2.4) read into the vocabulary inbox rules share
on the servers we write to (EWS RuleType, Graph messageRule): conditions, exceptions, actions, enabled, order,
name. What no inbox rule can hold is kept as text (`unexpressed`), never dropped; the bytes stay with the rule.

How a restriction reads as conditions (the shapes Outlook writes, as public descriptions of its rules give
them): the top AND's parts are conditions; a NOT among them holds the exceptions (an OR under it: one exception
per branch, as "except if A or except if B"); an OR of the same test is one condition with several strings
(subject, body, header, sender or recipient words; from or sent-to addresses); OR(subject, body) with the same
words is "subject or body". A part no inbox rule can test is unexpressed, and a rule with an unexpressed
condition or exception is not restored at all (dropping a condition would widen what the rule acts on).
An action no inbox rule can do is unexpressed too; the rule is restored with the others, and says so.
What a restore does with them: rule_plan.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from pipeline.convert.user_settings.binary import Cursor, SettingsFormatError
from pipeline.convert.user_settings.restrictions import Restriction, RuleAction, tagged_value
from pipeline.convert.user_settings.rules import ExtendedRule

# property ids (the type half of a tag is left out where either string type may appear)
PID_SUBJECT, PID_BODY, PID_HEADERS = 0x0037, 0x1000, 0x007D
PID_SENDER_NAME, PID_SENDER_SEARCH_KEY, PID_SENDER_EMAIL = 0x0C1A, 0x0C1D, 0x0C1F
PID_SENT_REPRESENTING_EMAIL, PID_SENT_REPRESENTING_SEARCH_KEY = 0x0065, 0x003B
PID_DISPLAY_NAME, PID_EMAIL_ADDRESS, PID_SEARCH_KEY, PID_SMTP_ADDRESS = 0x3001, 0x3003, 0x300B, 0x39FE
PID_ADDRTYPE = 0x3002
PID_TO_ME, PID_CC_ME, PID_RECIP_ME = 0x0057, 0x0058, 0x0059
PID_DISPLAY_TO, PID_DISPLAY_CC = 0x0E04, 0x0E03
PID_IMPORTANCE, PID_SENSITIVITY, PID_MESSAGE_CLASS = 0x0017, 0x0036, 0x001A
PID_MESSAGE_FLAGS, PID_MESSAGE_SIZE, PID_DELIVERY_TIME = 0x0E07, 0x0E08, 0x0E06
PID_MESSAGE_RECIPIENTS = 0x0E12
MSGFLAG_HASATTACH = 0x10
LT, LE, GT, GE, EQ, NE = range(6)
BMR_EQZ, BMR_NEZ = 0, 1
FL_SUBSTRING, FL_PREFIX = 1, 2
ST_ONLY_WHEN_OOF, ST_EXIT_LEVEL = 0x04, 0x10
FWD_PRESERVE_SENDER, FWD_DO_NOT_MUNGE_MSG, FWD_AS_ATTACHMENT = 0x1, 0x2, 0x4
IMPORTANCE = {0: "Low", 1: "Normal", 2: "High"}
SENSITIVITY = {0: "Normal", 1: "Personal", 2: "Private", 3: "Confidential"}
AUTO_REPLY_CLASS = "IPM.Note.Rules.OofTemplate.Microsoft"
MEETING_CLASSES = {"IPM.Schedule.Meeting.Request", "IPM.Schedule.Meeting.Canceled"}

_WORDS = {
    PID_SUBJECT: "contains_subject_strings",
    PID_BODY: "contains_body_strings",
    PID_HEADERS: "contains_header_strings",
    PID_SENDER_EMAIL: "contains_sender_strings",
    PID_SENDER_NAME: "contains_sender_strings",
    PID_SENDER_SEARCH_KEY: "contains_sender_strings",
    PID_SENT_REPRESENTING_EMAIL: "contains_sender_strings",
    PID_SENT_REPRESENTING_SEARCH_KEY: "contains_sender_strings",
}
_RECIPIENT_WORDS = {PID_EMAIL_ADDRESS, PID_SEARCH_KEY, PID_SMTP_ADDRESS, PID_DISPLAY_NAME}
_FLAGS = {PID_TO_ME: "sent_to_me", PID_CC_ME: "sent_cc_me", PID_RECIP_ME: "sent_to_or_cc_me"}
_PROPERTY_NAMES = {
    PID_SUBJECT: "subject",
    PID_BODY: "body",
    PID_HEADERS: "message header",
    PID_SENDER_EMAIL: "sender's address",
    PID_SENDER_NAME: "sender's name",
    PID_SENDER_SEARCH_KEY: "sender",
    PID_DISPLAY_NAME: "recipient's name",
    PID_EMAIL_ADDRESS: "recipient's address",
    PID_SEARCH_KEY: "recipient",
    PID_IMPORTANCE: "importance",
    PID_SENSITIVITY: "sensitivity",
    PID_MESSAGE_CLASS: "message class",
    PID_MESSAGE_SIZE: "size",
    PID_DELIVERY_TIME: "received",
    PID_MESSAGE_FLAGS: "message flags",
    PID_TO_ME: "my name in To",
    PID_CC_ME: "my name in Cc",
    PID_RECIP_ME: "my name in To or Cc",
    PID_DISPLAY_TO: "To line",
    PID_DISPLAY_CC: "Cc line",
    PID_MESSAGE_RECIPIENTS: "recipients",
}
_RELOPS = ("<", "<=", ">", ">=", "=", "!=")


class _FieldsSet:
    """What RulePredicates and RuleActions share: the fields set, by name (what a comparison or a report
    looks at), and whether none is."""

    __slots__ = ()

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, ())}  # type: ignore[arg-type]

    @property
    def empty(self) -> bool:
        return not self.as_dict()


@dataclass(frozen=True, slots=True)
class RulePredicates(_FieldsSet):
    """Conditions (or exceptions) of an inbox rule, named as EWS's RulePredicatesType names them; every set
    field must hold. Strings are matched as substrings, ignoring case; sizes in KiB."""

    contains_subject_strings: tuple[str, ...] = ()
    contains_body_strings: tuple[str, ...] = ()
    contains_subject_or_body_strings: tuple[str, ...] = ()
    contains_header_strings: tuple[str, ...] = ()
    contains_sender_strings: tuple[str, ...] = ()
    contains_recipient_strings: tuple[str, ...] = ()
    from_addresses: tuple[str, ...] = ()
    sent_to_addresses: tuple[str, ...] = ()
    with_attachments: bool | None = None  # EWS: HasAttachments (destination/ews/rules.py)
    importance: str | None = None  # Low | Normal | High
    sensitivity: str | None = None  # Normal | Personal | Private | Confidential
    sent_to_me: bool | None = None
    not_sent_to_me: bool | None = None
    sent_cc_me: bool | None = None
    sent_only_to_me: bool | None = None
    sent_to_or_cc_me: bool | None = None
    is_automatic_reply: bool | None = None
    is_meeting_request: bool | None = None
    within_size_range: tuple[int | None, int | None] | None = None  # (minimum, maximum) KiB
    within_date_range: tuple[datetime | None, datetime | None] | None = None  # (after, before)


@dataclass(frozen=True, slots=True)
class RuleActions(_FieldsSet):
    """What an inbox rule does, named as EWS's ActionsType names it; folders as the rule holds them, folder
    entry ids of the source (the run finds their folders, and the restore points them at the rebuilt ones)."""

    move_to_folder: bytes | None = None
    copy_to_folder: bytes | None = None
    delete: bool | None = None  # to Deleted Items
    permanent_delete: bool | None = None
    mark_as_read: bool | None = None
    mark_importance: str | None = None
    forward_to_recipients: tuple[str, ...] = ()
    forward_as_attachment_to_recipients: tuple[str, ...] = ()
    redirect_to_recipients: tuple[str, ...] = ()
    stop_processing_rules: bool | None = None


@dataclass(frozen=True, slots=True)
class InboxRule:
    """One rule as an inbox rule: what it tests, what it does, and what of it no inbox rule can hold."""

    name: str
    enabled: bool
    sequence: int | None
    conditions: RulePredicates
    exceptions: RulePredicates
    actions: RuleActions
    unexpressed_conditions: tuple[str, ...] = ()  # condition or exception parts, as text
    unexpressed_actions: tuple[str, ...] = ()
    raw_condition: bytes = b""
    raw_actions: bytes = b""

    @property
    def restorable(self) -> bool:
        """Every condition and exception understood, and at least one action an inbox rule can do."""
        return not self.unexpressed_conditions and not self.actions.empty

    @property
    def text(self) -> str:
        return self.render({})

    def render(self, folder_names: Mapping[bytes, str]) -> str:
        """The rule in one line, for the report: what it tests, except when, what it does (and what it cannot);
        folders by the names given (their source paths), else by entry id."""
        parts = [f"{self.name!r} ({'on' if self.enabled else 'off'})"]
        tests = [_phrase(k, v) for k, v in self.conditions.as_dict().items()] + list(self.unexpressed_conditions)
        parts.append("if " + (" and ".join(tests) if tests else "any message"))
        if not self.exceptions.empty:
            parts.append("except if " + " or ".join(_phrase(k, v) for k, v in self.exceptions.as_dict().items()))
        does = [
            _phrase(k, folder_names.get(v, v) if isinstance(v, bytes) else v) for k, v in self.actions.as_dict().items()
        ] + list(self.unexpressed_actions)
        parts.append("then " + (", ".join(does) if does else "nothing"))
        return " ".join(parts)


def _phrase(name: str, value: object) -> str:
    words = name.replace("_", " ")
    if value is True:
        return words
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return f"{words} {' or '.join(repr(v) for v in value)}"
    if isinstance(value, tuple):
        low, high = value
        return f"{words} {low if low is not None else '…'}-{high if high is not None else '…'}"
    if isinstance(value, bytes):
        return f"{words} (folder entry id {value.hex()})"
    if name in ("move_to_folder", "copy_to_folder"):
        return f"{words} {value!r}"
    return f"{words} {value}"


# ------------------------------------------------------------------ restrictions -> predicates
class _Unexpressed(Exception):
    """A restriction part no inbox rule can test: carries its text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _pid(tag: int | None) -> int:
    return (tag or 0) >> 16


def _strings(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    found = []
    for item in values:
        if isinstance(item, bytes):  # a search key: "SMTP:ADDRESS\0" or "EX:/O=...\0"
            text = item.rstrip(b"\0").decode("latin-1")
            kind, _, address = text.partition(":")
            item = address.lower() if kind.upper() == "SMTP" and address else text
        if isinstance(item, str) and item:
            found.append(item.rstrip("\0"))
    return found


def describe(node: Restriction) -> str:
    """A restriction as text for the report (no body text is ever held in one: conditions only)."""
    name = _PROPERTY_NAMES.get(_pid(node.tag), f"property 0x{node.tag or 0:08X}")
    if node.kind in ("and", "or"):
        return "(" + f" {node.kind} ".join(describe(c) for c in node.children) + ")"
    if node.kind == "not":
        return f"not {describe(node.children[0])}"
    if node.kind == "content":
        how = {0: "is", FL_SUBSTRING: "contains", FL_PREFIX: "starts with"}.get((node.op or 0) & 0xFFFF, "matches")
        return f"{name} {how} {' or '.join(repr(s) for s in _strings(node.value)) or repr(node.value)}"
    if node.kind == "property":
        relop = _RELOPS[node.op] if node.op is not None and node.op < len(_RELOPS) else f"relop {node.op}"
        return f"{name} {relop} {node.value!r}"
    if node.kind == "bitmask":
        return f"{name} {'has none of' if node.op == BMR_EQZ else 'has'} bits 0x{node.value:X}"
    if node.kind == "exist":
        return f"{name} is set"
    if node.kind == "sub_object":
        return f"a {name} row where {describe(node.children[0])}"
    if node.kind == "comment":
        return describe(node.children[0]) if node.children else "(comment)"
    if node.kind == "size":
        return f"size of {name} {node.value}"
    if node.kind == "compare_props":
        return f"{name} compared with property 0x{node.tag2 or 0:08X}"
    return f"{node.kind} restriction on {name}"


def _smtp(node: Restriction) -> list[str]:
    """The addresses a from/sent-to test names; an Exchange (X500) address is none an inbox rule can take."""
    found = _strings(node.value)
    for address in found:
        if address.upper().startswith("EX:") or address.startswith("/"):
            raise _Unexpressed(f"{describe(node)} (an Exchange address, no SMTP address known for it)")
    return found


def _words(node: Restriction, recipients: bool) -> tuple[str, list[str]]:
    fuzzy = (node.op or 0) & 0xFFFF
    if fuzzy != FL_SUBSTRING:
        raise _Unexpressed(describe(node))
    pid = _pid(node.tag)
    if recipients and pid in _RECIPIENT_WORDS:
        return "contains_recipient_strings", _strings(node.value)
    if not recipients and pid == PID_SEARCH_KEY:
        return "contains_recipient_strings", _strings(node.value)
    if not recipients and pid in _WORDS:
        return _WORDS[pid], _strings(node.value)
    raise _Unexpressed(describe(node))


def _atom(node: Restriction, recipients: bool = False) -> list[tuple[str, Any]]:
    """One condition (as (field, value) pairs) from a restriction part; _Unexpressed when it is none."""
    kind, pid = node.kind, _pid(node.tag)
    if kind == "comment" and len(node.children) == 1:
        return _atom(node.children[0], recipients)
    if kind == "sub_object" and pid == PID_MESSAGE_RECIPIENTS:
        return _atom(node.children[0], True)
    if kind == "content":
        name, words = _words(node, recipients)
        return [(name, words)]
    if kind == "property" and node.op == EQ:
        if pid in (PID_SENDER_SEARCH_KEY, PID_SENT_REPRESENTING_SEARCH_KEY) and not recipients:
            return [("from_addresses", _smtp(node))]
        if pid in (PID_SEARCH_KEY, PID_SMTP_ADDRESS, PID_EMAIL_ADDRESS) and (recipients or pid == PID_SEARCH_KEY):
            return [("sent_to_addresses", _smtp(node))]
        if pid in _FLAGS and isinstance(node.value, bool):
            if pid == PID_TO_ME and node.value is False:
                return [("not_sent_to_me", True)]
            if node.value:
                return [(_FLAGS[pid], True)]
        if pid == PID_IMPORTANCE and isinstance(node.value, int) and node.value in IMPORTANCE:
            return [("importance", IMPORTANCE[node.value])]
        if pid == PID_SENSITIVITY and isinstance(node.value, int) and node.value in SENSITIVITY:
            return [("sensitivity", SENSITIVITY[node.value])]
        if pid == PID_MESSAGE_CLASS and node.value == AUTO_REPLY_CLASS:
            return [("is_automatic_reply", True)]
    if kind == "bitmask" and pid == PID_MESSAGE_FLAGS and node.op == BMR_NEZ and node.value == MSGFLAG_HASATTACH:
        return [("with_attachments", True)]
    if kind == "property" and pid == PID_MESSAGE_SIZE and node.op in (GT, GE, LT, LE) and isinstance(node.value, int):
        kib = round(node.value / 1024)
        return [("within_size_range", (kib, None) if node.op in (GT, GE) else (None, kib))]
    if kind == "property" and pid == PID_DELIVERY_TIME and node.op in (GT, GE, LT, LE):
        if isinstance(node.value, datetime):
            return [("within_date_range", (node.value, None) if node.op in (GT, GE) else (None, node.value))]
    if kind == "or" and node.children:
        return _either(node, recipients)
    if kind == "and" and len(node.children) == 1:
        return _atom(node.children[0], recipients)
    raise _Unexpressed(describe(node))


def _either(node: Restriction, recipients: bool) -> list[tuple[str, Any]]:
    """An OR as one condition: the same test with several values, subject-or-body, or meeting requests."""
    classes = [c.value for c in node.children if c.kind in ("property", "content") and _pid(c.tag) == PID_MESSAGE_CLASS]
    if (
        len(classes) == len(node.children)
        and set(classes) <= MEETING_CLASSES
        and "IPM.Schedule.Meeting.Request" in classes
    ):
        return [("is_meeting_request", True)]
    found: dict[str, list[str]] = {}
    for child in node.children:
        for name, value in _atom(child, recipients):
            if not isinstance(value, list):
                raise _Unexpressed(describe(node))
            found.setdefault(name, []).extend(v for v in value if v not in found.get(name, []))
    if set(found) == {"contains_subject_strings", "contains_body_strings"}:
        if found["contains_subject_strings"] == found["contains_body_strings"]:
            return [("contains_subject_or_body_strings", found["contains_subject_strings"])]
    if len(found) != 1:
        raise _Unexpressed(describe(node))
    return list(found.items())


def _conjuncts(node: Restriction) -> list[Restriction]:
    if node.kind == "and":
        return [part for child in node.children for part in _conjuncts(child)]
    return [node]


def _is_flag(node: Restriction, pid: int, value: bool) -> bool:
    return node.kind == "property" and node.op == EQ and _pid(node.tag) == pid and node.value is value


def _composites(parts: list[Restriction]) -> tuple[list[Restriction], dict[str, Any]]:
    """Outlook's multi-part tests: "sent only to me" (To me, no ';' in the To line, an empty Cc line) and
    "my name in the Cc box" (Cc me, To-or-Cc me, not To me); returns the other parts and what was found."""
    found: dict[str, Any] = {}
    to_me = next((p for p in parts if _is_flag(p, PID_TO_ME, True)), None)
    semicolon = next(
        (
            p
            for p in parts
            if p.kind == "not"
            and p.children[0].kind == "content"
            and _pid(p.children[0].tag) == PID_DISPLAY_TO
            and _strings(p.children[0].value) == [";"]
        ),
        None,
    )
    no_cc = next(
        (p for p in parts if p.kind == "property" and p.op == EQ and _pid(p.tag) == PID_DISPLAY_CC and p.value == ""),
        None,
    )
    if to_me is not None and semicolon is not None and no_cc is not None:
        parts = [p for p in parts if p is not to_me and p is not semicolon and p is not no_cc]
        found["sent_only_to_me"] = True
    cc_me = next((p for p in parts if _is_flag(p, PID_CC_ME, True)), None)
    recip_me = next((p for p in parts if _is_flag(p, PID_RECIP_ME, True)), None)
    not_to_me = next((p for p in parts if _is_flag(p, PID_TO_ME, False)), None)
    if cc_me is not None and recip_me is not None and not_to_me is not None:
        parts = [p for p in parts if p is not cc_me and p is not recip_me and p is not not_to_me]
        found["sent_cc_me"] = True
    return parts, found


def _merge(into: dict[str, Any], name: str, value: Any) -> None:
    if name in ("within_size_range", "within_date_range"):
        low, high = into.get(name, (None, None))
        new_low, new_high = value
        into[name] = (new_low if new_low is not None else low, new_high if new_high is not None else high)
    elif isinstance(value, list):
        if name in into:  # two ANDed tests of the same kind: an inbox rule ORs a field's values
            raise _Unexpressed(f"{name.replace('_', ' ')} twice (both must match)")
        into[name] = tuple(value)
    else:
        into[name] = value


def _predicates(found: dict[str, Any]) -> RulePredicates:
    return RulePredicates(**found)


def read_condition(condition: Restriction | None) -> tuple[RulePredicates, RulePredicates, tuple[str, ...]]:
    """(conditions, exceptions, parts no inbox rule can test, as text)."""
    if condition is None:
        return RulePredicates(), RulePredicates(), ()
    parts, conditions = _composites(_conjuncts(condition))
    exceptions: dict[str, Any] = {}
    unexpressed: list[str] = []
    for part in parts:
        try:
            if part.kind == "not":
                inner = part.children[0]
                try:
                    atoms = _atom(inner)
                except _Unexpressed:
                    if inner.kind != "or":
                        raise
                    atoms = [atom for child in inner.children for atom in _atom(child)]
                for name, value in atoms:
                    if name in exceptions and isinstance(value, list):  # exceptions are ORed: values join
                        exceptions[name] = tuple(dict.fromkeys((*exceptions[name], *value)))
                    else:
                        _merge(exceptions, name, value)
            else:
                for name, value in _atom(part):
                    _merge(conditions, name, value)
        except _Unexpressed as exc:
            unexpressed.append(("except if " if part.kind == "not" else "") + exc.text)
    return _predicates(conditions), _predicates(exceptions), tuple(unexpressed)


# ------------------------------------------------------------------ actions
def _recipients(data: bytes) -> list[str]:
    """The addresses of a forward/delegate action's recipient blocks ([MS-OXORULE] 2.2.5.1.2.4, extended form:
    a 32-bit count, then per recipient a reserved byte, a 32-bit property count and tagged values)."""
    cursor = Cursor(data, "forward action")
    found = []
    for _ in range(cursor.u32("recipient count")):
        cursor.u8("reserved")
        values = dict(tagged_value(cursor) for _ in range(cursor.u32("property count")))
        by_id = {_pid(tag): value for tag, value in values.items()}
        smtp = by_id.get(PID_SMTP_ADDRESS)
        address = by_id.get(PID_EMAIL_ADDRESS)
        kind = by_id.get(PID_ADDRTYPE)
        if isinstance(smtp, str) and smtp:
            found.append(smtp)
        elif isinstance(address, str) and address and (kind is None or str(kind).upper() == "SMTP"):
            found.append(address)
        else:
            raise cursor.fail(f"a recipient without an SMTP address ({address or by_id.get(PID_DISPLAY_NAME)!r})")
    return found


def _action(action: RuleAction, found: dict[str, Any]) -> str | None:
    """Adds what one action does to `found`; returns its text when no inbox rule can do it."""
    kind = action.kind
    if kind in ("move", "copy"):
        if not action.folder_entry_id:
            return f"{kind} to a folder the rule does not name"
        found["move_to_folder" if kind == "move" else "copy_to_folder"] = bytes(action.folder_entry_id)
        return None
    if kind == "delete":
        found["permanent_delete"] = True
        return None
    if kind == "mark_as_read":
        found["mark_as_read"] = True
        return None
    if kind == "tag":
        try:
            tag, value = tagged_value(Cursor(action.data, "tag action"))
        except SettingsFormatError as exc:
            return f"set a property (unreadable: {exc})"
        if _pid(tag) == PID_IMPORTANCE and isinstance(value, int) and value in IMPORTANCE:
            found["mark_importance"] = IMPORTANCE[value]
            return None
        return f"set property 0x{tag:08X} to {value!r}"
    if kind == "forward":
        flavor = action.flavor
        try:
            addresses = _recipients(action.data)
        except SettingsFormatError as exc:
            return f"forward ({exc})"
        if flavor == 0:
            name = "forward_to_recipients"
        elif flavor == FWD_AS_ATTACHMENT:
            name = "forward_as_attachment_to_recipients"
        elif flavor == FWD_PRESERVE_SENDER | FWD_DO_NOT_MUNGE_MSG:
            name = "redirect_to_recipients"
        else:
            return f"forward with flavor 0x{flavor:X} to {', '.join(addresses)}"
        found[name] = tuple(dict.fromkeys((*found.get(name, ()), *addresses)))
        return None
    words = {
        "reply": "reply with a template",
        "oof_reply": "reply with an Out of Office template",
        "defer_action": "an action Outlook runs itself (client-side)",
        "bounce": "bounce with a non-delivery report",
        "delegate": "delegate the meeting request",
    }
    return words.get(kind, f"action {kind}")


_NAMED = re.compile(r"property 0x(8[0-9A-F]{3})[0-9A-F]{4}")


def _named(text: str, rule: ExtendedRule) -> str:
    """A named property's tag in a text replaced by its name (the streams map ids of 0x8000 and up)."""
    names = {np.prop_id: np.name for np in rule.named_properties}

    def name(match: re.Match[str]) -> str:
        found = names.get(int(match.group(1), 16))
        return f"named property {found!r}" if found is not None else match.group(0)

    return _NAMED.sub(name, text)


#: The providers of the rules Outlook's (and Exchange's) rules organizer keeps: the user's inbox rules. Others
#: (Out of Office, delegates' meeting forwarding, other programs') are theirs to keep.
ORGANIZERS = {"RuleOrganizer", "Organizer2"}


def interpret(rule: ExtendedRule) -> InboxRule:
    """An extended rule message as an inbox rule (pure; never raises: a restriction of a shape this reading
    does not expect is a condition it cannot express, so the rule is listed, not restored)."""
    try:
        conditions, exceptions, unexpressed = read_condition(rule.condition)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        conditions, exceptions = RulePredicates(), RulePredicates()
        unexpressed = (f"a condition this reader cannot interpret ({type(exc).__name__})",)
    unexpressed = tuple(_named(text, rule) for text in unexpressed)
    if rule.provider and rule.provider not in ORGANIZERS:
        unexpressed += (f"a rule of provider {rule.provider!r}, not of the rules organizer",)
    if (rule.state or 0) & ST_ONLY_WHEN_OOF:
        unexpressed += ("only while Out of Office is on",)
    found: dict[str, Any] = {}
    left = [text for text in (_action(a, found) for a in rule.actions) if text]
    if (rule.state or 0) & ST_EXIT_LEVEL:
        found["stop_processing_rules"] = True
    return InboxRule(
        name=rule.name,
        enabled=rule.enabled,
        sequence=rule.sequence,
        conditions=conditions,
        exceptions=exceptions,
        actions=RuleActions(**found),
        unexpressed_conditions=unexpressed,
        unexpressed_actions=tuple(left),
        raw_condition=rule.raw_condition,
        raw_actions=rule.raw_actions,
    )
