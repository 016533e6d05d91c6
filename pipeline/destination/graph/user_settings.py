"""The user's settings restored over Microsoft Graph v1.0: the master category list
(`outlook/masterCategories`), work hours and time zone (`mailboxSettings`), search folders
(`mailFolders/searchfolders/childFolders` as `mailSearchFolder`) and rules (`mailFolders/inbox/messageRules`).
What v1.0 has no API for (the autocomplete list, the junk e-mail lists, calendar options, navigation
shortcuts) is reported as left, with the reason and the way that takes it.

The decisions are settings_map.py's, search_filters.py's and rules.py's (pure); this module reads the
server, asks them, writes, and returns one typed outcome per setting. A setting the server refuses is a
"failed" outcome carrying Graph's error; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pipeline.convert.user_settings.autocomplete import AutocompleteList
from pipeline.convert.user_settings.configuration import CategoryList, WorkHours
from pipeline.convert.user_settings.merge import SELECTABLE, SettingAction
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage
from pipeline.convert.user_settings.rules import ExtendedRule, JunkEmailRule, RulesStream
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition
from pipeline.destination.base import SETTING_FAILED, SettingsLinks
from pipeline.destination.graph import rules as rule_map
from pipeline.destination.graph import settings_map
from pipeline.destination.graph.search_filters import to_filter
from pipeline.destination.graph.transport import ErrorKind, GraphError, GraphHttp, Unanswered

#: --settings names (convert/user_settings/merge.py SELECTABLE) and the kinds each restores over Graph.
KINDS = {
    "categories": (SettingKind.CATEGORY_LIST,),
    "workhours": (SettingKind.WORK_HOURS,),
    "searchfolders": (SettingKind.SEARCH_FOLDER,),
    "rules": (SettingKind.EXTENDED_RULE, SettingKind.RULES_STREAM),
}
#: What Graph v1.0 cannot take, whatever is selected: listed so that nothing is dropped silently.
NO_API = {
    SettingKind.AUTOCOMPLETE: (
        "Graph v1.0 has no resource for the nickname cache (IPM.Configuration.Autocomplete; the v1.0 metadata "
        "has no userConfiguration); restore it over EWS (--destination ews, UpdateUserConfiguration)"
    ),
    SettingKind.JUNK_RULE: (
        "Graph v1.0 has no API for the junk e-mail lists; use Exchange Online PowerShell: "
        "Set-MailboxJunkEmailConfiguration -Identity <mailbox> -TrustedSendersAndDomains @{Add=...} "
        "-BlockedSendersAndDomains @{Add=...}"
    ),
    SettingKind.SHORTCUT: (
        "Graph v1.0 has no resource for navigation pane shortcuts (IPM.Microsoft.WunderBar.Link); Outlook "
        "makes its default ones again"
    ),
}


@dataclass(frozen=True, slots=True)
class GraphSettingOutcome:
    """What the restore did with one setting over Graph: `action` a SettingAction value or "failed"."""

    setting: str
    resource: str
    action: str
    name: str = ""
    added: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    reason: str = ""
    error: GraphError | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "setting": self.setting,
            "resource": self.resource,
            "name": self.name,
            "action": self.action,
            "added": list(self.added),
            "kept": list(self.kept),
            "left": list(self.left),
            "reason": self.reason,
            **({"title": self.name} if self.name and self.setting == SettingKind.SEARCH_FOLDER.value else {}),
        }


class GraphSettings:
    """The mailbox's settings resources over one GraphHttp."""

    CATEGORIES = "/outlook/masterCategories"
    MAILBOX_SETTINGS = "/mailboxSettings"
    SEARCH_FOLDERS = "/mailFolders/searchfolders/childFolders"
    RULES = "/mailFolders/inbox/messageRules"

    def __init__(self, http: GraphHttp) -> None:
        self.http = http

    def restore(
        self, messages: list[SettingsMessage], selected: tuple[str, ...], links: SettingsLinks
    ) -> Iterator[GraphSettingOutcome]:
        kinds = {kind for name in selected for kind in KINDS.get(name, ())}
        by_kind: dict[SettingKind, list[SettingsMessage]] = {}
        for message in messages:
            by_kind.setdefault(message.kind, []).append(message)
        steps: list[tuple[SettingKind, Callable[[], GraphSettingOutcome], str, str]] = []
        if SettingKind.CATEGORY_LIST in kinds and by_kind.get(SettingKind.CATEGORY_LIST):
            first = by_kind[SettingKind.CATEGORY_LIST][0]
            steps.append((first.kind, partial(self._categories, first), self.CATEGORIES, ""))
        options = [(m.configuration_name or "", m.dictionary) for m in by_kind.get(SettingKind.CONFIGURATION, [])]
        if SettingKind.WORK_HOURS in kinds and by_kind.get(SettingKind.WORK_HOURS):
            first = by_kind[SettingKind.WORK_HOURS][0]
            steps.append((first.kind, partial(self._work_hours, first, options), self.MAILBOX_SETTINGS, ""))
        elif (SettingKind.WORK_HOURS in kinds or "options" in selected) and settings_map.left_options(options):
            left = settings_map.left_options(options)
            steps.append(
                (
                    SettingKind.CONFIGURATION,
                    partial(
                        GraphSettingOutcome,
                        SettingKind.CONFIGURATION.value,
                        self.MAILBOX_SETTINGS,
                        SettingAction.SKIP,
                        left=left,
                        reason="configuration objects no v1.0 resource takes (EWS UpdateUserConfiguration does)",
                    ),
                    self.MAILBOX_SETTINGS,
                    "",
                )
            )
        if SettingKind.SEARCH_FOLDER in kinds:
            existing: dict[str, dict[str, Any]] | None = None
            for message in by_kind.get(SettingKind.SEARCH_FOLDER, []):

                def one(m: SettingsMessage = message) -> GraphSettingOutcome:
                    nonlocal existing
                    if existing is None:
                        existing = self._search_folders()
                    return self._search_folder(m, existing, links)

                steps.append((message.kind, one, self.SEARCH_FOLDERS, message.subject))
        if kinds & {SettingKind.EXTENDED_RULE, SettingKind.RULES_STREAM}:
            rules = by_kind.get(SettingKind.EXTENDED_RULE, [])
            if rules:
                steps.append((SettingKind.EXTENDED_RULE, partial(self._rules, rules, links), self.RULES, ""))
            for stream in by_kind.get(SettingKind.RULES_STREAM, []):
                steps.append((stream.kind, partial(_rules_stream, stream), self.RULES, ""))
        for step_kind, step, resource, name in steps:
            try:
                yield step()
            except GraphError as exc:
                if exc.kind is ErrorKind.FATAL:
                    raise
                yield GraphSettingOutcome(step_kind.value, resource, SETTING_FAILED, name, reason=str(exc), error=exc)
            except Unanswered as exc:  # it may have landed: a rerun finds it by name, and writes nothing twice
                yield GraphSettingOutcome(step_kind.value, resource, SETTING_FAILED, name, reason=f"no answer: {exc}")
        everything = set(selected) >= set(KINDS)  # --settings all: what no name selects is listed too
        named = {SELECTABLE.get(name) for name in selected}  # e.g. "junk", "autocomplete": listed, not written
        for kind, reason in NO_API.items():
            if (everything or kind in named) and by_kind.get(kind):
                yield _left_alone(kind, by_kind[kind], reason)

    # -- categories -----------------------------------------------------------------------------------
    def _categories(self, message: SettingsMessage) -> GraphSettingOutcome:
        kind, resource = message.kind.value, self.CATEGORIES
        record = message.record
        if not isinstance(record, CategoryList):
            return GraphSettingOutcome(kind, resource, SettingAction.SKIP, reason=f"unreadable: {message.problem}")
        server = self.http.pages(self.CATEGORIES, {})
        plan = settings_map.plan_categories(record, server)
        for body in plan.add:
            try:
                self.http.call("POST", self.CATEGORIES, json_body=body, idempotent=False)
            except GraphError as exc:
                if exc.status != 409:  # there already (an answer lost): what a rerun would find
                    raise
        added = tuple(str(b["displayName"]) for b in plan.add)
        if not added:
            action, reason = SettingAction.KEEP, "every category is already on the server"
        elif plan.server_had:
            action, reason = SettingAction.UPDATE, "missing categories added; those on the server keep their colours"
        else:
            action, reason = SettingAction.CREATE, ""
        return GraphSettingOutcome(kind, resource, action, "", added, plan.kept, plan.left, reason)

    # -- work hours -----------------------------------------------------------------------------------
    def _work_hours(self, message: SettingsMessage, options: list[tuple[str, Any]]) -> GraphSettingOutcome:
        kind, resource = message.kind.value, self.MAILBOX_SETTINGS
        left = settings_map.left_options(options)
        record = message.record
        if not isinstance(record, WorkHours):
            return GraphSettingOutcome(
                kind, resource, SettingAction.SKIP, left=left, reason=f"unreadable: {message.problem}"
            )
        ours = settings_map.working_hours(record)
        if ours is None:
            return GraphSettingOutcome(
                kind, resource, SettingAction.SKIP, left=left, reason="the WorkHours object has no time slot"
            )
        server = self.http.call("GET", self.MAILBOX_SETTINGS) or {}
        hours = server.get("workingHours") or {}
        if settings_map.same_hours(ours, hours):
            return GraphSettingOutcome(
                kind, resource, SettingAction.KEEP, kept=("work hours",), left=left, reason="already restored"
            )
        if not settings_map.is_default(hours):
            return GraphSettingOutcome(
                kind,
                resource,
                SettingAction.KEEP,
                kept=("work hours",),
                left=left,
                reason="the new mailbox has its own work hours (set since): kept",
            )
        body: dict[str, Any] = {"workingHours": ours}
        if record.time_zone_name:
            body["timeZone"] = record.time_zone_name
        self.http.call("PATCH", self.MAILBOX_SETTINGS, json_body=body)
        added = ("work hours", "time zone") if record.time_zone_name else ("work hours",)
        return GraphSettingOutcome(kind, resource, SettingAction.CREATE, added=added, left=left)

    # -- search folders -------------------------------------------------------------------------------
    def _search_folders(self) -> dict[str, dict[str, Any]]:
        found = self.http.pages(self.SEARCH_FOLDERS, {"$top": "1000"})
        return {str(f.get("displayName") or "").casefold(): f for f in found}

    def _search_folder(
        self, message: SettingsMessage, existing: dict[str, dict[str, Any]], links: SettingsLinks
    ) -> GraphSettingOutcome:
        kind, resource = message.kind.value, self.SEARCH_FOLDERS
        record = message.record
        name = message.subject
        if not isinstance(record, SearchFolderDefinition):
            return GraphSettingOutcome(
                kind, resource, SettingAction.SKIP, name, reason=f"unreadable: {message.problem}"
            )
        name = record.name or name
        if name.casefold() in existing:
            return GraphSettingOutcome(
                kind, resource, SettingAction.KEEP, name, kept=(name,), reason="a search folder of that name is there"
            )
        built = to_filter(record.restriction, links.folder_id, links.property_name)
        left = list(built.left)
        if record.restriction_problem:
            left.append(f"restriction: {record.restriction_problem}")
        if built.query is None:
            return GraphSettingOutcome(
                kind, resource, SettingAction.SKIP, name, left=tuple(left), reason="no filter Graph can express"
            )
        sources = [found for entry in record.folder_entry_ids if (found := links.folder_id(entry)) is not None]
        if len(sources) < len(record.folder_entry_ids):
            missing = len(record.folder_entry_ids) - len(sources)
            scope = "the whole rebuilt mailbox" if not sources and links.scope_default else "the folders found"
            left.append(f"{missing} folder(s) it searched are not in this file: it searches {scope} instead")
        if not sources and links.scope_default:
            sources = [links.scope_default]
        if not sources:
            return GraphSettingOutcome(
                kind, resource, SettingAction.SKIP, name, left=tuple(left), reason="no folder to search"
            )
        body = {
            "@odata.type": "microsoft.graph.mailSearchFolder",
            "displayName": name,
            "includeNestedFolders": record.deep_search,
            "sourceFolderIds": sources,
            "filterQuery": built.query,
        }
        made = self.http.call("POST", self.SEARCH_FOLDERS, json_body=body, idempotent=False)
        existing[name.casefold()] = made or body
        return GraphSettingOutcome(kind, resource, SettingAction.CREATE, name, added=(name,), left=tuple(left))

    # -- rules ----------------------------------------------------------------------------------------
    def _rules(self, messages: list[SettingsMessage], links: SettingsLinks) -> GraphSettingOutcome:
        kind, resource = SettingKind.EXTENDED_RULE.value, self.RULES
        server = {str(r.get("displayName") or "").casefold() for r in self.http.pages(self.RULES, {})}
        added, kept, left = [], [], []
        for message in messages:
            record = message.record
            if not isinstance(record, ExtendedRule):
                left.append(f"rule {message.subject!r}: unreadable: {message.problem}")
                continue
            mapped = rule_map.map_rule(record, links.folder_id)
            if mapped.name.casefold() in server:
                kept.append(mapped.name)
                continue
            if mapped.body is None:
                left.extend(mapped.left)
                continue
            self.http.call("POST", self.RULES, json_body=mapped.body, idempotent=False)
            server.add(mapped.name.casefold())
            added.append(mapped.name)
        action = SettingAction.CREATE if added else SettingAction.KEEP if kept else SettingAction.SKIP
        return GraphSettingOutcome(kind, resource, action, "", tuple(added), tuple(kept), tuple(left))


def _rules_stream(message: SettingsMessage) -> GraphSettingOutcome:
    record = message.record
    size = record.size if isinstance(record, RulesStream) else 0
    return GraphSettingOutcome(
        message.kind.value,
        GraphSettings.RULES,
        SettingAction.SKIP,
        message.subject,
        left=(f"Outlook's rules stream ({size} bytes, IPM.RuleOrganizer)",),
        reason="Outlook's own rules blob: no Microsoft spec and no Graph resource; the server's rules are "
        "restored from the extended rule messages",
    )


def _left_alone(kind: SettingKind, messages: list[SettingsMessage], reason: str) -> GraphSettingOutcome:
    """The messages of one kind no v1.0 API takes: one outcome, a line each."""
    left = []
    for message in messages:
        record = message.record
        what = message.subject or message.message_class
        if isinstance(record, AutocompleteList):
            what = f"{len(record.entries)} autocomplete entries"
        elif isinstance(record, JunkEmailRule):
            what = (
                f"{len(record.safe_senders)} safe senders, {len(record.safe_recipients)} safe recipients, "
                f"{len(record.blocked_senders)} blocked senders"
            )
        left.append(what)
    return GraphSettingOutcome(kind.value, "", SettingAction.SKIP, left=tuple(left), reason=reason)
