"""Extended (MAPI) properties as the store keeps them: canonical keys, property types, normalised values.

A key is 'tag:0x0e07', 'name:<guid>:Name' or 'id:<guid>:0x8005' whatever spelling the request used (hex or
decimal tag, distinguished set name or GUID), so a property written through one face, one way, can be found
and filtered through the other, as on Exchange. How EWS spells them in XML is `ews/extended.py`.
"""

from __future__ import annotations

import base64
import datetime as dt

#: DistinguishedPropertySetId names and the property-set GUIDs they stand for (MS-OXPROPS).
DISTINGUISHED_SETS = {
    "Meeting": "6ed8da90-450b-101b-98da-00aa003f1305",
    "Appointment": "00062002-0000-0000-c000-000000000046",
    "Common": "00062008-0000-0000-c000-000000000046",
    "PublicStrings": "00020329-0000-0000-c000-000000000046",
    "Address": "00062004-0000-0000-c000-000000000046",
    "InternetHeaders": "00020386-0000-0000-c000-000000000046",
    "CalendarAssistant": "11000e07-b51b-40d6-af21-caa85edab1d0",
    "UnifiedMessaging": "4442858e-a9e3-4e80-b900-317a210cc15b",
    "Task": "00062003-0000-0000-c000-000000000046",
    "Sharing": "00062040-0000-0000-c000-000000000046",
}

INTEGER_TYPES = {"Integer", "Long", "Short"}
NUMERIC_TYPES = INTEGER_TYPES | {"Double", "Float", "Currency", "ApplicationTime"}

# Tags the store derives typed columns from (PR_MESSAGE_FLAGS and friends).
TAG_MESSAGE_FLAGS = "tag:0x0e07"
TAG_DELIVERY_TIME = "tag:0x0e06"
TAG_SUBMIT_TIME = "tag:0x0039"
TAG_MESSAGE_CLASS = "tag:0x001a"
TAG_SUBJECT = "tag:0x0037"
MSGFLAG_READ = 0x1
MSGFLAG_UNSENT = 0x8


class PropertyError(ValueError):
    """An ExtendedFieldURI or value that Exchange would reject (ErrorInvalidExtendedProperty...)."""


def normalize(ptype: str, text: str) -> str:
    """Canonical text of one value, so equality in restrictions is equality of strings."""
    base = ptype[:-5] if ptype.endswith("Array") else ptype
    text = text or ""
    if base in INTEGER_TYPES:
        try:
            return str(int(text.strip()))
        except ValueError as exc:
            raise PropertyError(f"{text!r} is not a valid {ptype}") from exc
    if base == "Boolean":
        low = text.strip().lower()
        if low in ("true", "1"):
            return "true"
        if low in ("false", "0"):
            return "false"
        raise PropertyError(f"{text!r} is not a valid Boolean")
    if base in ("Double", "Float", "Currency", "ApplicationTime"):
        try:
            return repr(float(text))
        except ValueError as exc:
            raise PropertyError(f"{text!r} is not a valid {ptype}") from exc
    if base == "SystemTime":
        return normalize_datetime(text)
    if base == "CLSID":
        return text.strip().strip("{}").lower()
    return text


def normalize_datetime(text: str) -> str:
    """UTC 'YYYY-MM-DDTHH:MM:SSZ' so that text order is time order."""
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PropertyError(f"{text!r} is not a valid SystemTime") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def numeric(ptype: str, value: str) -> float | None:
    base = ptype[:-5] if ptype.endswith("Array") else ptype
    if base in NUMERIC_TYPES:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def python_value(ptype: str, value: list[str] | str) -> object:
    """Readable value for tests and `sandbox ls`: ints, bools and floats typed; everything else as sent."""
    if isinstance(value, list):
        return [python_value(ptype[:-5] if ptype.endswith("Array") else ptype, v) for v in value]
    if ptype in INTEGER_TYPES:
        return int(value)
    if ptype == "Boolean":
        return value == "true"
    if ptype in ("Double", "Float"):
        return float(value)
    if ptype == "Binary":
        try:
            return base64.b64decode(value)
        except ValueError:
            return value
    return value
