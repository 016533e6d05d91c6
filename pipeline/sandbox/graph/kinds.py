"""The typed collections of the Graph face: their container classes, item kinds, entity names."""

from __future__ import annotations

#: Container classes of the collections; a mail folder is anything else.
CALENDAR, CONTACT, TASK = "IPF.Appointment", "IPF.Contact", "IPF.Task"
#: Item kind, item class and Graph entity of each collection.
KIND = {CALENDAR: "CalendarItem", CONTACT: "Contact", TASK: "Task"}
CLASS = {CALENDAR: "IPM.Appointment", CONTACT: "IPM.Contact", TASK: "IPM.Task"}
ENTITY = {CALENDAR: "event", CONTACT: "contact", TASK: "todoTask"}
#: Where open extensions' values are kept (a property set of their own).
OPEN_EXTENSIONS = "00000000-0000-0000-0000-000000000000"
#: Every item kind of the store; a message id may name any but the typed collections' kinds.
ALL_KINDS = ("Message", "Item", "PostItem", "MeetingRequest", "CalendarItem", "Contact", "Task", "DistributionList")
