"""What one folder-associated message holds for the user's environment: `SettingsMessage`, its kind, the
typed record read from it, and the original bytes of every stream it was read from."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pipeline.convert.user_settings.autocomplete import AutocompleteList
from pipeline.convert.user_settings.binary import SettingsFormatError
from pipeline.convert.user_settings.configuration import CategoryList, RoamingDictionary, WorkHours
from pipeline.convert.user_settings.rules import ExtendedRule, JunkEmailRule, RulesStream
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition
from pipeline.convert.user_settings.shortcuts import NavigationShortcut

Record = (
    CategoryList
    | WorkHours
    | RoamingDictionary
    | AutocompleteList
    | SearchFolderDefinition
    | ExtendedRule
    | JunkEmailRule
    | RulesStream
    | NavigationShortcut
)


class SettingKind(enum.StrEnum):
    CATEGORY_LIST = "category_list"
    WORK_HOURS = "work_hours"
    AUTOCOMPLETE = "autocomplete"
    CONFIGURATION = "configuration"  # any other IPM.Configuration.* object (roaming dictionary, XML, binary)
    SEARCH_FOLDER = "search_folder"
    JUNK_RULE = "junk_rule"
    EXTENDED_RULE = "extended_rule"
    RULES_STREAM = "rules_stream"
    SHORTCUT = "shortcut"
    OTHER = "other"  # views, migration status, message manager...: listed, not interpreted


@dataclass(frozen=True, slots=True)
class SettingsMessage:
    """One associated message read as a setting.

    `configuration_name` is the part after "IPM.Configuration." (the EWS UserConfiguration name); the three
    streams of a configuration object are kept whatever the kind (`dictionary`, `xml`, `binary`), so an
    object the restore does not interpret can still travel byte for byte. `problem` is set, and `record`
    None, when a stream does not follow its format: the message is kept and reported, never dropped."""

    folder_path: tuple[str, ...]
    node_id: int
    message_class: str
    subject: str
    kind: SettingKind
    record: Record | None
    configuration_name: str | None = None
    dictionary: RoamingDictionary | None = None
    xml: bytes | None = None
    binary: bytes | None = None
    raw: dict[int, bytes] = field(default_factory=dict)  # every binary property read, by property id
    problem: SettingsFormatError | None = None
