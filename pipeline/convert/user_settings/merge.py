"""What a restore writes for the user's settings, decided from the source's settings and what the new
mailbox already holds: pure functions, no I/O (the run reads the server, then writes what the plan says).

How a rerun, or a user's change on the new server, is respected:
- the category list is merged by name (compared case-insensitively, as Outlook does): a category the server
  has keeps its colour, shortcut and everything else; only the missing ones are added, with the source's own
  attributes. An empty server gets the source's list byte for byte. A rerun finds them all: nothing written.
  (A category the user deleted on the new server after a restore comes back on a rerun: the server keeps no
  record of the deletion to tell it from a category never restored.)
- work hours are written only when the new mailbox has none: once it has a WorkHours object, whether ours
  from an earlier run or one the user (or Outlook on the web) saved since, it is kept and the plan says so.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from pipeline.convert.user_settings.configuration import CategoryList, WorkHours, parse_category_list
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage

#: The names --settings takes, and the kinds they restore.
SELECTABLE = {
    "categories": SettingKind.CATEGORY_LIST,
    "workhours": SettingKind.WORK_HOURS,
    "autocomplete": SettingKind.AUTOCOMPLETE,  # these four over EWS: rebuild/environment.py
    "searchfolders": SettingKind.SEARCH_FOLDER,
    "junk": SettingKind.JUNK_RULE,
    "shortcuts": SettingKind.SHORTCUT,
    "rules": SettingKind.EXTENDED_RULE,
    "options": SettingKind.CONFIGURATION,  # the other configuration objects: options.py says which, and why
}


class SettingAction(enum.StrEnum):
    CREATE = "created"
    UPDATE = "merged"
    KEEP = "kept"  # nothing written: the server already has it, or has its own
    SKIP = "not restored"  # the source's copy cannot be read, or it is not selected


@dataclass(frozen=True, slots=True)
class ConfigurationTarget:
    """Where a setting lives as an EWS user configuration: the distinguished folder and the name."""

    folder: str  # an EWS distinguished folder id
    name: str


TARGETS = {
    SettingKind.CATEGORY_LIST: ConfigurationTarget("calendar", "CategoryList"),
    SettingKind.WORK_HOURS: ConfigurationTarget("calendar", "WorkHours"),
}
#: Where the nickname cache lives (restored by rebuild/environment.py, not through TARGETS' loop).
AUTOCOMPLETE_TARGET = ConfigurationTarget("inbox", "Autocomplete")


@dataclass(frozen=True, slots=True)
class ServerConfiguration:
    """A user configuration as the new mailbox holds it (None where a part is absent)."""

    xml: bytes | None = None
    binary: bytes | None = None
    dictionary: dict[str, str] | None = None  # the string entries of its dictionary (the restore's stamp)
    values: dict[object, object] | None = None  # every entry of its dictionary, as read (options.py compares them)


@dataclass(frozen=True, slots=True)
class SettingPlan:
    kind: SettingKind
    target: ConfigurationTarget
    action: SettingAction
    xml: bytes | None = None  # what to write (CREATE, UPDATE)
    added: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # what the server already had, left as it is
    reason: str = ""
    details: dict[str, object] = field(default_factory=dict)  # more for the report (JSON-ready), by name

    def as_dict(self) -> dict[str, object]:
        return self.details | {
            "setting": self.kind.value,
            "folder": self.target.folder,
            "name": self.target.name,
            "action": self.action.value,
            "added": list(self.added),
            "kept": list(self.kept),
            "reason": self.reason,
        }


class SelectionError(ValueError):
    """--settings named something it does not know: carries the word."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word

    def __str__(self) -> str:
        return f"unknown setting {self.word!r} (all, none, or a comma-separated list of {', '.join(SELECTABLE)})"


def parse_selection(text: str) -> tuple[str, ...]:
    """`all`, `none` or a comma-separated list of SELECTABLE names -> the names, in SELECTABLE's order."""
    words = {w.strip().lower() for w in text.split(",") if w.strip()}
    if words == {"all"}:
        return tuple(SELECTABLE)
    if words in (set(), {"none"}):
        return ()
    for word in sorted(words):
        if word not in SELECTABLE:
            raise SelectionError(word)
    return tuple(name for name in SELECTABLE if name in words)


def _names(xml: bytes) -> list[str]:
    return [c.name for c in parse_category_list(xml).categories]


def _element(attributes: dict[str, str]) -> str:
    return "<category " + " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items()) + " />"


def merge_categories(source: CategoryList, server_xml: bytes) -> tuple[bytes, tuple[str, ...], tuple[str, ...]]:
    """The server's list with the source's missing categories appended (server XML kept as written);
    returns (xml, added, kept)."""
    have = {name.casefold() for name in _names(server_xml)}
    missing = [c for c in source.categories if c.name.casefold() not in have]
    kept = tuple(c.name for c in source.categories if c.name.casefold() in have)
    if not missing:
        return server_xml, (), kept
    text = server_xml.decode("utf-8-sig")
    addition = "".join(_element(c.attributes) for c in missing)
    closing = text.rfind("</categories>")
    if closing >= 0:
        text = text[:closing] + addition + text[closing:]
    else:
        text = re.sub(r"/>\s*$", ">" + addition + "</categories>", text.rstrip(), count=1)
    merged = ("\ufeff" if server_xml.startswith(b"\xef\xbb\xbf") else "") + text
    return merged.encode("utf-8"), tuple(c.name for c in missing), kept


def plan_setting(message: SettingsMessage, server: ServerConfiguration | None) -> SettingPlan:
    target = TARGETS[message.kind]
    record = message.record
    if record is None:
        return SettingPlan(message.kind, target, SettingAction.SKIP, reason=f"unreadable: {message.problem}")
    if isinstance(record, CategoryList):
        if server is None or not server.xml:
            return SettingPlan(
                message.kind, target, SettingAction.CREATE, record.raw, added=tuple(c.name for c in record.categories)
            )
        try:
            merged, added, kept = merge_categories(record, server.xml)
        except ValueError as exc:
            return SettingPlan(
                message.kind,
                target,
                SettingAction.KEEP,
                reason=f"the server's category list is kept: it cannot be read ({exc})",
            )
        if not added:
            return SettingPlan(
                message.kind, target, SettingAction.KEEP, kept=kept, reason="every category is already on the server"
            )
        return SettingPlan(
            message.kind,
            target,
            SettingAction.UPDATE,
            merged,
            added=added,
            kept=kept,
            reason="missing categories added; those on the server keep their colours",
        )
    if isinstance(record, WorkHours):
        if server is None or not server.xml:
            return SettingPlan(message.kind, target, SettingAction.CREATE, record.raw, added=("work hours",))
        same = server.xml == record.raw
        return SettingPlan(
            message.kind,
            target,
            SettingAction.KEEP,
            kept=("work hours",),
            reason="already restored"
            if same
            else "the new mailbox has its own work hours (set since, or by its defaults): kept",
        )
    return SettingPlan(message.kind, target, SettingAction.SKIP, reason="not a setting this restore writes")


def wanted(messages: list[SettingsMessage], selected: tuple[str, ...]) -> list[SettingsMessage]:
    """The source's settings the selection restores: the first of each selected kind (a store has one)."""
    kinds = [SELECTABLE[name] for name in selected if SELECTABLE[name] in TARGETS]
    found: dict[SettingKind, SettingsMessage] = {}
    for message in messages:
        if message.kind in kinds and message.kind not in found:
            found[message.kind] = message
    return [found[k] for k in kinds if k in found]
