"""Mail conversion: headers (cached or synthesized), bodies, attachments, embedded messages, and no
parser defect anywhere in what we write."""

from __future__ import annotations

import email
import email.policy
import hashlib

from pipeline import mapi
from pipeline.convert import convert_item, extended_by_name
from tests.convert.helpers import (
    WHEN,
    all_defects,
    embedded_attachment,
    file_attachment,
    item,
    parse,
    recipient,
)

EX_DN = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=jdoe"


def mail(extra=None):
    base = {
        mapi.PR_BODY: "Plain body\r\nsecond line",
        mapi.PR_CLIENT_SUBMIT_TIME: WHEN,
        mapi.PR_MESSAGE_DELIVERY_TIME: WHEN,
        mapi.PR_SENDER_NAME: "Ann Sender",
        mapi.PR_SENDER_EMAIL_ADDRESS: "ann@example.com",
        mapi.PR_SENDER_ADDRTYPE: "SMTP",
        mapi.PR_INTERNET_MESSAGE_ID: "<abc.123@example.com>",
        mapi.PR_MESSAGE_FLAGS: mapi.MSGFLAG_READ,
    }
    base.update(extra or {})
    return base


def convert(source):
    upload = convert_item(source)
    assert upload.kind == "message"
    message = parse(upload.mime)
    assert all_defects(message) == []
    return upload, message


def test_synthesized_headers_from_properties():
    source = item(
        props=mail(),
        recipients=[
            recipient("to", "Bob", "bob@example.com"),
            recipient("cc", "Cé Lia", "celia@example.org"),
            recipient("bcc", "Dan", "dan@example.net"),
        ],
        named={(mapi.PS_PUBLIC_STRINGS, "Keywords"): ["Red", "Blue"]},
    )
    source.properties[mapi.PR_IMPORTANCE] = 2
    source.properties[mapi.PR_SENSITIVITY] = 3
    source.properties[mapi.PR_IN_REPLY_TO_ID] = "<parent@example.com>"
    _, message = convert(source)
    assert message["From"].addresses[0].addr_spec == "ann@example.com"
    assert message["From"].addresses[0].display_name == "Ann Sender"
    assert [a.addr_spec for a in message["To"].addresses] == ["bob@example.com"]
    assert message["Cc"].addresses[0].display_name == "Cé Lia"
    assert message["Bcc"].addresses[0].addr_spec == "dan@example.net"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"] == "<abc.123@example.com>"
    assert message["In-Reply-To"] == "<parent@example.com>"
    assert message["Date"].datetime == WHEN
    assert message["Importance"] == "high"
    assert message["Sensitivity"] == "Company-Confidential"
    assert message["Keywords"] == "Red, Blue"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Plain body\nsecond line\n"


def test_exchange_sender_uses_cached_smtp_or_x500_form():
    source = item(
        props=mail(
            {
                mapi.PR_SENDER_EMAIL_ADDRESS: EX_DN,
                mapi.PR_SENDER_ADDRTYPE: "EX",
                mapi.PR_SENDER_SMTP_ADDRESS: "jdoe@contoso.com",
            }
        ),
        recipients=[recipient("to", "Kim", EX_DN.replace("jdoe", "kim"), "EX")],
    )
    _, message = convert(source)
    assert message["From"].addresses[0].addr_spec == "jdoe@contoso.com"
    to = message["To"].addresses[0].addr_spec
    assert to.startswith("IMCEAEX-_o=Contoso_ou=Exchange+20Administrative+20Group+20+28FYDIBOHF23SPDLT+29")
    assert to.endswith("_cn=kim@contoso.com")


def test_transport_headers_kept_but_mime_structure_is_ours():
    headers = (
        "Microsoft Mail Internet Headers Version 2.0\r\n"
        "Received: from mx.example.com by mail.example.com;\r\n Thu, 4 Mar 2021 05:06:07 +0000\r\n"
        "From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: =?utf-8?q?H=C3=A9llo?=\r\n"
        "Date: Thu, 4 Mar 2021 05:06:07 +0000\r\nMessage-ID: <abc.123@example.com>\r\n"
        "List-Id: <list.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="zzz"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
    )
    source = item(props=mail({mapi.PR_TRANSPORT_MESSAGE_HEADERS: headers, mapi.PR_HTML: b"<p>Hi</p>"}))
    _, message = convert(source)
    assert "mx.example.com" in message["Received"]
    assert message["List-Id"] == "<list.example.com>"
    assert message["Subject"] == "Héllo"
    assert "zzz" not in str(message["Content-Type"])
    assert message.get_content_type() == "multipart/alternative"
    assert len(message.get_all("MIME-Version")) == 1


def test_message_id_outside_rfc_5322_stays_in_the_header_as_it_is():
    """As Exchange writes it ([MS-OXCMAIL] 2.1.3.2.11): a reply's In-Reply-To names the same string."""
    source = item(props=mail({mapi.PR_INTERNET_MESSAGE_ID: "<a$b$@user@host.local>"}))
    upload, message = convert(source)
    raw = email.message_from_bytes(upload.mime, policy=email.policy.compat32)
    assert raw["Message-ID"] == "<a$b$@user@host.local>"
    assert "0x1035" not in extended_by_name(upload)
    assert not upload.warnings


def test_message_id_no_header_can_hold_travels_as_property_only():
    source = item(props=mail({mapi.PR_INTERNET_MESSAGE_ID: "<caf\u00e9@host>"}))
    upload, message = convert(source)
    assert message["Message-ID"] is None
    assert extended_by_name(upload)["0x1035"].value == "<caf\u00e9@host>"


def test_html_with_inline_images_and_attachments():
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    pdf = b"%PDF-1.4 " + bytes(300)
    html = '<html><body><img src="cid:image001.png@01D0"><p>Caf\xe9</p></body></html>'.encode("cp1252")
    source = item(
        props=mail({mapi.PR_HTML: html, mapi.PR_INTERNET_CPID: 1252}),
        attachments=[
            file_attachment(0, "image001.png", png, "image/png", "image001.png@01D0", True),
            file_attachment(1, "Résumé 2021.pdf", pdf, None),
            file_attachment(2, "notes.txt", b"text", "text/plain"),
        ],
    )
    _, message = convert(source)
    assert message.get_content_type() == "multipart/mixed"
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    html_part, image = list(related.iter_parts())
    assert "Café" in html_part.get_content()
    assert image["Content-ID"] == "<image001.png@01D0>"
    assert image.get_payload(decode=True) == png
    files = {p.get_filename(): p for p in message.iter_attachments()}
    assert set(files) == {"Résumé 2021.pdf", "notes.txt"}
    assert files["Résumé 2021.pdf"].get_content_type() == "application/pdf"
    assert hashlib.sha256(files["Résumé 2021.pdf"].get_payload(decode=True)).digest() == hashlib.sha256(pdf).digest()
    raw = message.as_bytes()
    assert b"filename*=utf-8''R%C3%A9sum%C3%A9%202021.pdf" in raw.replace(b"\r\n ", b"").replace(b"\n ", b"")


def test_embedded_messages_to_any_depth():
    deepest = item(props=mail({mapi.PR_SUBJECT: "level 3"}), attachments=[file_attachment(0, "deep.bin", b"\x00\x01")])
    middle = item(props=mail({mapi.PR_SUBJECT: "level 2"}), attachments=[embedded_attachment(0, deepest)])
    top = item(props=mail({mapi.PR_SUBJECT: "level 1"}), attachments=[embedded_attachment(0, middle, "Fwd")])
    _, message = convert(top)
    subjects = [p.get_content()["Subject"] for p in message.walk() if p.get_content_type() == "message/rfc822"]
    assert subjects == ["level 2", "level 3"]
    deep = [p for p in message.walk() if p.get_filename() == "deep.bin"]
    assert deep and deep[0].get_payload(decode=True) == b"\x00\x01"


def test_reference_and_ole_attachments_kept_as_files():
    reference = file_attachment(
        0, "budget.xlsx", b"", method=2, props={mapi.PR_ATTACH_LONG_PATHNAME: r"\\server\share\budget.xlsx"}
    )
    ole = file_attachment(1, None, b"\xd0\xcf\x11\xe0OLE", method=6)
    _, message = convert(item(props=mail(), attachments=[reference, ole]))
    files = {p.get_filename(): p for p in message.iter_attachments()}
    assert b"URL=file:///server/share/budget.xlsx" in files["budget.xlsx.url"].get_payload(decode=True)
    assert files["OLE object 1.bin"].get_payload(decode=True) == b"\xd0\xcf\x11\xe0OLE"


def test_ansi_item_decodes_in_its_code_page():
    source = item(
        props=mail(
            {
                mapi.PR_SUBJECT: "\xc7\xe0\xef\xf0\xee\xf1".encode("latin-1"),
                mapi.PR_BODY: "\u0417\u0430\u043f\u0440\u043e\u0441".encode("cp1251"),
                mapi.PR_MESSAGE_CODEPAGE: 1251,
            }
        )
    )
    _, message = convert(source)
    assert message["Subject"] == "Запрос"
    assert "Запрос" in message.get_content()


def test_smime_opaque_and_signed():
    p7m = b"\x30\x82\x01\x00" + bytes(200)
    source = item(
        "IPM.Note.SMIME", props=mail(), attachments=[file_attachment(0, "smime.p7m", p7m, "application/pkcs7-mime")]
    )
    _, message = convert(source)
    assert message.get_content_type() == "application/pkcs7-mime"
    assert message.get_payload(decode=True) == p7m
    entity = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; '
        b'boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--b1\r\n'
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64'
        b"\r\n\r\nMIIB\r\n--b1--\r\n"
    )
    signed = item(
        "IPM.Note.SMIME.MultipartSigned",
        props=mail(),
        attachments=[file_attachment(0, "smime.p7m", entity, "multipart/signed")],
    )
    upload, message = convert(signed)
    assert message.get_content_type() == "multipart/signed"
    assert entity.split(b"\r\n\r\n", 1)[1] in upload.mime
    assert upload.value.item_class == "IPM.Note.SMIME.MultipartSigned"


def test_meeting_request_and_report_are_messages_keeping_their_class():
    for cls in ("IPM.Schedule.Meeting.Request", "REPORT.IPM.Note.NDR", "IPM.Post"):
        upload, _ = convert(item(cls, props=mail()))
        assert upload.item_class == cls
        assert upload.value.item_class == cls


def test_unknown_class_keeps_class_and_properties_with_warning():
    source = item(
        "IPM.Custom.Thing", props=mail({0x6A00: 5}), named={("11111111-2222-3333-4444-555555555555", "Colour"): "teal"}
    )
    source.properties[0x0E2D] = 1  # excluded range: store-internal
    upload, _ = convert(source)
    assert upload.value.item_class == "IPM.Custom.Thing"
    names = extended_by_name(upload)
    assert names["0x6A00"].value == 5 and names["0x6A00"].mapi_type == "Integer"
    assert names["11111111-2222-3333-4444-555555555555/Colour"].value == "teal"
    assert any("IPM.Custom.Thing" in str(w) for w in upload.warnings)


def test_malformed_transport_header_is_replaced_not_copied():
    headers = "From: Ann <ann@example.com>\r\nTo: <<<broken\r\nDate: Thu, 4 Mar 2021 05:06:07 +0000\r\n\r\n"
    source = item(
        props=mail({mapi.PR_TRANSPORT_MESSAGE_HEADERS: headers}), recipients=[recipient("to", "Bob", "bob@example.com")]
    )
    upload, message = convert(source)
    assert message["To"].addresses[0].addr_spec == "bob@example.com"
    assert any("To" in str(w) for w in upload.warnings)
