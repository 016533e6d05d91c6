"""EWS's spelling of extended properties: <t:ExtendedFieldURI> to the store's canonical key, and values to XML.

One key per property whatever spelling the request used (hex or decimal tag, distinguished set name or GUID);
the client's own attributes are kept to echo back in answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from pipeline.sandbox.ews.soap import T_NS, attr, esc
from pipeline.sandbox.props import DISTINGUISHED_SETS, PropertyError, normalize


@dataclass(frozen=True, slots=True)
class ExtendedUri:
    key: str
    ptype: str
    attrs: tuple[tuple[str, str], ...]  # as the client spelled it, echoed back in answers

    def to_xml(self) -> str:
        return "<t:ExtendedFieldURI " + " ".join(f"{k}={attr(v)}" for k, v in self.attrs) + "/>"


def _hex(text: str, attribute: str) -> str:
    """A PropertyTag or PropertyId, hex ('0x8005') or decimal, as the key writes it: 0x and four hex digits."""
    value = text.strip()
    try:
        return f"0x{int(value, 16) if value.lower().startswith('0x') else int(value):04x}"
    except ValueError as exc:
        raise PropertyError(f"bad {attribute} {text!r}") from exc


def parse_uri(elem: etree._Element) -> ExtendedUri:
    """Canonical key of an ExtendedFieldURI: 'tag:0x0e07', 'name:<guid>:Name' or 'id:<guid>:0x8005'."""
    get = elem.get
    ptype = get("PropertyType") or ""
    attrs = tuple((k, v) for k, v in elem.attrib.items())
    tag = get("PropertyTag")
    if tag is not None:
        return ExtendedUri(f"tag:{_hex(tag, 'PropertyTag')}", ptype, attrs)
    set_name = get("DistinguishedPropertySetId")
    if set_name is not None:
        guid = DISTINGUISHED_SETS.get(set_name)
        if guid is None:
            raise PropertyError(f"unknown DistinguishedPropertySetId {set_name!r}")
    else:
        guid = (get("PropertySetId") or "").strip().strip("{}").lower()
        if not guid:
            raise PropertyError("ExtendedFieldURI needs PropertyTag, a property set or both")
    name = get("PropertyName")
    if name is not None:
        return ExtendedUri(f"name:{guid}:{name}", ptype, attrs)
    pid = get("PropertyId")
    if pid is not None:
        return ExtendedUri(f"id:{guid}:{_hex(pid, 'PropertyId')}", ptype, attrs)
    raise PropertyError("ExtendedFieldURI with a property set needs PropertyName or PropertyId")


def read_values(prop: etree._Element) -> tuple[ExtendedUri, list[str] | str]:
    """The URI and value(s) of an <t:ExtendedProperty> element of a request."""
    uri_elem = prop.find(f"{{{T_NS}}}ExtendedFieldURI")
    if uri_elem is None:
        raise PropertyError("ExtendedProperty without ExtendedFieldURI")
    uri = parse_uri(uri_elem)
    single = prop.find(f"{{{T_NS}}}Value")
    if single is not None:
        return uri, normalize(uri.ptype, single.text or "")
    values = prop.find(f"{{{T_NS}}}Values")
    if values is None:
        raise PropertyError("ExtendedProperty without Value or Values")
    return uri, [normalize(uri.ptype, v.text or "") for v in values]


def value_xml(value: list[str] | str) -> str:
    if isinstance(value, list):
        return "<t:Values>" + "".join(f"<t:Value>{esc(v)}</t:Value>" for v in value) + "</t:Values>"
    return f"<t:Value>{esc(value)}</t:Value>"
