"""GetUserAvailability: free/busy of mailboxes of this server over a time window, from their calendars.

As Exchange: times in the request are wall-clock times of its SerializableTimeZone (Bias and the standard/
daylight transitions) and the answer's event times are in that zone too; recurring series are expanded
(deleted occurrences left out, modified ones at their own times); each event's BusyType is its
LegacyFreeBusyStatus (Busy when not set; Free events are listed too, BusyType Free); a merged view (MergedFreeBusy) has one
digit per interval: 0 free, 1 tentative, 2 busy, 3 away (OOF), 4 working elsewhere, highest one wins. A
window longer than 42 days is ErrorTimeIntervalTooBig; an address without a mailbox here is
ErrorMailRecipientNotFound in its FreeBusyResponse. Free/busy is readable for every mailbox of the
organisation (Exchange's default permission). Learn: getuseravailability-operation, freebusyview,
mergedfreebusy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from pipeline.sandbox.ews import series, soap
from pipeline.sandbox.ews.context import Context, M, T
from pipeline.sandbox.ews.errors import RequestFault
from pipeline.sandbox.ews.recurrence import RecurrenceError
from pipeline.sandbox.ews.registry import operation

MAX_WINDOW = dt.timedelta(days=42)
#: Bounds of MergedFreeBusyIntervalInMinutes, used only by the merged views ("Five minutes is the minimum
#: interval and one day (1440 minutes) is the maximum", learn.microsoft.com/exchange/client-developer/
#: web-service-reference/mergedfreebusyintervalinminutes).
MIN_INTERVAL, MAX_INTERVAL = 5, 1440
_BUSY_DIGIT = {"Free": 0, "Tentative": 1, "Busy": 2, "OOF": 3, "WorkingElsewhere": 4, "NoData": 5}
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
#: Occurrences looked at per series: a bound on work for patterns without end.
_MAX_OCCURRENCES = 5000


@dataclass(frozen=True, slots=True)
class _Transition:
    bias: int  # minutes added to the zone's Bias
    month: int
    day_order: int  # 1..4, 5 = last
    weekday: int  # 0 = Sunday
    time: dt.time

    def moment(self, year: int) -> dt.datetime:
        """Local wall-clock time of the transition in `year`."""
        first = dt.date(year, self.month, 1)
        offset = (self.weekday - (first.isoweekday() % 7)) % 7
        day = first + dt.timedelta(days=offset + 7 * (self.day_order - 1))
        while day.month != self.month:
            day -= dt.timedelta(days=7)
        return dt.datetime.combine(day, self.time)


@dataclass(frozen=True, slots=True)
class _Zone:
    """A SerializableTimeZone: UTC = local + bias (+ the period's own bias)."""

    bias: int
    standard: _Transition | None
    daylight: _Transition | None

    def _period_bias(self, local: dt.datetime) -> int:
        if self.standard is None or self.daylight is None or not self.standard.month or not self.daylight.month:
            return self.standard.bias if self.standard else 0
        to_daylight, to_standard = self.daylight.moment(local.year), self.standard.moment(local.year)
        if to_daylight < to_standard:
            in_daylight = to_daylight <= local < to_standard
        else:  # southern hemisphere: daylight time spans the new year
            in_daylight = not (to_standard <= local < to_daylight)
        return self.daylight.bias if in_daylight else self.standard.bias

    def to_utc(self, local: dt.datetime) -> dt.datetime:
        return (local + dt.timedelta(minutes=self.bias + self._period_bias(local))).replace(tzinfo=dt.UTC)

    def to_local(self, utc: dt.datetime) -> dt.datetime:
        guess = utc.replace(tzinfo=None) - dt.timedelta(minutes=self.bias)
        standard_bias = self.standard.bias if self.standard else 0
        local = guess - dt.timedelta(minutes=standard_bias)
        return guess - dt.timedelta(minutes=self._period_bias(local))


def _transition(elem: etree._Element | None) -> _Transition | None:
    if elem is None:
        return None
    try:
        at = dt.time.fromisoformat((elem.findtext(f"{T}Time") or "00:00:00").strip()).replace(tzinfo=None)
        return _Transition(
            int(elem.findtext(f"{T}Bias") or 0),
            int(elem.findtext(f"{T}Month") or 0),
            int(elem.findtext(f"{T}DayOrder") or 1),
            _DAYS.index((elem.findtext(f"{T}DayOfWeek") or "Sunday").strip()),
            at,
        )
    except ValueError as exc:
        raise RequestFault(
            "ErrorInvalidRequest", f"The time zone's {etree.QName(elem).localname} is not valid."
        ) from exc


def _zone(elem: etree._Element | None) -> _Zone:
    if elem is None:
        return _Zone(0, None, None)
    try:
        bias = int(elem.findtext(f"{T}Bias") or 0)
    except ValueError as exc:
        raise RequestFault("ErrorInvalidRequest", "The time zone's Bias is not a number.") from exc
    return _Zone(bias, _transition(elem.find(f"{T}StandardTime")), _transition(elem.find(f"{T}DaylightTime")))


def _local_text(zone: _Zone, utc: dt.datetime) -> str:
    return zone.to_local(utc).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_local(zone: _Zone, text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return zone.to_utc(value)


@dataclass(frozen=True, slots=True)
class _Event:
    start: dt.datetime
    end: dt.datetime
    busy: str
    subject: str | None
    location: str | None
    recurring: bool
    exception: bool


def _events(ctx: Context, mailbox_id: int, start: dt.datetime, end: dt.datetime) -> Iterator[_Event]:
    with ctx.store.connection() as conn:
        calendar = ctx.store.distinguished(conn, mailbox_id, "calendar")
        if calendar is None:
            return
        row_ids = [
            r[0] for r in conn.execute("SELECT id FROM items WHERE folder_id=? AND kind='CalendarItem'", (calendar.id,))
        ]
        rows = ctx.store.load_items(conn, row_ids)
    for item in rows.values():
        busy = series.field_text(item.fields, "LegacyFreeBusyStatus") or "Busy"
        location = series.field_text(item.fields, "Location")
        try:
            found = series.series_of(item.fields)
        except RecurrenceError:
            found = None
        if found is None:
            first, last = series.field_text(item.fields, "Start"), series.field_text(item.fields, "End")
            if not first or not last:
                continue
            begins, ends = series.parse_time(first), series.parse_time(last)
            if begins < end and ends > start:
                yield _Event(begins, ends, busy, item.subject, location, False, False)
            continue
        exceptions = series.Exceptions.load(item.exceptions)
        for count, original in enumerate(found.starts()):
            if count >= _MAX_OCCURRENCES or original > end + dt.timedelta(days=1):
                break
            key = series.iso(original)
            if key in exceptions.deleted:
                continue
            change = exceptions.modified.get(key)
            if change:
                begins, ends = series.parse_time(change["start"]), series.parse_time(change["end"])
            else:
                begins, ends = original, original + found.duration
            if begins < end and ends > start:
                subject = (change or {}).get("subject", item.subject)
                yield _Event(begins, ends, busy, subject, location, True, bool(change))


def _merged(events: list[_Event], start: dt.datetime, end: dt.datetime, minutes: int) -> str:
    step = dt.timedelta(minutes=minutes)
    digits = []
    at = start
    while at < end:
        upto = min(at + step, end)
        digits.append(max((_BUSY_DIGIT.get(e.busy, 2) for e in events if e.start < upto and e.end > at), default=0))
        at = upto
    return "".join(str(d) for d in digits)


def _view(zone: _Zone, events: list[_Event], view: str, start: dt.datetime, end: dt.datetime, minutes: int) -> str:
    parts = [f"<t:FreeBusyViewType>{view}</t:FreeBusyViewType>"]
    if "Merged" in view:
        parts.append(f"<t:MergedFreeBusy>{_merged(events, start, end, minutes)}</t:MergedFreeBusy>")
    if view != "MergedOnly":
        detailed = view.startswith("Detailed")
        parts.append("<t:CalendarEventArray>")
        for event in sorted(events, key=lambda e: e.start):
            parts.append(
                f"<t:CalendarEvent><t:StartTime>{_local_text(zone, event.start)}</t:StartTime>"
                f"<t:EndTime>{_local_text(zone, event.end)}</t:EndTime><t:BusyType>{event.busy}</t:BusyType>"
            )
            if detailed:
                parts.append(
                    "<t:CalendarEventDetails>"
                    + (f"<t:Subject>{soap.esc(event.subject)}</t:Subject>" if event.subject else "")
                    + (f"<t:Location>{soap.esc(event.location)}</t:Location>" if event.location else "")
                    + "<t:IsMeeting>false</t:IsMeeting>"
                    f"<t:IsRecurring>{str(event.recurring).lower()}</t:IsRecurring>"
                    f"<t:IsException>{str(event.exception).lower()}</t:IsException>"
                    "<t:IsReminderSet>false</t:IsReminderSet><t:IsPrivate>false</t:IsPrivate>"
                    "</t:CalendarEventDetails>"
                )
            parts.append("</t:CalendarEvent>")
        parts.append("</t:CalendarEventArray>")
    return "<m:FreeBusyView>" + "".join(parts) + "</m:FreeBusyView>"


@operation("GetUserAvailabilityRequest")
def get_user_availability(ctx: Context, request: etree._Element) -> str:
    zone = _zone(request.find(f"{T}TimeZone"))
    options = request.find(f"{T}FreeBusyViewOptions")
    if options is None:
        raise RequestFault("ErrorInvalidRequest", "FreeBusyViewOptions is required.")
    try:
        start = _parse_local(zone, options.findtext(f"{T}TimeWindow/{T}StartTime") or "")
        end = _parse_local(zone, options.findtext(f"{T}TimeWindow/{T}EndTime") or "")
    except ValueError as exc:
        raise RequestFault("ErrorInvalidRequest", "The time window is not valid.") from exc
    if end <= start:
        raise RequestFault("ErrorInvalidTimeInterval", "The end of the time window is before its start.")
    if end - start > MAX_WINDOW:
        raise RequestFault("ErrorTimeIntervalTooBig", "The time window is longer than 42 days.")
    try:
        minutes = int(options.findtext(f"{T}MergedFreeBusyIntervalInMinutes") or 30)
    except ValueError:
        minutes = 0
    view = (options.findtext(f"{T}RequestedView") or "FreeBusy").strip()
    if "Merged" in view and not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        raise RequestFault(
            "ErrorInvalidRequest", f"MergedFreeBusyIntervalInMinutes must be between {MIN_INTERVAL} and {MAX_INTERVAL}."
        )
    answers = []
    holder = request.find(f"{M}MailboxDataArray")
    for data in holder if holder is not None else []:
        if not isinstance(data.tag, str):
            continue
        address = (data.findtext(f"{T}Email/{T}Address") or "").strip()
        mailbox = ctx.store.mailbox(address)
        if mailbox is None:
            answers.append(
                '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Error"><m:MessageText>'
                f"No mailbox was found for {soap.esc(address)}.</m:MessageText>"
                "<m:ResponseCode>ErrorMailRecipientNotFound</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:ResponseMessage></m:FreeBusyResponse>"
            )
            continue
        events = list(_events(ctx, mailbox.id, start, end))
        answers.append(
            '<m:FreeBusyResponse><m:ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
            f"</m:ResponseCode></m:ResponseMessage>{_view(zone, events, view, start, end, minutes)}"
            "</m:FreeBusyResponse>"
        )
    return (
        f'<m:GetUserAvailabilityResponse xmlns:m="{soap.M_NS}" xmlns:t="{soap.T_NS}">'
        f"<m:FreeBusyResponseArray>{''.join(answers)}</m:FreeBusyResponseArray></m:GetUserAvailabilityResponse>"
    )
