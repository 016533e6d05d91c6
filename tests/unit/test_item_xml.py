"""The fast path's <t:Message> against exchangelib's own serialization of build_item(...) of the same item.

Oracle: exchangelib's Item.to_xml(version=...), compared byte for byte after C14N, for every message-like
item converted from the canonical fixtures and the real samples (skipped when absent) and for hand-made items
covering every extended property type; and the cases the fast path must leave to exchangelib.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from exchangelib.util import create_element, set_xml_value
from exchangelib.version import Build, Version
from lxml import etree

from pipeline import item_values as v
from pipeline import mapi
from pipeline.convert import convert_item
from pipeline.destination.ews.item_xml import Prebuilt, item_element, prebuilt_item
from pipeline.destination.ews.items import build_item
from pipeline.destination.ews.properties import register_fingerprint
from pipeline.model import ExtendedProperty, SourceError, UploadItem

#: Exchange 2010 SP2, 2013, 2016 and Office 365 as exchangelib knows them.
VERSIONS = [Version(Build(14, 3)), Version(Build(15, 0)), Version(Build(15, 1)), Version(Build(15, 20))]
SPECS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[2] / "fixtures" / "specs").glob("*.toml") if p.stem != "bulk"
)
SAMPLES = (
    "Outlook.pst",
    "SampleOstFile.ost",
    "variousBodyTypes.pst",
    "notes.pst",
    "ansi-32-bit.pst",
    "PersonalStorageFile.ost",
    "damaged-Outlook_part0.pst",
    "dist-list.pst",
    "SampleContacts.pst",
)
UTC = dt.UTC
WHEN = dt.datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)


def canonical(element) -> bytes:
    return etree.tostring(element, method="c14n")


def expected(upload: UploadItem, version: Version) -> bytes:
    return canonical(build_item(upload, None, None).to_xml(version=version))


def assert_same(upload: UploadItem) -> None:
    for version in VERSIONS:
        fast = item_element(upload, version)
        assert fast is not None, f"declined: {upload.kind} {upload.item_class} {upload.value}"
        assert canonical(fast) == expected(upload, version)


def converted(path: Path) -> Iterator[UploadItem]:
    from pipeline.source import open_source

    with open_source(path) as source:
        for folder in source.folders():
            for entry in source.items(folder):
                if not isinstance(entry, SourceError):
                    yield convert_item(entry, folder.path, identity=f"fp-{entry.node_id}#2")


def check_source(path: Path) -> tuple[int, int]:
    """Every message-like item of path: equal to exchangelib's when built; plain messages always built.
    Returns how many elements were compared and how many message-like items there were."""
    register_fingerprint()
    compared = message_like = 0
    for upload in converted(path):
        if upload.kind not in ("message", "note", "journal"):
            assert item_element(upload, VERSIONS[0]) is None
            continue
        message_like += 1
        for version in VERSIONS:
            fast = item_element(upload, version)
            if fast is None:
                # only types the fast path leaves alone: posts, meeting messages, items with attachments
                assert getattr(upload.value, "item_class", None) or getattr(upload.value, "attachments", ()), (
                    upload.item_class
                )
                break
            assert canonical(fast) == expected(upload, version), (path.name, upload.subject)
            compared += 1
    return compared, message_like


@pytest.mark.parametrize("spec", SPECS)
def test_fixture_items_equal_exchangelibs(spec):
    import fixtures

    compared, message_like = check_source(fixtures.cached(spec, format="ost"))
    assert compared > 0 or message_like == 0


def test_sample_items_equal_exchangelibs(samples):
    paths = [samples / name for name in SAMPLES if (samples / name).exists()]
    assert sum(check_source(path)[0] for path in paths) > 0


def message(
    *props: ExtendedProperty,
    kind: str = "message",
    mime: bytes | None = b"Subject: x\r\n\r\nhi\r\n",
    extra: tuple[ExtendedProperty, ...] = (),
    pending: bool = False,
    item_class: str | None = None,
    value: v.ItemValue | None = None,
) -> UploadItem:
    register_fingerprint()
    return UploadItem(
        kind=kind,
        item_class=item_class or "IPM.Note",
        folder_path=("Inbox",),
        identity="0123abcd#3",
        subject="s",
        source_node_id=7,
        mime=mime,
        value=value or v.MailMessage(mime or b"", item_class),
        extended=list(props),
        extra_extended=list(extra),
        series_pending=pending,
    )


def tag(kind: str, value, number: int) -> ExtendedProperty:
    return ExtendedProperty(kind, value, tag=number)


def named(kind: str, value, name, guid: str = "00020329-0000-0000-C000-000000000046") -> ExtendedProperty:
    return ExtendedProperty(kind, value, propset_guid=guid, name=name)


EVERY_TYPE = (
    tag("Integer", 0x21, 0x0E07),
    tag("Integer", -5, 0x1080),
    tag("Integer", True, 0x1081),
    tag("Long", 2**40, 0x6701),
    tag("Short", 7, 0x6702),
    tag("Currency", 123456789, 0x6703),
    tag("Boolean", True, 0x0E1F),
    tag("Boolean", False, 0x0E69),
    tag("String", "tab\there \x01\x0b\x1f\x7f\x85\x9f\ufdd0\ufffe nul\x00 😀 𝄞 Zoë ≠ <&>\"'", 0x0037),
    tag("String", "", 0x1000),
    tag("CLSID", "3d2f1c6a-0000-0000-c000-000000000046", 0x6704),
    tag("Binary", b"\x00\xff binary \r\n", 0x0FFF),
    tag("Binary", b"", 0x300B),
    tag("SystemTime", WHEN, 0x0E06),
    tag("SystemTime", WHEN.replace(microsecond=123456), 0x0039),
    tag("StringArray", ["a", "b\x02", "😀", ""], 0x6705),
    tag("StringArray", ("from", "tuple"), 0x6706),
    tag("StringArray", [], 0x6707),
    tag("IntegerArray", [1, -2, 3], 0x6708),
    tag("LongArray", [2**40], 0x6709),
    tag("ShortArray", [1], 0x670A),
    tag("CurrencyArray", [5], 0x670B),
    tag("BinaryArray", [b"x", b""], 0x670C),
    tag("SystemTimeArray", [WHEN, WHEN.replace(microsecond=5)], 0x670D),
    tag("CLSIDArray", ["3d2f1c6a-0000-0000-c000-000000000046"], 0x670E),
    named("StringArray", ["Red category", "Blue"], "Keywords"),
    named("Integer", 3, 0x8501, "00062008-0000-0000-C000-000000000046"),
    named("String", "v", "x-custom-name with space"),
    named("Integer", None, "NoneValue"),
)


def test_every_property_type_equals_exchangelibs():
    assert_same(message(*EVERY_TYPE))


def test_classed_messages_read_state_and_pending_stamp_equal_exchangelibs():
    assert_same(message(tag("Integer", 0, 0x0E07), item_class="IPM.Note.Custom.Thing"))
    assert_same(message(tag("Integer", 1, 0x0E07), tag("Integer", 0, 0x0E07), pending=True))  # the last wins
    assert_same(
        message(
            tag("Integer", 5, 0x1090),
            extra=(tag("String", "extra", 0x0070), tag("Integer", 1, 0x1090)),
            item_class="IPM.Unknown.Class",
        )
    )
    assert_same(message())  # only the stamp


def test_notes_and_journal_entries_equal_exchangelibs():
    assert_same(
        message(
            named("Integer", 3, 0x8B00, mapi.PSETID_NOTE),
            kind="note",
            mime=None,
            item_class="IPM.StickyNote",
            value=v.StickyNote(
                item_class="IPM.StickyNote",
                subject="note \x01 😀",
                body=v.Body("<p>x</p>", html=True),
                sensitivity=v.Sensitivity.PRIVATE,
                importance=v.Importance.HIGH,
                categories=("a", "b"),
                reminder=v.Reminder(True, 15, WHEN),
            ),
        )
    )
    assert_same(
        message(
            kind="journal",
            mime=None,
            item_class="IPM.Activity",
            value=v.JournalEntry(
                item_class="IPM.Activity",
                subject="call",
                body=v.Body("text"),
                sensitivity=v.Sensitivity.NORMAL,
                importance=v.Importance.LOW,
                start=WHEN,
                end=WHEN,
            ),
        )
    )


@pytest.mark.parametrize(
    "upload",
    [
        message(tag("Double", 1.5, 0x6710)),  # exchangelib wants a Decimal and raises
        message(tag("Double", Decimal("1.5"), 0x6711)),
        message(tag("SystemTime", WHEN.replace(tzinfo=None), 0x6712)),  # naive: exchangelib raises
        message(tag("SystemTime", WHEN.astimezone(dt.timezone(dt.timedelta(hours=2))), 0x6713)),
        message(tag("Binary", bytearray(b"x"), 0x6714)),
        message(tag("CLSID", uuid.UUID(int=1), 0x6715)),
        message(tag("String", "lone \ud800 surrogate", 0x6716)),
        message(tag("IntegerArray", [1, "2"], 0x6717)),
        message(item_class="IPM.Post"),
        message(item_class="IPM.Schedule.Meeting.Request"),
        message(
            kind="note",
            mime=None,
            item_class="IPM.StickyNote",
            value=v.StickyNote(subject="s", attachments=(v.FileAttachment("a.txt", "application/octet-stream", b"x"),)),
        ),
        # exchangelib refuses a subject past 255 characters
        message(kind="note", mime=None, item_class="IPM.StickyNote", value=v.StickyNote(subject="x" * 256)),
        # (a message with recipient fields beside its MIME, once a case here, cannot be made any more: a typed
        # MailMessage holds its MIME and its class only)
        message(kind="calendar", mime=None, value=v.Appointment(subject="s", start=WHEN, end=WHEN)),
    ],
)
def test_what_the_fast_path_leaves_to_exchangelib(upload):
    assert item_element(upload, VERSIONS[2]) is None
    assert prebuilt_item(upload, VERSIONS[2]) is None


def test_prebuilt_items_take_their_place_in_the_request_beside_built_ones():
    version = VERSIONS[2]
    first, second = (
        message(tag("Integer", 1, 0x0E07)),
        message(kind="calendar", mime=None, value=v.Appointment(subject="s", start=WHEN, end=WHEN)),
    )
    fast = prebuilt_item(first, version)
    assert isinstance(fast, Prebuilt)
    mixed = set_xml_value(create_element("m:Items"), [fast, build_item(second, None, None)], version=version)
    plain = set_xml_value(
        create_element("m:Items"), [build_item(first, None, None), build_item(second, None, None)], version=version
    )
    assert canonical(mixed) == canonical(plain)
    again = set_xml_value(create_element("m:Items"), [fast], version=VERSIONS[0])  # another version: rebuilt
    assert canonical(again) == canonical(
        set_xml_value(create_element("m:Items"), [build_item(first, None, None)], version=VERSIONS[0])
    )
