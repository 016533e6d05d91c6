"""Exchange Management Shell scripts we write for what no API can do (X500 proxies, junk e-mail lists):
PowerShell's single quoting, a list of quoted values, and the opening and closing every such script shares.
Pure: the caller writes the text where it wants it (as UTF-8 with a BOM for Windows PowerShell 5.1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def quote(text: str) -> str:
    """One PowerShell single-quoted string (a quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def quoted_list(values: Iterable[str]) -> str:
    return ",".join(quote(v) for v in values)


def opening(writer: str, shell: str, comments: Iterable[str], when: datetime | None = None) -> list[str]:
    """The first lines of a script: who wrote it and when, where to run it, what it does, stop on any error."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"# Written by {writer} on {stamp}. Run in the {shell}.",
        *(f"# {line}" for line in comments),
        "$ErrorActionPreference = 'Stop'",
    ]


def script(lines: list[str]) -> str:
    """The lines as Windows keeps a script (CRLF, a last line end)."""
    return "\r\n".join(lines) + "\r\n"
