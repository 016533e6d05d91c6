"""Configuration objects of [MS-OXOCFG]: the category list and work hours XML (PidTagRoamingXmlStream,
0x7C08) and the roaming dictionary (PidTagRoamingDictionary, 0x7C07), parsed into plain records.

The parsers take the stream's bytes and give back a record that keeps them (`raw`), so a restore can send
the original where the server takes it and the typed values where it does not.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from pipeline.convert.user_settings.binary import SettingsFormatError

#: Outlook's colour presets: CategoryList `color` -1 (none) and 0..24, named as EWS/Graph name them (preset0..24).
NO_COLOR = -1
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


@dataclass(frozen=True, slots=True)
class Category:
    """One entry of the master category list."""

    name: str
    color: int  # -1 none, 0..24 Outlook's presets (Graph: "preset<n>", "none")
    keyboard_shortcut: int  # 0 none, 1..11 for Ctrl+F2..F12
    guid: str | None
    last_time_used: str | None  # as written (xs:dateTime), kept as text: a restore sends it back unchanged
    rename_on_first_use: bool = False
    attributes: dict[str, str] = field(default_factory=dict)  # every attribute, as written

    @property
    def graph_color(self) -> str:
        return "none" if self.color < 0 or self.color > 24 else f"preset{self.color}"


@dataclass(frozen=True, slots=True)
class CategoryList:
    """IPM.Configuration.CategoryList: the master category list."""

    categories: tuple[Category, ...]
    default_category: str | None
    last_saved_time: str | None
    raw: bytes


@dataclass(frozen=True, slots=True)
class WorkHours:
    """IPM.Configuration.WorkHours (WorkingHours.xsd): the time zone with its rules, the day's slot, the days."""

    time_zone_name: str | None
    bias_minutes: int | None  # UTC = local + bias
    standard_bias: int | None
    daylight_bias: int | None
    start: str | None  # "08:00:00"
    end: str | None
    work_days: tuple[str, ...]  # English day names, Sunday first order kept as written
    raw: bytes


@dataclass(frozen=True, slots=True)
class DictionaryEntry:
    """An `<e k="T-key" v="T-value"/>` entry: the type codes kept with the text, the value decoded where the
    type is one the spec names (3 Boolean, 9 Integer32, 18 String)."""

    key: str
    key_type: int
    value: Any
    value_type: int
    value_text: str


@dataclass(frozen=True, slots=True)
class RoamingDictionary:
    """A roaming dictionary (0x7C07): Outlook's per-folder options (Calendar, AvailabilityOptions, ...)."""

    version: str | None
    entries: tuple[DictionaryEntry, ...]
    raw: bytes

    def as_dict(self) -> dict[str, Any]:
        return {entry.key: entry.value for entry in self.entries}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xml(raw: bytes, what: str) -> ET.Element:
    if not raw.strip():
        raise SettingsFormatError(what, 0, "empty XML stream")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise SettingsFormatError(what, exc.position[1] if exc.position else 0, f"not XML ({exc})") from None


def _int(text: str | None, default: int | None = None) -> int | None:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def parse_category_list(raw: bytes) -> CategoryList:
    root = _xml(raw, "CategoryList XML")
    if _local(root.tag) != "categories":
        raise SettingsFormatError("CategoryList XML", 0, f"root element <{_local(root.tag)}>, not <categories>")
    categories = []
    for element in root:
        if _local(element.tag) != "category":
            continue
        attributes = dict(element.attrib)
        name = attributes.get("name")
        if not name:
            raise SettingsFormatError("CategoryList XML", 0, "a <category> without a name")
        categories.append(
            Category(
                name=name,
                color=_int(attributes.get("color"), NO_COLOR) or 0,
                keyboard_shortcut=_int(attributes.get("keyboardShortcut"), 0) or 0,
                guid=attributes.get("guid"),
                last_time_used=attributes.get("lastTimeUsed"),
                rename_on_first_use=attributes.get("renameOnFirstUse") == "1",
                attributes=attributes,
            )
        )
    return CategoryList(
        categories=tuple(categories),
        default_category=root.get("default"),
        last_saved_time=root.get("lastSavedTime"),
        raw=raw,
    )


def parse_work_hours(raw: bytes) -> WorkHours:
    root = _xml(raw, "WorkHours XML")
    hours = next((e for e in root.iter() if _local(e.tag) == "WorkHoursVersion1"), None)
    if hours is None:
        raise SettingsFormatError("WorkHours XML", 0, "no <WorkHoursVersion1>")

    def find(*path: str) -> ET.Element | None:
        node: ET.Element | None = hours
        for step in path:
            node = next((c for c in node if _local(c.tag) == step), None) if node is not None else None
        return node

    def text(*path: str) -> str | None:
        node = find(*path)
        return node.text.strip() if node is not None and node.text else None

    days = tuple((text("WorkDays") or "").split())
    unknown = [d for d in days if d not in DAY_NAMES]
    if unknown:
        raise SettingsFormatError("WorkHours XML", 0, f"unknown work day {unknown[0]!r}")
    return WorkHours(
        time_zone_name=text("TimeZone", "Name"),
        bias_minutes=_int(text("TimeZone", "Bias")),
        standard_bias=_int(text("TimeZone", "Standard", "Bias")),
        daylight_bias=_int(text("TimeZone", "DaylightSavings", "Bias")),
        start=text("TimeSlot", "Start"),
        end=text("TimeSlot", "End"),
        work_days=days,
        raw=raw,
    )


def _typed(text: str, what: str) -> tuple[int, Any, str]:
    code, sep, value = text.partition("-")
    if not sep or not code.isdigit():
        raise SettingsFormatError(what, 0, f"entry {text[:40]!r} has no type prefix")
    kind = int(code)
    if kind == 3:
        return kind, value == "True", value
    if kind == 9:
        number = _int(value)
        return kind, number if number is not None else value, value
    return kind, value, value


def parse_roaming_dictionary(raw: bytes) -> RoamingDictionary:
    root = _xml(raw, "roaming dictionary")
    if _local(root.tag) != "UserConfiguration":
        raise SettingsFormatError("roaming dictionary", 0, f"root element <{_local(root.tag)}>")
    info = next((e for e in root if _local(e.tag) == "Info"), None)
    data = next((e for e in root if _local(e.tag) == "Data"), None)
    entries = []
    for element in data if data is not None else ():
        if _local(element.tag) != "e":
            continue
        key_type, key, _ = _typed(element.get("k", ""), "roaming dictionary")
        value_type, value, value_text = _typed(element.get("v", ""), "roaming dictionary")
        entries.append(
            DictionaryEntry(key=str(key), key_type=key_type, value=value, value_type=value_type, value_text=value_text)
        )
    return RoamingDictionary(version=info.get("version") if info is not None else None, entries=tuple(entries), raw=raw)
