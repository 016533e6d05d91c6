"""The store's name-to-id map: which property-set GUID and LID or name each id >= 0x8000 stands for.

Parsed from the map's own streams (MS-PST 2.4.7), because the pypff binding exposes none of it.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

from pipeline import mapi

_GUID_STREAM = 0x0002
_ENTRY_STREAM = 0x0003
_STRING_STREAM = 0x0004


@dataclass(slots=True)
class NameMap:
    """prop id (0x8000..0xFFFE) -> (guid lower-case, LID int or string name)."""

    names: dict[int, tuple[str, int | str]] = field(default_factory=dict)

    def resolve(self, prop_id: int) -> tuple[str, int | str] | None:
        return self.names.get(prop_id)


def parse_name_map(streams: dict[int, bytes]) -> NameMap:
    """Build the map from the three streams (GUIDs, entries, strings) keyed by their property id."""
    guids_raw = streams.get(_GUID_STREAM) or b""
    entries = streams.get(_ENTRY_STREAM) or b""
    strings = streams.get(_STRING_STREAM) or b""
    guids = [str(uuid.UUID(bytes_le=guids_raw[i : i + 16])) for i in range(0, len(guids_raw) - 15, 16)]
    result = NameMap()
    for off in range(0, len(entries) - 7, 8):
        prop_or_offset, guid_word, prop_index = struct.unpack_from("<IHH", entries, off)
        is_string = guid_word & 1
        guid_index = guid_word >> 1
        if guid_index == 1:
            guid = mapi.PS_MAPI
        elif guid_index == 2:
            guid = mapi.PS_PUBLIC_STRINGS
        elif 3 <= guid_index < 3 + len(guids):
            guid = guids[guid_index - 3]
        else:
            continue
        name: int | str
        if is_string:
            if prop_or_offset + 4 > len(strings):
                continue
            (length,) = struct.unpack_from("<I", strings, prop_or_offset)
            raw = strings[prop_or_offset + 4 : prop_or_offset + 4 + length]
            name = raw.decode("utf-16-le", errors="replace")
        else:
            name = prop_or_offset
        result.names[0x8000 + prop_index] = (guid, name)
    return result
