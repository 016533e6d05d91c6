"""User configuration objects through plain exchangelib (`Folder.get/create/update/delete_user_configuration`):
per folder and name, dictionary, XML and binary data, and Exchange's errors. Ledger: user-config.
The oracle is what exchangelib sends and reads back, and the category list XML parsed here."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from exchangelib import Folder
from exchangelib.errors import ErrorInvalidRequest, ErrorItemNotFound, ErrorItemSave

CATEGORIES = (
    b'<?xml version="1.0" encoding="utf-8"?><categories xmlns="CategoryList.xsd">'
    b'<category name="Red Category" color="0" keyboardShortcut="1"/>'
    b'<category name="Project &amp; more" color="7" keyboardShortcut="0"/></categories>'
)


@pytest.fixture
def folder(alice, unique):
    made = Folder(parent=alice.msg_folder_root, name=f"Config-{unique}", folder_class="IPF.Note")
    made.save()
    yield made
    made.delete()


def test_create_get_update_delete_round_trip(folder, alice, unique):
    """Ledger: user-config."""
    name = f"Rebuild.{unique}"
    with pytest.raises(ErrorItemNotFound):
        folder.get_user_configuration(name=name)
    dictionary = {
        "piRemindDefault": 15,
        True: "yes",
        7: False,
        b"\x01\x02": 200,
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=alice.default_timezone),
        "list": ("a", "b"),
    }
    folder.create_user_configuration(name=name, dictionary=dictionary, xml_data=CATEGORIES, binary_data=b"\0\1\2")
    config = folder.get_user_configuration(name=name)
    assert config.dictionary == dictionary
    assert config.xml_data == CATEGORIES and config.binary_data == b"\0\1\2"
    assert config.id is not None
    parsed = [(e.get("name"), int(e.get("color"))) for e in ET.fromstring(config.xml_data)]
    assert parsed == [("Red Category", 0), ("Project & more", 7)]
    with pytest.raises(ErrorItemSave):
        folder.create_user_configuration(name=name)
    with pytest.raises(ErrorItemNotFound):  # per folder: another folder does not hold it
        alice.inbox.get_user_configuration(name=name)
    folder.update_user_configuration(name=name, xml_data=b"<categories/>")
    config = folder.get_user_configuration(name=name)
    assert config.xml_data == b"<categories/>" and config.binary_data == b"\0\1\2"  # untouched parts kept
    assert config.dictionary == dictionary
    only_xml = folder.get_user_configuration(name=name, properties="XmlData")
    assert only_xml.dictionary is None and only_xml.binary_data is None and only_xml.xml_data == b"<categories/>"
    folder.delete_user_configuration(name=name)
    with pytest.raises(ErrorItemNotFound):
        folder.get_user_configuration(name=name)


def test_names_follow_exchanges_rule(alice):
    """Ledger: user-config."""
    for bad in ("IPM.Configuration.CategoryList", "has space", "x" * 237):
        with pytest.raises(ErrorInvalidRequest):
            alice.calendar.get_user_configuration(name=bad)


def test_update_of_a_missing_configuration(alice, unique):
    """Ledger: user-config."""
    with pytest.raises(ErrorItemNotFound):
        alice.calendar.update_user_configuration(name=f"Missing{unique}", xml_data=b"<x/>")


def test_the_calendars_category_list_and_work_hours(alice, unique):
    """Ledger: user-config. What a restore writes: CategoryList and WorkHours in the calendar, read back byte for byte."""
    name = f"CategoryList{unique}"
    alice.calendar.create_user_configuration(name=name, xml_data=CATEGORIES)
    assert alice.calendar.get_user_configuration(name=name).xml_data == CATEGORIES
    alice.calendar.delete_user_configuration(name=name)


def test_a_deleted_folder_takes_its_configurations_with_it(alice, store, unique):
    """Ledger: user-config. Its associated messages go with the folder: nothing is left for a later folder."""
    from pipeline.sandbox import mailbox_settings

    made = Folder(parent=alice.msg_folder_root, name=f"Gone-{unique}", folder_class="IPF.Note")
    made.save()
    made.create_user_configuration(name="Left", xml_data=b"<x/>")
    with store.connection() as conn:
        mailbox = store.mailbox("alice@sandbox.local")
        before = [c.name for c in mailbox_settings.configurations(conn, mailbox.id)]
    made.delete()
    with store.connection() as conn:
        after = [c.name for c in mailbox_settings.configurations(conn, mailbox.id)]
    assert "Left" in before and "Left" not in after
