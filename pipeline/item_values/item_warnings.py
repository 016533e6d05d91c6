"""What could not be carried of an item, typed: a kind, the heading the report counts it under, and the
particulars. Made where the loss is known (conversion, a destination, the run), counted by the run under
its heading: nobody parses a warning's words back.

Conversion's own warnings are still sentences written where they arise (`said` takes each once, its
heading being its first clause); the destinations' and the run's are made by the functions below.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class WarningKind(enum.StrEnum):
    CONVERSION = "conversion"  # a property or part conversion could not carry as it was
    CANNOT_CARRY = "cannot_carry"  # the destination has no place for a field or a kind
    TEXT_CUT = "text_cut"  # a text longer than the destination takes, cut
    FALLBACK = "fallback"  # the server took the item only in a simpler form
    SERIES_PENDING = "series_pending"  # a series' exceptions left for the rerun
    OCCURRENCE = "occurrence"  # one occurrence of a series the server could not take as it was
    LEFT_OUT = "left_out"  # large attachments left out, saved in the reports


@dataclass(frozen=True, slots=True)
class ItemWarning:
    kind: WarningKind
    heading: str  # the same words for the same cause: what the report counts
    detail: str = ""  # the particulars (names, sizes, dates, the server's words)
    sentence: str | None = None  # conversion's own words, when they are not "heading: detail"

    def __str__(self) -> str:
        if self.sentence is not None:
            return self.sentence
        return f"{self.heading}: {self.detail}" if self.detail else self.heading


#: Headings longer than this are cut (a conversion sentence without a colon is its own heading).
HEADING_MAX = 80


def said(text: str) -> ItemWarning:
    """A conversion warning written as a sentence: headed by its words before the first colon."""
    head, _, rest = text.partition(":")
    warning = ItemWarning(WarningKind.CONVERSION, head[:HEADING_MAX], rest.strip())
    return (
        warning if str(warning) == text else ItemWarning(WarningKind.CONVERSION, head[:HEADING_MAX], rest.strip(), text)
    )


def fields_refused(kind: str, names: list[str], destination: str = "EWS") -> ItemWarning:
    return ItemWarning(WarningKind.CANNOT_CARRY, f"fields {destination} cannot take for a {kind}", ", ".join(names))


def text_cut(name: str, limit: int, kind: str, length: int) -> ItemWarning:
    return ItemWarning(
        WarningKind.TEXT_CUT, f"{name} cut to {limit} characters, the most EWS takes for a {kind}", f"it had {length}"
    )


def cannot_carry(heading: str, detail: str = "") -> ItemWarning:
    return ItemWarning(WarningKind.CANNOT_CARRY, heading, detail)


def fallback(heading: str, detail: str = "") -> ItemWarning:
    return ItemWarning(WarningKind.FALLBACK, heading, detail)


def series_pending(error: BaseException) -> ItemWarning:
    return ItemWarning(
        WarningKind.SERIES_PENDING,
        "series exceptions pending",
        f"{type(error).__name__}: {' '.join(str(error).split())[:200]}",
    )


def occurrence(what: str, original: dt.datetime, problem: str, why: str = "") -> ItemWarning:
    """what: 'deleted' or 'modified'; problem: what the server made of it; why: its reason, if any."""
    return ItemWarning(
        WarningKind.OCCURRENCE,
        f"{what} occurrence {problem}",
        f"{original:%Y-%m-%d}, {why}" if why else f"{original:%Y-%m-%d}",
    )


def left_out(saved: int) -> ItemWarning:
    return ItemWarning(WarningKind.LEFT_OUT, "large attachments left out", f"{saved} saved in reports")
