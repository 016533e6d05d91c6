"""The user's category list and work hours as Microsoft Graph v1.0 takes them: pure functions from the
records of convert/user_settings to `outlookCategory` and `mailboxSettings` bodies, and the decisions a
restore makes against what the new mailbox already has.

How a rerun, or the user's own change on the new server, is respected (the EWS restore's rules, in
convert/user_settings/merge.py, as far as Graph lets us see them):
- categories merge by name, compared case-insensitively as Outlook does: one the server has keeps its colour;
  only the missing ones are added (POST, one per category). A rerun finds them all and writes nothing.
- work hours: Graph always answers some `workingHours` (Exchange's default for a new mailbox, Monday to
  Friday 08:00-17:00). They are written when the server holds that default and it differs from the source's;
  when the server's equal the source's they are "already restored"; anything else is the user's own and is
  kept. The mailbox's `timeZone` travels with them (the WorkHours object's time zone), in the same PATCH.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.convert.user_settings.configuration import CategoryList, RoamingDictionary, WorkHours
from pipeline.convert.user_settings.options import DECISIONS

#: Exchange's work hours of a new mailbox (what Outlook on the web shows before the user changes them).
DEFAULT_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
DEFAULT_START, DEFAULT_END = "08:00:00", "17:00:00"
#: Configuration objects the EWS restore writes (options.py) that Graph v1.0 has no resource for.
NOT_IN_GRAPH = tuple(name for name, (restored, _) in DECISIONS.items() if restored)


@dataclass(frozen=True, slots=True)
class CategoryPlan:
    add: tuple[dict[str, str], ...]  # outlookCategory bodies to POST
    kept: tuple[str, ...]  # the source's categories the server already has (its colours kept)
    left: tuple[str, ...]  # what Graph cannot carry (shortcut keys)
    server_had: int


def category_body(name: str, color: int) -> dict[str, str]:
    return {"displayName": name, "color": "none" if color < 0 or color > 24 else f"preset{color}"}


def plan_categories(source: CategoryList, server: list[dict[str, Any]]) -> CategoryPlan:
    have = {str(c.get("displayName") or "").casefold() for c in server}
    add, kept = [], []
    for category in source.categories:
        if category.name.casefold() in have:
            kept.append(category.name)
        else:
            have.add(category.name.casefold())
            add.append(category_body(category.name, category.color))
    shortcuts = [c for c in source.categories if c.keyboard_shortcut]
    left = (
        (
            f"shortcut keys of {len(shortcuts)} categories "
            f"({', '.join(f'{c.name}: Ctrl+F{c.keyboard_shortcut + 1}' for c in shortcuts)}): "
            "Graph's outlookCategory has no shortcut key",
        )
        if shortcuts
        else ()
    )
    return CategoryPlan(tuple(add), tuple(kept), left, len(server))


def _time(text: str | None) -> str | None:
    """ "08:00:00" (WorkHours XML) as Graph's Edm.TimeOfDay ("08:00:00.0000000")."""
    if not text:
        return None
    hours, _, rest = text.partition(":")
    minutes, _, seconds = rest.partition(":")
    seconds = seconds.partition(".")[0] or "00"
    return f"{int(hours):02d}:{int(minutes or 0):02d}:{int(seconds):02d}.0000000"


def _plain_time(text: Any) -> str:
    return str(text or "").partition(".")[0]


def working_hours(record: WorkHours) -> dict[str, Any] | None:
    """The `workingHours` of the WorkHours object; None when it lacks the day's slot."""
    start, end = _time(record.start), _time(record.end)
    if start is None or end is None:
        return None
    body: dict[str, Any] = {
        "daysOfWeek": [day.lower() for day in record.work_days],
        "startTime": start,
        "endTime": end,
    }
    if record.time_zone_name:
        body["timeZone"] = {"name": record.time_zone_name}
    return body


def _shape(hours: dict[str, Any]) -> tuple[tuple[str, ...], str, str, str]:
    zone = hours.get("timeZone") or {}
    return (
        tuple(sorted(str(d).lower() for d in hours.get("daysOfWeek") or ())),
        _plain_time(hours.get("startTime")),
        _plain_time(hours.get("endTime")),
        str(zone.get("name") or "").casefold(),
    )


def same_hours(ours: dict[str, Any], server: dict[str, Any]) -> bool:
    return _shape(ours) == _shape(server)


def is_default(server: dict[str, Any]) -> bool:
    """Exchange's work hours of a new mailbox (any time zone): nobody chose them."""
    days, start, end, _ = _shape(server)
    return days in ((), tuple(sorted(DEFAULT_DAYS))) and start in ("", DEFAULT_START) and end in ("", DEFAULT_END)


def left_options(configurations: list[tuple[str, RoamingDictionary | None]]) -> tuple[str, ...]:
    """The calendar and availability options Outlook keeps that v1.0 has nowhere to put, one line each."""
    out = []
    for name, dictionary in configurations:
        if name in NOT_IN_GRAPH:
            count = f"{len(dictionary.entries)} options" if dictionary is not None else "its stream"
            out.append(
                f"IPM.Configuration.{name} ({count}): Graph v1.0 has no resource for it (mailboxSettings "
                "holds work hours, time zone, language, formats and automatic replies only); EWS "
                "UpdateUserConfiguration takes it"
            )
    return tuple(out)
