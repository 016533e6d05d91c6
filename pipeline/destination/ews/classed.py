"""A Message that keeps its item class: exchangelib treats ItemClass as read-only, EWS lets a client set it.

Sticky notes, journal entries and items of unknown classes are created as this, so they keep their class.
"""

from __future__ import annotations

import copy

from exchangelib import Message
from exchangelib.properties import Fields

_ITEM_CLASS = copy.copy(Message.get_field_by_fieldname("item_class"))
_ITEM_CLASS.is_read_only = False


class ClassedMessage(Message):
    """Serialized as <t:Message> with <t:ItemClass> (CreateItem accepts it; MIME alone would make IPM.Note)."""

    FIELDS = Fields(*[_ITEM_CLASS if f.name == "item_class" else f for f in Message.FIELDS])
