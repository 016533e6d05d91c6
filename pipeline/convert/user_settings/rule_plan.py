"""What a restore does with the source's inbox rules, decided from them and from what the new mailbox holds:
pure functions, no I/O (the run reads the server, then writes what the plan says).

A rule whose name (compared case-insensitively, as Outlook and Exchange show them) is not on the server is
created; one that is, with the same content, is kept (a rerun writes nothing); one that is, with other
content, is the user's (changed on the new server since): kept, never overwritten. Content is everything but
the rule's id and priority (the user may reorder them), compared in the server's own form (the destination
gives it: folder ids, canonical addresses). A rule the user deleted on the new server comes back on a rerun:
the server keeps no record of the deletion to tell it from a rule never restored. A rule that cannot be an
inbox rule, or whose folder was not rebuilt, is listed with its text, as are the rules only Outlook's rules
stream names (client-only rules).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.convert.user_settings.inbox_rules import InboxRule
from pipeline.convert.user_settings.rules import RulesStream


class RuleDecision(enum.StrEnum):
    CREATE = "created"
    KEEP = "kept"
    SKIP = "not restored"


@dataclass(frozen=True, slots=True)
class RulePlan:
    """What the restore does with one rule, and why; `text` is the rule in one line."""

    name: str
    decision: RuleDecision
    reason: str
    text: str
    rule: InboxRule | None = None  # None for a rule known only from Outlook's rules stream
    left_out: tuple[str, ...] = field(default=())  # actions not restored with the rule

    def as_dict(self) -> dict[str, object]:
        """As the run's summary lists it: one line each in the report, the rule's text where it was not
        restored whole."""
        whole = self.decision is not RuleDecision.SKIP and not self.left_out
        return {
            "setting": "rule",
            "name": self.name,
            "action": self.decision.value,
            "reason": f"{self.name!r}: {self.reason}" if whole else f"{self.reason} -- {self.text}",
            "text": self.text,
            "left_out": list(self.left_out),
        }


def ordered(rules: list[InboxRule]) -> list[InboxRule]:
    """The rules in the order they run (their sequence; those without one last, by name)."""
    return sorted(rules, key=lambda r: (r.sequence is None, r.sequence or 0, r.name.casefold()))


def folder_targets(rule: InboxRule) -> tuple[bytes, ...]:
    """The folder entry ids a rule's actions point at."""
    return tuple(e for e in (rule.actions.move_to_folder, rule.actions.copy_to_folder) if e is not None)


def plan_rules(
    rules: list[InboxRule],
    stream: RulesStream | None,
    server: Mapping[str, list[object]],
    content: Callable[[InboxRule], object],
    folders: Mapping[bytes, object],
    folder_names: Mapping[bytes, str] | None = None,
) -> list[RulePlan]:
    """Per source rule what to do, given the server's rules (`server`: name case-folded -> the contents of the
    rules of that name), `content`, what the server would hold for a rule we write (the destination says: it
    knows its form), and the rebuilt folders (`folders`, by the entry ids rules name them with; their source
    paths in `folder_names`, for the report).

    Outlook lets two rules share a name, so names are matched as many to many: a source rule whose content
    one of the server's rules of its name has is kept (already restored); the others of that name are then
    matched with the server's remaining rules of the name (changed there: kept), and only those left over
    are created. Rules only Outlook's stream names (more of a name than extended rule messages hold) are
    listed as not restored."""
    names = folder_names or {}
    plans: dict[int, RulePlan] = {}
    writable: dict[str, list[tuple[int, InboxRule]]] = {}
    source = ordered(rules)
    for index, rule in enumerate(source):
        if not rule.restorable:
            why = (
                "a condition no inbox rule can test: " + "; ".join(rule.unexpressed_conditions)
                if rule.unexpressed_conditions
                else "no action an inbox rule can do"
            )
            plans[index] = RulePlan(rule.name, RuleDecision.SKIP, why, rule.render(names), rule)
            continue
        missing = [e for e in folder_targets(rule) if e not in folders]
        if missing:
            why = "its target folder is not one this file holds, or was not rebuilt"
            plans[index] = RulePlan(rule.name, RuleDecision.SKIP, why, rule.render(names), rule)
            continue
        writable.setdefault(rule.name.casefold(), []).append((index, rule))
    for key, group in writable.items():
        remaining = list(server.get(key, []))
        unmatched = []
        for index, rule in group:
            wanted = content(rule)
            if wanted in remaining:
                remaining.remove(wanted)
                plans[index] = RulePlan(
                    rule.name, RuleDecision.KEEP, "already restored", rule.render(names), rule, rule.unexpressed_actions
                )
            else:
                unmatched.append((index, rule))
        for index, rule in unmatched:
            left = rule.unexpressed_actions
            if remaining:
                remaining.pop(0)
                why = "the new mailbox has a rule of this name with other content (changed there): not overwritten"
                plans[index] = RulePlan(rule.name, RuleDecision.KEEP, why, rule.render(names), rule, left)
            else:
                reason = "restored" + (f" without: {'; '.join(left)}" if left else "")
                plans[index] = RulePlan(rule.name, RuleDecision.CREATE, reason, rule.render(names), rule, left)
    found = [plans[i] for i in range(len(source))]
    held = Counter(rule.name.casefold() for rule in source)
    for outlook in stream.rules if stream is not None else ():
        key = outlook.name.casefold()
        if held[key] > 0:
            held[key] -= 1
            continue
        found.append(
            RulePlan(
                outlook.name,
                RuleDecision.SKIP,
                "only in Outlook's rules stream (a client-only rule, run by Outlook itself): not an inbox rule",
                f"{outlook.name!r} ({'on' if outlook.enabled else 'off'}): "
                + (", ".join(outlook.elements) or "its conditions and actions not read")
                + (f" (read up to: {outlook.problem})" if outlook.problem else "")
                + "; kept in the exported rules stream",
            )
        )
    return found
