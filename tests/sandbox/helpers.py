"""Helpers for the sandbox tests: accounts, extended properties, exchangelib connections, MIME samples.

The tests talk to the sandbox with plain exchangelib only (never pipeline/destination/ews), fail-fast retry policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exchangelib import (
    BASIC,
    DELEGATE,
    Account,
    CalendarItem,
    Configuration,
    Contact,
    Credentials,
    DistributionList,
    ExtendedProperty,
    FailFast,
    Message,
    Task,
)

from pipeline.sandbox.ews import schema
from pipeline.sandbox.store import SandboxStore

ADMIN = ("admin@sandbox.local", "admin-pw")
ALICE = ("alice@sandbox.local", "alice-pw")
BOB = ("bob@sandbox.local", "bob-pw")
CAROL = "carol@sandbox.local"
CUSTOM_GUID = "c11ff724-aa03-4555-9952-8fa248a11c3e"


class MessageFlags(ExtendedProperty):
    property_tag = 0x0E07
    property_type = "Integer"


class SourceKey(ExtendedProperty):
    """A named string property in a custom property set, as the pipeline marks uploaded items."""

    property_set_id = CUSTOM_GUID
    property_name = "SourceKey"
    property_type = "String"


class Batch(ExtendedProperty):
    property_set_id = CUSTOM_GUID
    property_name = "Batch"
    property_type = "String"


class Serial(ExtendedProperty):
    """A numbered property in a custom GUID set."""

    property_set_id = CUSTOM_GUID
    property_id = 0x8001
    property_type = "Integer"


class ReminderSet(ExtendedProperty):
    """PidLidReminderSet: a numbered property in the PSETID_Common set."""

    property_set_id = "00062008-0000-0000-C000-000000000046"
    property_id = 0x8503
    property_type = "Boolean"


class Keywords(ExtendedProperty):
    """A multi-valued named property in a distinguished set (PublicStrings), like Outlook's categories."""

    distinguished_property_set_id = "PublicStrings"
    property_name = "Keywords"
    property_type = "StringArray"


EXT_FIELDS = {
    "sbx_flags": MessageFlags,
    "sbx_source_key": SourceKey,
    "sbx_batch": Batch,
    "sbx_serial": Serial,
    "sbx_reminder_set": ReminderSet,
    "sbx_keywords": Keywords,
}


def _register() -> None:
    for cls in (Message, CalendarItem, Contact, DistributionList, Task):
        known = {f.name for f in cls.FIELDS}
        for name, prop in EXT_FIELDS.items():
            if name not in known:
                cls.register(name, prop)


_register()


def schema_present() -> bool:
    return schema.schema_dir() is not None


needs_schema = pytest.mark.skipif(
    not schema_present(), reason="EWS schema not found (../shared/ews-schema or REBUILD_EWS_SCHEMA)"
)


def populate(data_dir: Path) -> SandboxStore:
    store = SandboxStore(data_dir)
    store.add_mailbox(ALICE[0], "Alice Example")
    store.add_mailbox(BOB[0], "Bob Example")
    store.add_mailbox(CAROL, "Carol Example")
    store.add_account(ADMIN[0], ADMIN[1], impersonation=True)
    store.add_account(ALICE[0], ALICE[1])
    store.add_account(BOB[0], BOB[1])
    return store


def connect(
    url: str,
    creds: tuple[str, str],
    address: str | None = None,
    auth: str = BASIC,
    access: str = DELEGATE,
    version: object = None,
) -> Account:
    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(*creds),
        auth_type=auth,
        version=version,
        retry_policy=FailFast(),
    )
    return Account(address or creds[0], config=config, autodiscover=False, access_type=access)


def mime_message(subject: str, body_size: int = 200, attachment: bytes | None = None, index: int = 0) -> bytes:
    """A plain RFC 5322 message with CRLF line ends (optionally one base64 attachment)."""
    import base64

    text = ("Lorem ipsum dolor sit amet. " * (body_size // 28 + 1))[:body_size]
    head = (
        f"From: Bob Sender <bob@example.com>\r\nTo: Alice Example <alice@sandbox.local>\r\n"
        f"Cc: Carol <carol@example.com>\r\nSubject: {subject}\r\n"
        f"Date: Mon, 03 Jan 2022 10:{index % 60:02d}:00 +0100\r\n"
        f"Message-ID: <{subject}.{index}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if attachment is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n--b1\r\n"
        'Content-Type: application/octet-stream; name="data.bin"\r\n'
        'Content-Disposition: attachment; filename="data.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + encoded + "--b1--\r\n"
    ).encode()
