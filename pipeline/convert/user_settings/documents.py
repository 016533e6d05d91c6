"""The user's settings as plain JSON-ready values: one line for `inspect`, a document for `export` (with the
original streams beside it). Pure functions of a SettingsMessage; bytes become hex, times ISO 8601."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.autocomplete import AutocompleteList
from pipeline.convert.user_settings.configuration import CategoryList, WorkHours
from pipeline.convert.user_settings.inbox_rules import interpret
from pipeline.convert.user_settings.records import SettingsMessage
from pipeline.convert.user_settings.restrictions import Restriction
from pipeline.convert.user_settings.rules import ExtendedRule, JunkEmailRule, RulesStream
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition
from pipeline.convert.user_settings.shortcuts import NavigationShortcut
from pipeline.model import SourceItem

#: File extension of each stream written beside a setting's JSON, by property id.
STREAM_NAMES = {
    0x7C07: "dictionary.xml",
    0x7C08: "xml",
    0x7C09: "bin",
    0x6845: "definition.bin",
    0x0E99: "actions.bin",
    0x0E9A: "condition.bin",
    0x6802: "rules-stream.bin",
}
_DAYS = {
    "Sunday": "Sun",
    "Monday": "Mon",
    "Tuesday": "Tue",
    "Wednesday": "Wed",
    "Thursday": "Thu",
    "Friday": "Fri",
    "Saturday": "Sat",
}


def plain(value: Any) -> Any:
    """A record (or any value in one) as JSON-ready data; `raw` bytes are left out (they go to their own file)."""
    if isinstance(value, Restriction):
        node: dict[str, Any] = {"kind": value.kind}
        for name in ("tag", "tag2", "op"):
            if getattr(value, name) is not None:
                node[name] = f"0x{getattr(value, name):08X}" if name != "op" else getattr(value, name)
        if value.value is not None:
            node["value"] = plain(value.value)
        if value.children:
            node["children"] = [plain(c) for c in value.children]
        return node
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in ("raw", "raw_condition", "raw_actions")
        }
        derived = {
            name: plain(getattr(value, name))
            for name, member in vars(type(value)).items()
            if isinstance(member, property) and not name.startswith("_")
        }
        return fields | derived
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {(f"0x{k:08X}" if isinstance(k, int) else str(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def summary(message: SettingsMessage) -> str:
    """What `inspect` shows of one setting, in a few words (never a message body or an address list)."""
    record = message.record
    if message.problem is not None:
        return f"unreadable: {message.problem}"
    if isinstance(record, CategoryList):
        return f"{len(record.categories)} categories"
    if isinstance(record, WorkHours):
        days = " ".join(_DAYS.get(d, d) for d in record.work_days)
        return f"{record.start}-{record.end} {days}, {record.time_zone_name or f'bias {record.bias_minutes}'}"
    if isinstance(record, AutocompleteList):
        x500 = sum(1 for e in record.entries if e.legacy_dn)
        return f"{len(record.entries)} entries ({x500} X500)"
    if isinstance(record, SearchFolderDefinition):
        return f"search folder {record.name!r} over {len(record.folder_entry_ids)} folder(s)"
    if isinstance(record, JunkEmailRule):
        return (
            f"{len(record.safe_senders)} safe senders, {len(record.safe_recipients)} safe recipients, "
            f"{len(record.blocked_senders)} blocked"
        )
    if isinstance(record, ExtendedRule):
        inbox = interpret(record)
        restore = (
            "an inbox rule"
            if inbox.restorable and not inbox.unexpressed_actions
            else "an inbox rule without: " + "; ".join(inbox.unexpressed_actions)
            if inbox.restorable
            else "not an inbox rule: " + "; ".join(inbox.unexpressed_conditions or ("no action one can do",))
        )
        return f"rule {record.name!r} ({'on' if record.enabled else 'off'}, {len(record.actions)} actions; {restore})"
    if isinstance(record, RulesStream):
        return f"{record.size} bytes, {len(record.rules)} rules" + (
            f" (unreadable after: {record.problem})" if record.problem else ""
        )
    if isinstance(record, NavigationShortcut):
        return f"{record.kind} {record.name!r}"
    if message.dictionary is not None:
        return f"{message.configuration_name}: {len(message.dictionary.entries)} options"
    return message.subject or message.message_class


def document(message: SettingsMessage) -> dict[str, Any]:
    """The JSON written for one setting by `export`."""
    return {
        "folder": "/".join(message.folder_path),
        "node_id": message.node_id,
        "message_class": message.message_class,
        "kind": message.kind.value,
        "name": message.subject,
        "configuration_name": message.configuration_name,
        "problem": None if message.problem is None else str(message.problem),
        "record": plain(message.record),
        "inbox_rule": plain(interpret(message.record)) if isinstance(message.record, ExtendedRule) else None,
        "dictionary": plain(message.dictionary),
        "streams": {f"0x{prop_id:04X}": len(data) for prop_id, data in message.raw.items()},
    }


def listed(message: SettingsMessage) -> dict[str, Any]:
    """One setting as `inspect --json` lists it under its folder."""
    return {
        "class": message.message_class,
        "kind": message.kind.value,
        "name": message.subject,
        "summary": summary(message),
        "problem": None if message.problem is None else str(message.problem),
    }


def _file_stem(number: int, message: SettingsMessage) -> str:
    name = message.configuration_name or message.subject or message.message_class
    safe = "".join(c if c.isalnum() or c in " .-_" else "_" for c in name).strip(" .")[:60] or "setting"
    return f"{number:03d} {message.kind.value} {safe}"


def export_files(messages: list[SettingsMessage]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of export's _settings/ folder: per setting its JSON document and each original
    stream beside it (same stem, STREAM_NAMES' extension), and settings.json listing them all."""
    files: list[tuple[str, bytes]] = []
    index = []
    for number, message in enumerate(messages, start=1):
        stem = _file_stem(number, message)
        entry = {
            **document(message),
            "file": f"{stem}.json",
            "stream_files": {
                f"0x{prop_id:04X}": f"{stem}.{STREAM_NAMES.get(prop_id, f'{prop_id:04x}.bin')}"
                for prop_id in message.raw
            },
        }
        files.append((entry["file"], json.dumps(entry, indent=2, ensure_ascii=False).encode("utf-8")))
        for prop_id, data in message.raw.items():
            files.append((entry["stream_files"][f"0x{prop_id:04X}"], data))
        index.append(
            {key: entry[key] for key in ("file", "folder", "message_class", "kind", "name", "problem")}
            | {"summary": summary(message)}
        )
    files.append(("settings.json", json.dumps(index, indent=2, ensure_ascii=False).encode("utf-8")))
    return files


def settings_of(source: Any, folder: Any, failed: Callable[[Any], None]) -> list[dict[str, Any]]:
    """The settings of one folder as inspect lists them; an associated message the reader cannot read is
    handed to `failed` (a SourceError), a stream that does not parse is listed with its problem."""
    found = []
    for entry in source.associated(folder):
        if isinstance(entry, SourceItem):
            found.append(listed(read_setting(entry)))
        else:
            failed(entry)
    return found


__all__ = ["STREAM_NAMES", "document", "export_files", "listed", "plain", "settings_of", "summary"]
