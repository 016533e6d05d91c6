"""The user's environment as the store keeps it in folder-associated (FAI) messages: categories, work
hours, calendar options, the autocomplete list, search folder definitions, rules and navigation
shortcuts, read into plain records by pure functions ([MS-OXOCFG], [MS-OXOSRCH], [MS-OXORULE],
[MS-OXCSPAM]). Not to be confused with pipeline/settings.py, the application's own settings.

`read_setting(item)` takes one associated SourceItem and returns a `SettingsMessage`; a stream that does
not follow its format is reported in it (`problem`), never raised.
"""

from __future__ import annotations

from pipeline.convert.user_settings.autocomplete import parse_autocomplete
from pipeline.convert.user_settings.binary import SettingsFormatError
from pipeline.convert.user_settings.configuration import (
    parse_category_list,
    parse_roaming_dictionary,
    parse_work_hours,
)
from pipeline.convert.user_settings.records import Record, SettingKind, SettingsMessage
from pipeline.convert.user_settings.rules import (
    JUNK_PROVIDER,
    PR_EXTENDED_RULE_MSG_ACTIONS,
    PR_EXTENDED_RULE_MSG_CONDITION,
    PR_RULE_MSG_NAME,
    PR_RULE_MSG_PROVIDER,
    PR_RW_RULES_STREAM,
    read_extended_rule,
    read_junk_rule,
    read_rules_stream,
)
from pipeline.convert.user_settings.search_folders import parse_search_folder_definition
from pipeline.convert.user_settings.shortcuts import read_shortcut
from pipeline.model import SourceItem

__all__ = ["SettingKind", "SettingsFormatError", "SettingsMessage", "read_setting"]

PR_ROAMING_DICTIONARY = 0x7C07
PR_ROAMING_XMLSTREAM = 0x7C08
PR_ROAMING_BINARYSTREAM = 0x7C09
PR_SEARCH_FOLDER_ID = 0x6842
PR_SEARCH_FOLDER_DEFINITION = 0x6845
PR_SEARCH_FOLDER_STORAGE_TYPE = 0x6846
PR_SEARCH_FOLDER_TEMPLATE_ID = 0x6841
PR_DISPLAY_NAME = 0x3001
CONFIGURATION_PREFIX = "IPM.Configuration."
_STREAMS = (
    PR_ROAMING_DICTIONARY,
    PR_ROAMING_XMLSTREAM,
    PR_ROAMING_BINARYSTREAM,
    PR_SEARCH_FOLDER_DEFINITION,
    PR_EXTENDED_RULE_MSG_ACTIONS,
    PR_EXTENDED_RULE_MSG_CONDITION,
    PR_RW_RULES_STREAM,
)


def _is(message_class: str, name: str) -> bool:
    return message_class.casefold() == name.casefold()


def kind_of(item: SourceItem) -> SettingKind:
    """What kind of setting an associated message holds, from its class (and the rule provider)."""
    cls = item.message_class
    if _is(cls, "IPM.Configuration.CategoryList"):
        return SettingKind.CATEGORY_LIST
    if _is(cls, "IPM.Configuration.WorkHours"):
        return SettingKind.WORK_HOURS
    if _is(cls, "IPM.Configuration.Autocomplete"):
        return SettingKind.AUTOCOMPLETE
    if cls.casefold().startswith(CONFIGURATION_PREFIX.casefold()):
        return SettingKind.CONFIGURATION
    if _is(cls, "IPM.Microsoft.WunderBar.SFInfo"):
        return SettingKind.SEARCH_FOLDER
    if _is(cls, "IPM.Microsoft.WunderBar.Link"):
        return SettingKind.SHORTCUT
    if _is(cls, "IPM.ExtendedRule.Message"):
        junk = item.properties.get(PR_RULE_MSG_PROVIDER) == JUNK_PROVIDER
        return SettingKind.JUNK_RULE if junk else SettingKind.EXTENDED_RULE
    if _is(cls, "IPM.RuleOrganizer"):
        return SettingKind.RULES_STREAM
    return SettingKind.OTHER


def _bytes(item: SourceItem, prop_id: int) -> bytes | None:
    value = item.properties.get(prop_id)
    return value if isinstance(value, bytes) else None


def _int(item: SourceItem, prop_id: int) -> int | None:
    value = item.properties.get(prop_id)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _name(item: SourceItem) -> str:
    for prop_id in (PR_DISPLAY_NAME, PR_RULE_MSG_NAME, 0x0037):
        value = item.properties.get(prop_id)
        if isinstance(value, str) and value:
            return value
    return ""


def _record(item: SourceItem, kind: SettingKind) -> Record | None:
    xml, binary = _bytes(item, PR_ROAMING_XMLSTREAM), _bytes(item, PR_ROAMING_BINARYSTREAM)
    if kind is SettingKind.CATEGORY_LIST:
        return parse_category_list(xml or b"")
    if kind is SettingKind.WORK_HOURS:
        return parse_work_hours(xml or b"")
    if kind is SettingKind.AUTOCOMPLETE:
        return parse_autocomplete(binary or b"")
    if kind is SettingKind.SEARCH_FOLDER:
        return parse_search_folder_definition(
            _bytes(item, PR_SEARCH_FOLDER_DEFINITION) or b"",
            _name(item),
            _int(item, PR_SEARCH_FOLDER_TEMPLATE_ID),
            _bytes(item, PR_SEARCH_FOLDER_ID),
            _int(item, PR_SEARCH_FOLDER_STORAGE_TYPE),
        )
    if kind is SettingKind.SHORTCUT:
        return read_shortcut(item.properties, _name(item))
    if kind is SettingKind.JUNK_RULE:
        return read_junk_rule(item.properties)
    if kind is SettingKind.EXTENDED_RULE:
        return read_extended_rule(item.properties)
    if kind is SettingKind.RULES_STREAM:
        return read_rules_stream(_bytes(item, PR_RW_RULES_STREAM) or b"")
    return None


def read_setting(item: SourceItem) -> SettingsMessage:
    """One associated message as a setting: its kind, its typed record, its configuration streams and the
    bytes they came from. A malformed stream leaves `record` None and says why in `problem`."""
    kind = kind_of(item)
    cls = item.message_class
    configuration_name = (
        cls[len(CONFIGURATION_PREFIX) :] if cls.casefold().startswith(CONFIGURATION_PREFIX.casefold()) else None
    )
    problem: SettingsFormatError | None = None
    record: Record | None = None
    dictionary = None
    try:
        record = _record(item, kind)
    except SettingsFormatError as exc:
        problem = exc
    raw_dictionary = _bytes(item, PR_ROAMING_DICTIONARY)
    if raw_dictionary:
        try:
            dictionary = parse_roaming_dictionary(raw_dictionary)
        except SettingsFormatError as exc:
            problem = problem or exc
    return SettingsMessage(
        folder_path=item.folder_path,
        node_id=item.node_id,
        message_class=cls,
        subject=_name(item),
        kind=kind,
        record=record,
        configuration_name=configuration_name,
        dictionary=dictionary,
        xml=_bytes(item, PR_ROAMING_XMLSTREAM),
        binary=_bytes(item, PR_ROAMING_BINARYSTREAM),
        raw={prop_id: value for prop_id in _STREAMS if (value := _bytes(item, prop_id)) is not None},
        problem=problem,
    )
