"""Graph's extended-property ids ('Integer 0x0E07', 'String {guid} Name X', 'Boolean {guid} Id 0x8503')
onto the store's canonical keys (props.py), and the `$filter`s Graph allows on them.

Graph spells one property several ways (hex case, leading zeros, braces); like Exchange, the face
answers one canonical id per property so a property written one way is found another way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.sandbox import props

#: Graph's property type names and the EWS ones the store keeps (MS-OXPROPS names on both sides).
_TYPES = {
    "integer": "Integer",
    "long": "Long",
    "short": "Short",
    "boolean": "Boolean",
    "string": "String",
    "systemtime": "SystemTime",
    "binary": "Binary",
    "double": "Double",
    "float": "Float",
    "currency": "Currency",
    "clsid": "CLSID",
    "applicationtime": "ApplicationTime",
}
_TAG = re.compile(r"^(\w+)\s+0x([0-9a-f]{1,4})$", re.IGNORECASE)
_NAMED = re.compile(r"^(\w+)\s+\{?([0-9a-f-]{36})\}?\s+(name|id)\s+(.+)$", re.IGNORECASE)
_ANY = re.compile(r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(.*)\)$", re.IGNORECASE | re.DOTALL)
_EQ = re.compile(r"(\w+)/(id|value)\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


class BadPropertyId(ValueError):
    """An id Graph would refuse (400 ErrorInvalidProperty)."""


@dataclass(frozen=True, slots=True)
class PropertyId:
    key: str  # the store's key: tag:0x0e07, name:<guid>:<Name>, id:<guid>:0x8005
    ptype: str  # the store's (EWS) type name

    @property
    def graph_id(self) -> str:
        """The canonical Graph spelling answered back."""
        kind, _, rest = self.key.partition(":")
        if kind == "tag":
            return f"{self.ptype} 0x{int(rest, 16):x}"
        guid, _, name = rest.partition(":")
        return f"{self.ptype} {{{guid}}} {'Name' if kind == 'name' else 'Id'} {name}"


def parse_id(text: str, multi: bool = False) -> PropertyId:
    raw = " ".join((text or "").split())
    match = _TAG.match(raw)
    if match:
        ptype = _type(match.group(1), multi)
        return PropertyId(f"tag:0x{int(match.group(2), 16):04x}", ptype)
    match = _NAMED.match(raw)
    if match:
        ptype = _type(match.group(1), multi)
        guid = match.group(2).lower()
        if match.group(3).lower() == "name":
            return PropertyId(f"name:{guid}:{match.group(4)}", ptype)
        try:
            number = int(match.group(4), 0)
        except ValueError as exc:
            raise BadPropertyId(text) from exc
        return PropertyId(f"id:{guid}:0x{number:04x}", ptype)
    raise BadPropertyId(text)


def _type(name: str, multi: bool) -> str:
    base = name.lower()
    if base.endswith("array"):
        base, multi = base[:-5], True
    ptype = _TYPES.get(base)
    if ptype is None:
        raise BadPropertyId(name)
    return ptype + ("Array" if multi else "")


def normalize(prop: PropertyId, value: object) -> str | list[str]:
    """The store's canonical text of a value Graph sent (a string; arrays for multi-value properties)."""
    if isinstance(value, list):
        return [props.normalize(prop.ptype, str(v)) for v in value]
    if isinstance(value, bool):
        value = "true" if value else "false"
    return props.normalize(prop.ptype, str(value))


@dataclass(frozen=True, slots=True)
class ExtFilter:
    """`singleValueExtendedProperties/any(ep: ep/id eq '…' and (ep/value eq '…' or …))`."""

    prop: PropertyId
    values: tuple[str, ...]


def parse_filter(text: str) -> ExtFilter:
    """The one $filter form the face supports on extended properties; ValueError for anything else."""
    match = _ANY.match(text.strip())
    if not match:
        raise ValueError(f"unsupported $filter: {text[:120]}")
    var, body = match.group(1), match.group(2)
    ids: list[str] = []
    values: list[str] = []
    for name, what, literal in _EQ.findall(body):
        if name != var:
            raise ValueError(f"unknown range variable {name!r}")
        (ids if what.lower() == "id" else values).append(literal.replace("''", "'"))
    remainder = _EQ.sub("", body)
    if re.sub(r"\b(and|or)\b|[()\s]", "", remainder, flags=re.IGNORECASE):
        raise ValueError(f"unsupported $filter: {text[:120]}")
    if len(ids) != 1 or not values:
        raise ValueError("$filter must name one property id and at least one value")
    prop = parse_id(ids[0])
    return ExtFilter(prop, tuple(props.normalize(prop.ptype, v) for v in values))
