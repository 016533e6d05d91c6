"""Outlook's other configuration objects (IPM.Configuration.<name>, [MS-OXOCFG] 2.2.5-2.2.6): which the restore
writes back over EWS, which it leaves, and why; and the plan for one, decided from the source's object and what
the new mailbox holds. Pure functions: the run reads the server, then writes what the plan says.

What is restored is the user's own options, the roaming dictionaries Outlook writes (`pi*` keys with
`OLPrefsVersion`): calendar, availability, home time zone, conversation, table and contact options, the RSS
rule switch. They travel byte-faithful: the dictionary entry by entry with the type each value was written with
(System.TypeCode in [MS-OXOCFG] 2.2.5.1.2: Boolean, Integer32, String...), the XML and binary streams as read.

What is left: objects the server owns and writes itself (ELC: the Managed Folder Assistant, from the new
mailbox's retention policy; MessageManager and MigrationStatus: transport and the migration service, about the
old mailbox), OWA's own objects (`OWA.*`, `Aggregated.*`: recomputed by OWA), and any name not known here
(nothing says who owns it). CategoryList, WorkHours and Autocomplete have their own restores (merge.py,
nicknames.py).

How a rerun and a user's change are respected: an object is written only where the new mailbox has none of
that name in that folder. Once it has one (ours from an earlier run, the server's defaults, or one the user
saved since) it is kept whole. A per-key merge was weighed and not taken: UpdateUserConfiguration replaces the
dictionary whole, EWS gives back no word on which keys are Exchange's defaults and which the user set, and a
stamp entry (as the nickname cache uses) would add a key Outlook never wrote to an object meant to be
byte-faithful.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.convert.user_settings.configuration import DictionaryEntry
from pipeline.convert.user_settings.merge import ConfigurationTarget, ServerConfiguration, SettingAction, SettingPlan
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage

#: Per configuration name: restored (True) or left (False), and why. The README's --settings table says the same.
DECISIONS: dict[str, tuple[bool, str]] = {
    "Calendar": (True, "the user's calendar options (default reminder, automatic processing of meeting requests)"),
    "AvailabilityOptions": (True, "the user's free/busy publishing and scheduling options"),
    "HomeTimeZone": (True, "the user's home time zone for the calendar"),
    "ConversationPrefs": (True, "the user's conversation view options"),
    "TCPrefs": (True, "the user's message list (table control) options"),
    "ContactPrefs": (True, "the user's contact options"),
    "RssRule": (True, "the user's switch for running rules on RSS items"),
    "ELC": (
        False,
        "owned by the server: the Managed Folder Assistant writes it from the new mailbox's retention policy",
    ),
    "MessageManager": (False, "owned by the server and transport: it describes the old mailbox's message handling"),
    "MigrationStatus": (False, "owned by the server: the old mailbox's migration state, meaningless in the new one"),
}
#: Configurations restored elsewhere (their own plans), not by this module.
ELSEWHERE = ("CategoryList", "WorkHours", "Autocomplete")
#: Prefixes of objects OWA makes and recomputes itself.
OWA_OWNED = ("owa.", "aggregated.")
#: The folders whose configurations can be written (EWS distinguished folder ids, as FolderRole values).
FOLDERS = ("inbox", "calendar", "contacts", "tasks", "notes", "journal", "root")
#: System.TypeCode of a dictionary key or value -> the EWS type it is written as (UserConfigurationDictionaryObject).
EWS_TYPES = {
    3: "Boolean",
    6: "Byte",
    9: "Integer32",
    10: "UnsignedInteger32",
    11: "Integer64",
    12: "UnsignedInteger64",
    18: "String",
}
PR_ROAMING_DICTIONARY = 0x7C07
_INTEGERS = ("Byte", "Integer32", "UnsignedInteger32", "Integer64", "UnsignedInteger64")


@dataclass(frozen=True, slots=True)
class TypedValue:
    """One dictionary key or value as EWS takes it: its type name and its Python value (bool, int or str)."""

    ews_type: str
    value: bool | int | str


@dataclass(frozen=True, slots=True)
class OptionPlan:
    """What to do with one configuration object, and, when it is written, its three parts."""

    plan: SettingPlan
    dictionary: tuple[tuple[TypedValue, TypedValue], ...] | None = None
    xml: bytes | None = None
    binary: bytes | None = None


def decision(name: str) -> tuple[bool, str]:
    """Whether a configuration of this name is restored, and why (unknown names are left, and say so)."""
    for known, decided in DECISIONS.items():
        if known.casefold() == name.casefold():
            return decided
    if name.casefold().startswith(OWA_OWNED):
        return False, "made and recomputed by Outlook on the web itself"
    return False, "not a configuration this restore knows: nothing says who owns it, so it is not written"


def typed(code: int, value: object, text: str) -> TypedValue:
    """A roaming dictionary key or value (its TypeCode and its decoded value) as EWS writes it; ValueError for a
    type EWS has no counterpart for here, or a number out of its type's range."""
    ews_type = EWS_TYPES.get(code)
    if ews_type is None:
        raise ValueError(f"type code {code} has no EWS dictionary type")
    if ews_type == "Boolean":
        return TypedValue(ews_type, bool(value))
    if ews_type in _INTEGERS:
        number = int(text)
        bits = {"Byte": 8, "Integer32": 32, "UnsignedInteger32": 32, "Integer64": 64, "UnsignedInteger64": 64}[ews_type]
        low, high = (
            (0, 2**bits - 1) if ews_type.startswith(("Unsigned", "Byte")) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        )
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range for {ews_type}")
        return TypedValue(ews_type, number)
    return TypedValue(ews_type, text)


def _typed_entries(entries: tuple[DictionaryEntry, ...]) -> tuple[tuple[TypedValue, TypedValue], ...]:
    return tuple((typed(e.key_type, e.key, e.key), typed(e.value_type, e.value, e.value_text)) for e in entries)


def elsewhere(name: str) -> bool:
    """Whether a configuration of this name has its own restore (not this module's)."""
    return any(name.casefold() == other.casefold() for other in ELSEWHERE)


def not_writable(message: SettingsMessage, folder: str | None) -> SettingPlan | None:
    """Why the source's object cannot be written as it was read (a SKIP plan), or None when it can."""
    name = message.configuration_name or ""
    target = ConfigurationTarget(folder or "", name)

    def skip(reason: str) -> SettingPlan:
        return SettingPlan(SettingKind.CONFIGURATION, target, SettingAction.SKIP, reason=reason)

    if folder not in FOLDERS:
        return skip(f"it sits in a folder EWS has no distinguished id for ({'/'.join(message.folder_path)})")
    if message.dictionary is None and message.raw.get(PR_ROAMING_DICTIONARY):
        return skip(f"unreadable: {message.problem}")
    entries = message.dictionary.entries if message.dictionary is not None else ()
    if not entries and not message.xml and not message.binary:
        return skip("the source's object holds no data: nothing to write")
    try:
        _typed_entries(entries)
    except ValueError as exc:
        return skip(f"its dictionary cannot be written as it was read: {exc}")
    return None


def plan_option(message: SettingsMessage, folder: str | None, server: ServerConfiguration | None) -> OptionPlan:
    """The plan for one configuration object `decision` restores, found in the source folder whose role is
    `folder`; `server` is the object of that name the new mailbox holds there (None: it has none)."""
    name = message.configuration_name or ""
    target = ConfigurationTarget(folder or "", name)
    unwritable = not_writable(message, folder)
    if unwritable is not None:
        return OptionPlan(unwritable)
    entries = message.dictionary.entries if message.dictionary is not None else ()
    dictionary = _typed_entries(entries) if entries else None
    kind = SettingKind.CONFIGURATION
    if server is not None:
        same = (
            (server.xml or None) == (message.xml or None)
            and (server.binary or None) == (message.binary or None)
            and (server.values or {}) == {k.value: v.value for k, v in dictionary or ()}
        )
        reason = "already restored" if same else "the new mailbox has its own (its defaults, or the user's since): kept"
        return OptionPlan(SettingPlan(kind, target, SettingAction.KEEP, kept=(name,), reason=reason))
    parts = [p for p, there in (("dictionary", entries), ("xml", message.xml), ("binary", message.binary)) if there]
    plan = SettingPlan(
        kind, target, SettingAction.CREATE, added=(name,), reason=decision(name)[1], details={"parts": parts}
    )
    return OptionPlan(plan, dictionary, message.xml or None, message.binary or None)


def left_plan(message: SettingsMessage, folder: str | None) -> SettingPlan:
    """The report's entry for a configuration object this restore leaves."""
    name = message.configuration_name or ""
    return SettingPlan(
        SettingKind.CONFIGURATION,
        ConfigurationTarget(folder or "", name),
        SettingAction.SKIP,
        reason=decision(name)[1],
    )
