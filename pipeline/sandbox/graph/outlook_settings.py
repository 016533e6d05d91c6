"""The user's settings on the Graph face: the master category list (`outlook/masterCategories`), the mailbox
settings (`mailboxSettings`: work hours, time zone, language, formats, automatic replies) and inbox rules
(`mailFolders/inbox/messageRules`), validated as Graph validates them and checked against the v1.0 metadata.

The master category list and the work hours are the calendar's CategoryList and WorkHours user
configurations, the objects the EWS face and Outlook read (one store, two faces); the other mailbox settings
and message rules are kept as their JSON beside the store (tables the face makes at start).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pipeline.sandbox import mailbox_settings, timezones
from pipeline.sandbox.graph import state
from pipeline.sandbox.graph.folders import resolve_folder
from pipeline.sandbox.graph.state import GraphState
from pipeline.sandbox.graph.wire import Call, GraphError, GraphReply, json_reply

COLORS = {"none", *(f"preset{n}" for n in range(25))}
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,7})?)?$")
#: What a new Exchange Online mailbox answers before anyone sets it (learn.microsoft.com/graph/api/
#: user-get-mailboxsettings, the example response; the time zone is UTC until the user picks one).
DEFAULTS: dict[str, Any] = {
    "archiveFolder": None,
    "timeZone": "UTC",
    "automaticRepliesSetting": {
        "status": "disabled",
        "externalAudience": "all",
        "internalReplyMessage": "",
        "externalReplyMessage": "",
    },
    "language": {"locale": "en-US", "displayName": "English (United States)"},
    "dateFormat": "M/d/yyyy",
    "timeFormat": "h:mm tt",
    "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
    "userPurpose": "user",
    "workingHours": {
        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "startTime": "08:00:00.0000000",
        "endTime": "17:00:00.0000000",
        "timeZone": {"name": "UTC"},
    },
}
_READ_ONLY_SETTINGS = {"userPurpose"}


def _bad(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


# -- masterCategories ------------------------------------------------------------------------------------
def _category_list(g: GraphState, conn: sqlite3.Connection, mailbox_id: int) -> tuple[Any, list[ET.Element]]:
    calendar = g.store.distinguished(conn, mailbox_id, "calendar")
    if calendar is None:
        raise GraphError(404, "ErrorFolderNotFound", "No calendar folder.")
    found = mailbox_settings.configuration(conn, calendar.id, "CategoryList")
    if found is None or not found.xml:
        return (calendar, None), []
    try:
        root = ET.fromstring(found.xml)
    except ET.ParseError:
        return (calendar, found), []
    return (calendar, found), [e for e in root if e.tag.rpartition("}")[2] == "category"]


def _category_json(element: ET.Element) -> dict[str, Any]:
    color = element.get("color", "-1")
    number = int(color) if color.lstrip("-").isdigit() else -1
    return {
        "id": (element.get("guid") or "").strip("{}"),
        "displayName": element.get("name") or "",
        "color": "none" if number < 0 or number > 24 else f"preset{number}",
    }


def categories(g: GraphState, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
    if call.method == "GET" and not rest:
        with g.store.connection() as conn:
            _, elements = _category_list(g, conn, mailbox_id)
        values = [_category_json(e) for e in elements]
        for value in values:
            state.check_answer(g, "outlookCategory", value)
        return json_reply(200, {"value": values})
    if call.method == "GET" and len(rest) == 1:
        with g.store.connection() as conn:
            _, elements = _category_list(g, conn, mailbox_id)
        for element in elements:
            if _category_json(element)["id"].lower() == rest[0].lower():
                return json_reply(200, _category_json(element))
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    if call.method == "POST" and not rest:
        return _add_category(g, call, mailbox_id)
    raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported here.")


def _add_category(g: GraphState, call: Call, mailbox_id: int) -> GraphReply:
    body = state.read_body(g, call, "outlookCategory")
    name = str(body.get("displayName") or "").strip()
    if not name:
        raise _bad("The displayName is required.")
    color = body.get("color", "none")
    if color not in COLORS:
        raise _bad(f"The value '{color}' is not a valid categoryColor.", "RequestBodyRead")
    number = -1 if color == "none" else int(str(color)[len("preset") :])
    guid = "{" + str(uuid.uuid4()) + "}"
    element = (
        f'<category name={quoteattr(name)} color="{number}" keyboardShortcut="0" guid="{guid}" renameOnFirstUse="0" />'
    )
    with g.store.write() as conn:
        (calendar, found), elements = _category_list(g, conn, mailbox_id)
        if any((e.get("name") or "").casefold() == name.casefold() for e in elements):
            raise GraphError(409, "ErrorDuplicateCategory", f"A category named '{name}' already exists.")
        if found is None or not found.xml:
            xml = f'<?xml version="1.0"?><categories xmlns="CategoryList.xsd">{element}</categories>'.encode()
            if found is None:
                mailbox_settings.create_configuration(conn, mailbox_id, calendar.id, "CategoryList", None, xml, None)
            else:
                mailbox_settings.update_configuration(conn, found.id, xml=xml, replace={"xml"})
        else:
            text = found.xml.decode("utf-8-sig")
            closing = text.rfind("</categories>")
            if closing < 0:  # <categories .../>: opened up
                text = re.sub(r"/>\s*$", ">" + element + "</categories>", text.rstrip(), count=1)
            else:
                text = text[:closing] + element + text[closing:]
            mailbox_settings.update_configuration(conn, found.id, xml=text.encode("utf-8"), replace={"xml"})
    answer = {"id": guid.strip("{}"), "displayName": name, "color": color}
    state.check_answer(g, "outlookCategory", answer)
    return json_reply(201, answer)


# -- mailboxSettings -------------------------------------------------------------------------------------
_WH = "{WorkingHours.xsd}"


def _hours_from_xml(xml: bytes) -> dict[str, Any] | None:
    """workingHours from the calendar's WorkHours configuration (WorkingHours.xsd), None if unreadable."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    hours = root.find(f".//{_WH}WorkHoursVersion1")
    if hours is None:
        return None

    def text(path: str) -> str:
        return (hours.findtext(path) or "").strip()

    start, end = text(f"{_WH}TimeSlot/{_WH}Start"), text(f"{_WH}TimeSlot/{_WH}End")
    return {
        "daysOfWeek": [d.lower() for d in text(f"{_WH}WorkDays").split()],
        "startTime": f"{start[:8]}.0000000" if start else None,
        "endTime": f"{end[:8]}.0000000" if end else None,
        "timeZone": {"name": text(f"{_WH}TimeZone/{_WH}Name")},
    }


def _hours_xml(hours: dict[str, Any]) -> bytes:
    """The WorkHours configuration Outlook reads, from workingHours: the zone's standard bias (minutes, UTC =
    local + bias) and its daylight saving delta, its name, the day's slot and the days."""
    name = str((hours.get("timeZone") or {}).get("name") or "UTC")
    zone = timezones.zone(name)
    offsets = [zone.utcoffset(dt.datetime(2025, month, 1)) or dt.timedelta() for month in (1, 7)]
    standard, daylight = min(offsets), max(offsets)
    bias = -int(standard.total_seconds() // 60)
    delta = -int((daylight - standard).total_seconds() // 60)
    days = " ".join(str(d).capitalize() for d in hours.get("daysOfWeek") or [])
    return (
        '<?xml version="1.0" encoding="utf-8"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1><TimeZone>'
        f"<Bias>{bias}</Bias><Standard><Bias>0</Bias></Standard><DaylightSavings><Bias>{delta}</Bias>"
        f"</DaylightSavings><Name>{escape(name)}</Name></TimeZone><TimeSlot>"
        f"<Start>{str(hours.get('startTime') or '08:00:00')[:8]}</Start>"
        f"<End>{str(hours.get('endTime') or '17:00:00')[:8]}</End></TimeSlot>"
        f"<WorkDays>{escape(days)}</WorkDays></WorkHoursVersion1></Root>"
    ).encode()


def _work_hours_configuration(g: GraphState, conn: sqlite3.Connection, mailbox_id: int) -> tuple[Any, Any]:
    calendar = g.store.distinguished(conn, mailbox_id, "calendar")
    found = mailbox_settings.configuration(conn, calendar.id, "WorkHours") if calendar is not None else None
    return calendar, found


def _settings(g: GraphState, conn: sqlite3.Connection, mailbox_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT body FROM graph_mailbox_settings WHERE mailbox_id=?", (mailbox_id,)).fetchone()
    current = {**json.loads(json.dumps(DEFAULTS)), **(json.loads(row[0]) if row else {})}
    _, found = _work_hours_configuration(g, conn, mailbox_id)
    hours = _hours_from_xml(found.xml) if found is not None and found.xml else None
    if hours is not None:  # the calendar's WorkHours object, as Outlook and the EWS face see it
        current["workingHours"] = hours
    return current


def _zone(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise _bad("The time zone is required.", "ErrorInvalidTimeZone")
    try:
        timezones.zone(name)
    except timezones.UnknownZone as exc:
        raise _bad(f"'{name}' is not a valid time zone.", "ErrorInvalidTimeZone") from exc
    return name


def _check_hours(g: GraphState, hours: Any) -> dict[str, Any]:
    if not isinstance(hours, dict):
        raise _bad("workingHours must be an object.", "RequestBodyRead")
    state.check_body(g, "workingHours", hours)
    days = hours.get("daysOfWeek") or []
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise _bad("daysOfWeek holds a value that is not a dayOfWeek.", "RequestBodyRead")
    for key in ("startTime", "endTime"):
        if key in hours and not _TIME_OF_DAY.match(str(hours[key])):
            raise _bad(f"{key} is not an Edm.TimeOfDay.", "RequestBodyRead")
    zone = hours.get("timeZone")
    if zone is not None:
        if not isinstance(zone, dict):
            raise _bad("timeZone must be a timeZoneBase.", "RequestBodyRead")
        state.check_body(g, "timeZoneBase", zone)
        _zone(zone.get("name"))
    return hours


def mailbox_settings_resource(g: GraphState, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
    if call.method == "GET":
        with g.store.connection() as conn:
            current = _settings(g, conn, mailbox_id)
        if rest:
            if rest[0] not in current:
                raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0]}'.")
            return json_reply(
                200, {"value": current[rest[0]]} if not isinstance(current[rest[0]], dict) else current[rest[0]]
            )
        state.check_answer(g, "mailboxSettings", current)
        return json_reply(200, current)
    if call.method == "PATCH" and not rest:
        body = state.read_body(g, call, "mailboxSettings")
        if set(body) & _READ_ONLY_SETTINGS:
            raise _bad("userPurpose is read-only.")
        if "timeZone" in body:
            _zone(body["timeZone"])
        if "workingHours" in body:
            _check_hours(g, body["workingHours"])
        with g.store.write() as conn:
            current = _settings(g, conn, mailbox_id)
            stored = {k: v for k, v in current.items() if v != DEFAULTS.get(k) and k != "workingHours"}
            stored.update({k: v for k, v in body.items() if not k.startswith("@") and k != "workingHours"})
            if "workingHours" in body:  # kept where Outlook keeps them: the calendar's WorkHours object
                hours = {**current["workingHours"], **body["workingHours"]}
                calendar, found = _work_hours_configuration(g, conn, mailbox_id)
                xml = _hours_xml(hours)
                if found is None:
                    mailbox_settings.create_configuration(conn, mailbox_id, calendar.id, "WorkHours", None, xml, None)
                else:
                    mailbox_settings.update_configuration(conn, found.id, xml=xml, replace={"xml"})
            conn.execute(
                "INSERT INTO graph_mailbox_settings(mailbox_id, body) VALUES (?,?) "
                "ON CONFLICT(mailbox_id) DO UPDATE SET body=excluded.body",
                (mailbox_id, json.dumps(stored)),
            )
            answer = _settings(g, conn, mailbox_id)
        g.stats.add("graph:mailboxSettings:patched")
        return json_reply(200, answer)
    raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported here.")


# -- messageRules ----------------------------------------------------------------------------------------
def _rule_json(row_id: int, body: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": f"AQAAA{row_id:08d}=",
        "displayName": body.get("displayName"),
        "sequence": body.get("sequence"),
        "isEnabled": body.get("isEnabled", True),
        "hasError": False,
        "isReadOnly": False,
        "conditions": body.get("conditions") or {},
        "actions": body.get("actions") or {},
    }
    if body.get("exceptions"):
        out["exceptions"] = body["exceptions"]
    return out


def _check_rule(g: GraphState, conn: sqlite3.Connection, mailbox_id: int, body: dict[str, Any], new: bool) -> None:
    for part, entity in (("conditions", "messageRulePredicates"), ("exceptions", "messageRulePredicates")):
        if part in body:
            if not isinstance(body[part], dict):
                raise _bad(f"{part} must be a messageRulePredicates.", "RequestBodyRead")
            state.check_body(g, entity, body[part])
    if "actions" in body:
        if not isinstance(body["actions"], dict):
            raise _bad("actions must be a messageRuleActions.", "RequestBodyRead")
        state.check_body(g, "messageRuleActions", body["actions"])
    if new:
        if not str(body.get("displayName") or "").strip():
            raise _bad("The rule's displayName is required.", "ErrorInvalidRuleParameter")
        if not isinstance(body.get("sequence"), int) or body["sequence"] < 1:
            raise _bad("The rule's sequence must be a positive number.", "ErrorInvalidRuleParameter")
        if not any(v not in (None, False, [], "") for v in (body.get("actions") or {}).values()):
            raise _bad("A rule needs at least one action.", "ErrorInvalidRuleParameter")
    for key in ("moveToFolder", "copyToFolder"):
        target = (body.get("actions") or {}).get(key)
        if target is not None:
            resolve_folder(g, conn, mailbox_id, str(target))  # 400 malformed, 404 not in this mailbox


def _rules(conn: sqlite3.Connection, mailbox_id: int) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute("SELECT id, body FROM graph_message_rules WHERE mailbox_id=?", (mailbox_id,))
    found = [(r[0], json.loads(r[1])) for r in rows]
    return sorted(found, key=lambda r: (r[1].get("sequence") or 0, r[0]))


def _rule_id(text: str) -> int:
    match = re.fullmatch(r"AQAAA(\d{8})=", text)
    if not match:
        raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")
    return int(match.group(1))


def message_rules(g: GraphState, call: Call, mailbox_id: int, rest: list[str]) -> GraphReply:
    if not rest and call.method == "GET":
        with g.store.connection() as conn:
            values = [_rule_json(i, b) for i, b in _rules(conn, mailbox_id)]
        for value in values:
            state.check_answer(g, "messageRule", value)
        return json_reply(200, {"value": values})
    if not rest and call.method == "POST":
        body = state.read_body(g, call, "messageRule")
        with g.store.write() as conn:
            _check_rule(g, conn, mailbox_id, body, new=True)
            cursor = conn.execute(
                "INSERT INTO graph_message_rules(mailbox_id, body) VALUES (?,?)", (mailbox_id, json.dumps(body))
            )
            row_id = int(cursor.lastrowid or 0)
        g.stats.add("graph:messageRules:created")
        return json_reply(201, _rule_json(row_id, body))
    if len(rest) == 1:
        row_id = _rule_id(rest[0])
        with g.store.write() as conn:
            found = {i: b for i, b in _rules(conn, mailbox_id)}
            if row_id not in found:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if call.method == "GET":
                return json_reply(200, _rule_json(row_id, found[row_id]))
            if call.method == "DELETE":
                conn.execute("DELETE FROM graph_message_rules WHERE id=?", (row_id,))
                return GraphReply(204)
            if call.method == "PATCH":
                change = state.read_body(g, call, "messageRule")
                _check_rule(g, conn, mailbox_id, change, new=False)
                merged = {**found[row_id], **change}
                conn.execute("UPDATE graph_message_rules SET body=? WHERE id=?", (json.dumps(merged), row_id))
                return json_reply(200, _rule_json(row_id, merged))
    raise GraphError(405, "ErrorInvalidRequest", f"{call.method} is not supported here.")
