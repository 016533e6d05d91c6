"""Every message we write, from the fixtures and the real samples, parsed back with Python's email
parser (policy default): no defect anywhere, headers that round-trip, the same bytes on every run.

Skips the samples when ../shared/samples is missing, the fixtures when the builder cannot build.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import compressed_rtf
import pytest

from pipeline import mapi
from pipeline.convert import convert_item, rtf
from pipeline.item_values import ItemAttachment
from pipeline.model import SourceError, SourceItem, UploadItem
from tests.convert.helpers import (
    WHEN,
    all_defects,
    embedded_attachment,
    file_attachment,
    item,
    parse,
    recipient,
)

SAMPLES = (
    "Outlook.pst",
    "SampleOstFile.ost",
    "variousBodyTypes.pst",
    "dist-list.pst",
    "notes.pst",
    "SampleContacts.pst",
    "ansi-32-bit.pst",
    "PersonalStorageFile.ost",
    "damaged-Outlook_part0.pst",
)


def _items(path: Path) -> Iterator[tuple[SourceItem, tuple[str, ...]]]:
    from pipeline.source import open_source

    with open_source(path) as source:
        for folder in source.folders():
            for entry in source.items(folder):
                if not isinstance(entry, SourceError):
                    yield entry, folder.path


def _messages(upload: UploadItem) -> list[bytes]:
    """The item's MIME and the MIME of embedded items of typed items (ItemAttachment item_mime)."""
    found = [upload.mime] if upload.mime is not None else []
    found += [a.mime for a in getattr(upload.value, "attachments", ()) if isinstance(a, ItemAttachment)]
    return found


def _check_wire(data: bytes, signed: bool) -> None:
    head, _, _ = data.partition(b"\r\n\r\n")
    assert head.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")  # bare LF nowhere
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert all_defects(message) == []
    for part in message.walk():
        for value in part.values():
            str(value)  # every header parses (lazily) without raising
        if not part.is_multipart() and part.get_content_type() != "message/rfc822":
            payload = part.get_payload(decode=True)
            assert all_defects(message) == []  # decoding base64/QP adds no defect either
            if signed:  # a multipart/signed entity passes as it came
                continue
            # Everything is 7-bit but UTF-8 text, which goes as 8bit (RFC 2045 2.8; lines checked above).
            if part["Content-Transfer-Encoding"] == "8bit":
                assert part.get_content_maintype() == "text" and part.get_content_charset() == "utf-8"
                payload.decode("utf-8")
            else:
                assert part.get_payload(decode=False).isascii()
    if not signed and b"Content-Transfer-Encoding: 8bit" not in data:
        assert data.isascii()


def _sources(samples_dir: Path | None) -> list[Path]:
    paths: list[Path] = []
    try:
        import fixtures

        paths += [fixtures.cached_build("small", format=f)[0] for f in ("ost", "pst", "ansi")]
    except Exception:  # the builder is work in progress elsewhere
        pass
    if samples_dir is not None:
        paths += [samples_dir / name for name in SAMPLES if (samples_dir / name).exists()]
    return paths


@pytest.fixture(scope="module")
def sources() -> list[Path]:
    from tests.conftest import SAMPLES as SAMPLES_DIR

    found = _sources(SAMPLES_DIR if SAMPLES_DIR.is_dir() else None)
    if not found:
        pytest.skip("neither fixtures nor samples available")
    return found


def test_every_message_parses_without_defect_and_is_deterministic(sources: list[Path]) -> None:
    checked = 0
    for path in sources:
        try:
            # Items are used while their source is open (attachments are read lazily), and the second
            # run opens the file again: the reader opens an embedded message only once per session.
            first = []
            for entry, folder in _items(path):
                upload = convert_item(entry, folder)
                for data in _messages(upload):
                    _check_wire(data, signed="multipartsigned" in upload.item_class.lower())
                    checked += 1
                first.append(upload.mime)
            again = [convert_item(entry, folder).mime for entry, folder in _items(path)]
        except Exception as exc:  # a file the reader cannot open is the reader's test, not ours
            if "damaged" in path.name and not isinstance(exc, AssertionError):
                continue
            raise
        assert again == first, f"{path.name}: output differs between runs"
    assert checked > 20


def test_real_rtf_bodies_decode_as_before(sources: list[Path]) -> None:
    """Our LZFu decoder against compressed_rtf, and text de-encapsulation against RTFDE, on real bodies."""
    seen = 0
    for path in sources:
        for entry, _ in _items(path):
            packed = entry.prop(mapi.PR_RTF_COMPRESSED)
            if not isinstance(packed, bytes | bytearray) or packed[:5] == b"{\\rtf":
                continue
            try:
                expected = compressed_rtf.decompress(bytes(packed))
            except Exception:
                with pytest.raises(ValueError):
                    rtf.decompress(bytes(packed))
                continue
            document = rtf.decompress(bytes(packed))
            assert document == expected
            seen += 1
            if rtf._encapsulation(document) == "text":
                found = rtf._deencapsulator()(document, grammar=rtf._grammar())
                found.deencapsulate()
                content = found.content
                text = content.decode() if isinstance(content, bytes) else str(content)
                assert rtf.open_rtf(bytes(packed)).text == text
    if not seen:
        pytest.skip("no compressed RTF body among the sources")


def _mail(extra: dict | None = None) -> dict:
    base = {
        mapi.PR_BODY: "Body",
        mapi.PR_CLIENT_SUBMIT_TIME: WHEN,
        mapi.PR_SENDER_NAME: "Ann",
        mapi.PR_SENDER_EMAIL_ADDRESS: "ann@example.com",
        mapi.PR_SENDER_ADDRTYPE: "SMTP",
    }
    base.update(extra or {})
    return base


def test_non_ascii_subject_and_names_round_trip_as_rfc2047() -> None:
    subject = "Réunion trimestrielle – ordre du jour, budget et 計画 " * 3 + "😀"
    source = item(
        props=_mail({mapi.PR_SUBJECT: subject, mapi.PR_SENDER_NAME: "José García"}),
        recipients=[
            recipient("to", "Zoë Müller", "zoe@example.de"),
            recipient("to", "Doe, John", "john@example.com"),
            recipient("cc", "Grüße Österreich", "gruss@example.at"),
        ],
    )
    data = convert_item(source).mime
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    message = parse(data)
    assert all_defects(message) == []
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == "José García"
    assert [a.display_name for a in message["To"].addresses] == ["Zoë Müller", "Doe, John"]
    assert message["Cc"].addresses[0].display_name == "Grüße Österreich"


def test_transport_subject_with_encoded_words_is_kept_as_sent() -> None:
    headers = (
        'Received: from a by b; Thu, 4 Mar 2021 05:06:07 +0000\r\nFrom: "Doe, John" <j@example.com>\r\n'
        "Subject: Tempor =?utf-8?q?Gr=C3=BC=C3=9Fe?= #1-1\r\nDate: Thu, 4 Mar 2021 05:06:07 +0000\r\n"
        "X-Long: " + "token " * 30 + "\r\n\r\n"
    )
    data = convert_item(item(props=_mail({mapi.PR_TRANSPORT_MESSAGE_HEADERS: headers}))).mime
    assert b"Subject: Tempor =?utf-8?q?Gr=C3=BC=C3=9Fe?= #1-1\r\n" in data
    message = parse(data)
    assert all_defects(message) == []
    assert message["Subject"] == "Tempor Grüße #1-1"
    assert message["From"].addresses[0].display_name == "Doe, John"
    assert message["X-Long"] == ("token " * 30).strip()


def test_long_and_non_ascii_file_names_use_rfc2231() -> None:
    long_name = "Ангебот für die Geschäftsführung – endgültige Fassung mit Anhängen und Notizen.docx"
    source = item(
        props=_mail(),
        attachments=[file_attachment(0, long_name, b"doc"), file_attachment(1, "plain name.txt", b"txt", "text/plain")],
    )
    data = convert_item(source).mime
    assert b"filename*0*=utf-8''" in data
    message = parse(data)
    assert all_defects(message) == []
    assert {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()} == {
        long_name: b"doc",
        "plain name.txt": b"txt",
    }


def test_inline_image_sits_in_multipart_related_beside_the_html() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    source = item(
        props=_mail({mapi.PR_HTML: b'<img src="cid:logo@x">'}),
        attachments=[file_attachment(0, "logo.png", png, "image/png", "logo@x", True)],
    )
    message = parse(convert_item(source).mime)
    assert all_defects(message) == []
    alternative = message if message.get_content_type() == "multipart/alternative" else None
    assert alternative is not None
    plain, related = alternative.iter_parts()
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert image["Content-ID"] == "<logo@x>" and image.get_content_disposition() == "inline"
    assert image.get_payload(decode=True) == png


def test_nested_embedded_messages_keep_their_own_headers() -> None:
    inner = item(
        props=_mail({mapi.PR_SUBJECT: "Inner – é", mapi.PR_HTML: b"<p>x</p>"}),
        attachments=[file_attachment(0, "a.bin", b"\x00\x01")],
    )
    middle = item(props=_mail({mapi.PR_SUBJECT: "Middle"}), attachments=[embedded_attachment(0, inner, "Inner")])
    top = item(props=_mail({mapi.PR_SUBJECT: "Top"}), attachments=[embedded_attachment(0, middle, "Middle")])
    data = convert_item(top).mime
    message = parse(data)
    assert all_defects(message) == []
    nested = [p for p in message.walk() if p.get_content_type() == "message/rfc822"]
    assert [p.get_content()["Subject"] for p in nested] == ["Middle", "Inner – é"]
    assert nested[0]["Content-Transfer-Encoding"] == "7bit"
    boundaries = {p.get_boundary() for p in message.walk() if p.is_multipart() and p.get_boundary()}
    assert len(boundaries) >= 2


def test_smime_signed_entity_passes_byte_for_byte() -> None:
    entity = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; '
        b'boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n'
        b"Content-Transfer-Encoding: 8bit\r\n\r\nsign\xc3\xa9d text \r\n--b1\r\n"
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nMIIB\r\n--b1--\r\n"
    )
    signed = item(
        "IPM.Note.SMIME.MultipartSigned",
        props=_mail({mapi.PR_SUBJECT: "Signé"}),
        attachments=[file_attachment(0, "smime.p7m", entity, "multipart/signed")],
    )
    upload = convert_item(signed)
    assert upload.mime.endswith(entity)
    message = parse(upload.mime)
    assert all_defects(message) == []
    assert message["Subject"] == "Signé" and message.get_content_type() == "multipart/signed"


def test_smime_enveloped_with_non_ascii_name() -> None:
    p7m = b"\x30\x82" + bytes(range(256)) * 3
    source = item("IPM.Note.SMIME", props=_mail(), attachments=[file_attachment(0, "verschlüsselt.p7m", p7m)])
    message = parse(convert_item(source).mime)
    assert all_defects(message) == []
    assert message.get_content_type() == "application/pkcs7-mime"
    assert message.get_param("smime-type") == "enveloped-data"
    assert message.get_filename() == "verschlüsselt.p7m"
    assert message.get_payload(decode=True) == p7m
