"""What reaches the terminal: text from an OST (folder names, subjects, file names) with its control characters
shown as escapes, so that an ESC or BEL in a subject can neither retitle the window nor clear the screen.

Logs keep the raw value (JSON-escaped by the JSON renderer); only what a person reads goes through `shown`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import MutableMapping
from typing import Any

#: Format characters that reorder or hide text on a terminal (bidi overrides and isolates, line separators).
_INVISIBLE = frozenset([0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0xFEFF])

#: Unicode categories shown as escapes: controls (C0, DEL, C1), lone surrogates, line/paragraph separators.
_ESCAPED = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: Any) -> str:
    """text as one safe line: C0/C1 controls, DEL and invisible reordering marks become `\\x1b`-style escapes."""
    value = str(text)
    if value.isprintable() and not any(ord(c) in _INVISIBLE for c in value):
        return value
    return "".join(_escape(c) if ord(c) in _INVISIBLE or unicodedata.category(c) in _ESCAPED else c for c in value)


def shown_values(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor for the console only: every string value passes through `shown`."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = shown(value)
    return event


def json_for_terminal(text: str) -> str:
    """JSON written with ensure_ascii=False, made safe for a terminal: the characters `shown` escapes and
    that JSON leaves raw (DEL, C1 controls, reordering marks, separators) become \\uXXXX escapes."""
    return "".join(
        f"\\u{ord(c):04x}" if c != "\n" and (ord(c) in _INVISIBLE or unicodedata.category(c) in _ESCAPED) else c
        for c in text
    )  # raw newlines are the layout's: JSON escapes those in strings
