"""The enumerations of the item values: neutral lower-case words, never EWS's or Graph's spellings (each
destination has its own table from these to its words)."""

from __future__ import annotations

import enum


class ItemKind(enum.StrEnum):
    """Which kind of item a value is; the string is what the journal, reports and export show."""

    MESSAGE = "message"
    UNKNOWN = "unknown"  # an item class nobody knows: sent as a message keeping its class
    CALENDAR = "calendar"
    CONTACT = "contact"
    DISTLIST = "distlist"
    TASK = "task"
    NOTE = "note"
    JOURNAL = "journal"


class Sensitivity(enum.StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class Importance(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class ShowAs(enum.StrEnum):
    """How the time of an appointment shows in free/busy (PidLidBusyStatus)."""

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OUT_OF_OFFICE = "oof"
    WORKING_ELSEWHERE = "working_elsewhere"


class Response(enum.StrEnum):
    """An attendee's answer (PR_RECIPIENT_TRACK_STATUS)."""

    UNKNOWN = "unknown"
    ORGANIZER = "organizer"
    TENTATIVE = "tentative"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_RESPONSE = "no_response"


class TaskStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    WAITING_ON_OTHERS = "waiting_on_others"
    DEFERRED = "deferred"


class PatternKind(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    ABSOLUTE_MONTHLY = "absolute_monthly"
    RELATIVE_MONTHLY = "relative_monthly"
    ABSOLUTE_YEARLY = "absolute_yearly"
    RELATIVE_YEARLY = "relative_yearly"


class Weekday(enum.StrEnum):
    SUNDAY = "sunday"
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"


class RelativeDay(enum.StrEnum):
    """The day of a relative (monthly/yearly) pattern: a weekday, or any day, weekday or weekend day."""

    SUNDAY = "sunday"
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    DAY = "day"
    WEEKDAY = "weekday"
    WEEKEND_DAY = "weekend_day"


class WeekIndex(enum.StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"
    FOURTH = "fourth"
    LAST = "last"


class PhoneKind(enum.StrEnum):
    """The nineteen telephone numbers a contact holds, one per MAPI property."""

    BUSINESS = "business"
    BUSINESS_2 = "business_2"
    HOME = "home"
    HOME_2 = "home_2"
    MOBILE = "mobile"
    BUSINESS_FAX = "business_fax"
    HOME_FAX = "home_fax"
    OTHER_FAX = "other_fax"
    PAGER = "pager"
    CAR = "car"
    ASSISTANT = "assistant"
    CALLBACK = "callback"
    COMPANY_MAIN = "company_main"
    ISDN = "isdn"
    OTHER = "other"
    PRIMARY = "primary"
    RADIO = "radio"
    TELEX = "telex"
    TTY_TDD = "tty_tdd"


class AddressKind(enum.StrEnum):
    BUSINESS = "business"
    HOME = "home"
    OTHER = "other"
