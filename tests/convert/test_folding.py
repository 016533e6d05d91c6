"""The fast header and part writers against Python's own parser (policy default): random subjects,
display names, file names and bodies must come back unchanged and without a single defect.

Random but seeded: a failure names the value, and reruns see the same values.
"""

from __future__ import annotations

import random
import zlib

import compressed_rtf
import pytest

from pipeline.convert import folding, headers, parts, rtf
from pipeline.convert.addresses import Party
from pipeline.convert.headers import Mailbox, mailbox
from tests.convert.helpers import all_defects, parse

ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyzABCZ0123456789") * 3
    + list("  \t.,;:!?\"'()<>@[]\\/=_-+*%#&~|")
    + ["=?", "?=", "=?utf-8?q?x?=", "é", "ü", "ß", "Ж", "中", "文", "😀", "\u0301", "\u00a0", "€"]
)
rng = random.Random(20240304)


def random_text(max_words: int = 12, alphabet: list[str] = ALPHABET) -> str:
    out = []
    for _ in range(rng.randint(1, max_words)):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))))
        out.append(rng.choice([" ", " ", " ", "  ", "\t"]))
    return "".join(out)[: rng.randint(1, 200)]


SUBJECTS = [random_text() for _ in range(150)] + [
    "Grüße aus Köln",
    "Re: Réunion – ordre du jour",
    "x" * 120,
    "é" * 60 + " " + "b" * 90,
    "Re: foo ",
    "  leading",
    "a\tb",
    "=?utf-8?q?H=C3=A9llo?= x",
    "Tempor =?utf-8?q?Gr=C3=BC=C3=9Fe?= #1-1",
    "😀 emoji only",
    "word " * 40,
    "Ünïcödé " * 15,
]


def message_with(*lines: str) -> bytes:
    return ("".join(lines) + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n").encode("ascii")


def via_email_package(name: str, value: object) -> str | None:
    """What the header registry path makes of the value after a round trip (the behaviour to keep)."""
    text = headers._slow(name, value)
    return None if text is None else str(parse(message_with(text))[name])


@pytest.mark.parametrize("value", SUBJECTS)
def test_unstructured_round_trip_matches_email_package(value: str) -> None:
    text, slow = headers.render("Subject", value)
    assert text is not None
    assert text.isascii() and text.endswith("\r\n")
    message = parse(message_with(text))
    assert all_defects(message) == []
    assert str(message["Subject"]) == via_email_package("Subject", value)
    if not slow:
        assert all(len(line) <= folding.HARD_LIMIT for line in text.split("\r\n"))


def test_plain_and_non_ascii_subjects_take_the_fast_path() -> None:
    for value in ("Quarterly report", "Grüße aus Köln", "Re: Réunion – ordre du jour", "中文 subject 😀"):
        text, slow = headers.render("Subject", value)
        assert not slow and text is not None
        assert max(len(line) for line in text.split("\r\n")) <= folding.MAX_LINE
        assert str(parse(message_with(text))["Subject"]) == value


NAMES = [random_text(4) for _ in range(120)] + [
    "Ann Sender",
    "Cé Lia",
    "Doe, John",
    "O'Brien",
    "Jean-Luc Picard",
    "J. R. R. Tolkien",
    '"quoted"',
    "back\\slash",
    "Müller, Hans (IT)",
    "李小龍",
    "a  b",
    " padded ",
    "=?utf-8?q?x?=",
    "x" * 90,
    "ü" * 50,
    "Hans Müller Jr",
    "Grüße Müller",
    "José María García-López",
]
ADDRESSES = [
    "first.last@sub.example.org",
    "IMCEAEX-_o=Contoso_ou=Exchange+20Group_cn=kim@x.com",
    "weird.@example.com",
    "x@[10.0.0.1]",
]


@pytest.mark.parametrize("name", NAMES)
def test_display_names_round_trip(name: str) -> None:
    for address in ADDRESSES:
        box = mailbox(Party(name, address))
        if box is None:  # the registry refuses the address too: dropped as before
            assert headers._address(Party(name, address)) is None
            continue
        text, slow = headers.render("To", [box])
        assert text is not None, (name, address)
        message = parse(message_with(text))
        assert all_defects(message) == [], (name, address, text)
        found = message["To"].addresses[0]
        assert found.addr_spec == box.addr
        if box.tokens is not None:  # (the registry's own rendering folds runs of whitespace in names)
            assert found.display_name == box.name and not slow


def test_address_lists_fold_between_mailboxes() -> None:
    boxes = [
        Mailbox(
            f"Person Number {i}",
            f"person{i}@example.com",
            [f"Person Number {i}".split()[0], "Number", str(i), f"<person{i}@example.com>"],
        )
        for i in range(12)
    ]
    text, slow = headers.render("Cc", boxes)
    assert text is not None and not slow
    assert max(len(line) for line in text.split("\r\n")) <= folding.MAX_LINE
    parsed = parse(message_with(text))["Cc"].addresses
    assert [a.addr_spec for a in parsed] == [b.addr for b in boxes]


@pytest.mark.parametrize(
    "value",
    [
        "Ann <ann@example.com>",
        '"Doe, John" <j@example.com>',
        'a@b.c, "X Y" <y@z.example>',
        "<a@b.example>",
        "bob@example.com",
        "saqib.razzaq@ex2010.local",
        "Test Exchange <test.exchange@ex2010.local>",
    ],
)
def test_common_transport_address_shapes_are_certified(value: str) -> None:
    text, slow = headers.render("To", value)
    assert text is not None and not slow
    assert all_defects(parse(message_with(text))) == []


@pytest.mark.parametrize(
    "value",
    [
        "undisclosed-recipients:;",
        "bob@example.com (Bob)",
        "=?utf-8?q?B=C3=B6b?= <b@example.com>",
        "saqib.razzaq <saqib.razzaq>",
        "<<<broken",
        "<Rolf Petersson>",
        "a@b, , c@d",
    ],
)
def test_other_transport_address_shapes_go_through_the_registry(value: str) -> None:
    text, slow = headers.render("To", value)
    assert text == headers._slow("To", value)
    if text is not None:
        assert slow and all_defects(parse(message_with(text))) == []


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 4 Mar 2021 05:06:07 +0000",
        "Mon, 04 Mar 2024 09:30:30 GMT",
        "4 Mar 2021 05:06:07 -0800",
        "Thu, 4 Mar 2021 05:06:07 -0000 (UTC)",
        "yesterday",
        "",
    ],
)
def test_dates_as_the_registry_writes_them(value: str) -> None:
    text, _ = headers.render("Date", value)
    assert text == headers._slow("Date", value)


@pytest.mark.parametrize("value", ["<abc.123@example.com>", "<x@[1.2.3.4]>"])
def test_message_ids_the_registry_takes_are_written_as_it_writes_them(value: str) -> None:
    text, _ = headers.render("Message-ID", value)
    assert text == headers._slow("Message-ID", value)
    assert all_defects(parse(message_with(text))) == []


@pytest.mark.parametrize("value", ["<a$b$@user@host.local>", "abc", "<two words@host>", "<a@b@c>"])
def test_message_ids_outside_rfc_5322_are_written_as_they_are(value: str) -> None:
    """[MS-OXCMAIL] 2.1.3.2.11: Exchange copies PidTagInternetMessageId into the header as it is."""
    assert headers._slow("Message-ID", value) is None  # the registry refuses each of them
    text, _ = headers.render("Message-ID", value)
    assert text == f"Message-ID: {value}\r\n"


FILENAMES = [random_text(3).replace("\t", " ").strip() or "x" for _ in range(100)] + [
    "report.pdf",
    "=?utf-8?q?trap?=.txt",
    "Résumé 2021.pdf",
    "a;b=c.txt",
    'quote".txt',
    "back\\slash.txt",
    "x" * 150 + ".txt",
    "日本語のファイル名がとても長い場合のテスト" * 3 + ".docx",
    "it's here.doc",
    "100% sure.xlsx",
]


@pytest.mark.parametrize("name", FILENAMES)
def test_file_names_round_trip(name: str) -> None:
    part = parts.file_part(b"data", "application", "octet-stream", "attachment", name)
    data = b"MIME-Version: 1.0\r\n" + part.to_bytes()
    message = parse(data)
    assert all_defects(message) == []
    assert message.get_filename() == name
    assert message.get_param("name") is not None
    assert all(len(line) <= folding.MAX_LINE for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_short_non_ascii_file_name_uses_rfc2231() -> None:
    part = parts.file_part(b"x", "application", "pdf", "attachment", "Résumé 2021.pdf")
    assert b"filename*=utf-8''R%C3%A9sum%C3%A9%202021.pdf" in part.to_bytes()


BODIES = [random_text(200, ALPHABET + ["\n", "\r\n", "\r", "\x00", "\x0c", "-" * 80, "From x", "."]) for _ in range(60)]


@pytest.mark.parametrize("text", BODIES + ["", "\n", "short ascii\n", "a" * 100, "line \nwith trailing space \n"])
def test_text_bodies_round_trip(text: str) -> None:
    part = parts.text_part(text, "plain")
    message = parse(b"MIME-Version: 1.0\r\n" + part.to_bytes())
    assert all_defects(message) == []
    expected = text.encode("utf-8").splitlines() or [b""]  # an empty body is one empty line, as before
    got = message.get_payload(decode=True).splitlines()
    assert got == expected
    assert all(len(line) <= 998 for line in part.body.split(b"\r\n"))


def test_multipart_boundary_avoids_content() -> None:
    second = parts.text_part("other\n", "html")
    taken = parts.boundary([[p.head(), *p.pieces] for p in (parts.text_part("placeholder", "plain"), second)])
    sneaky = parts.text_part(f"--{taken}\n--{taken}--\n", "plain")  # 7bit text that holds that boundary
    whole = parts.multipart("alternative", [sneaky, second])
    message = parse(b"MIME-Version: 1.0\r\n" + whole.to_bytes())
    assert all_defects(message) == []
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert taken in message.get_payload()[0].get_content()


def test_multipart_is_deterministic() -> None:
    def make():
        return parts.multipart(
            "mixed",
            [parts.text_part("a\n", "plain"), parts.file_part(b"\x00" * 100, "image", "png", "inline", "i.png")],
        )

    assert make().to_bytes() == make().to_bytes()


def test_lzfu_decoder_agrees_with_compressed_rtf() -> None:
    local = random.Random(7)
    for _ in range(25):  # (compressed_rtf's compressor is slow: small documents)
        raw = bytes(local.choice(b"ab {}\\rtf\n\xe9") for _ in range(local.randint(0, 600)))
        for packed in (compressed_rtf.compress(raw, compressed=True), compressed_rtf.compress(raw, compressed=False)):
            assert rtf.decompress(packed) == compressed_rtf.decompress(packed)
    packed = bytearray(compressed_rtf.compress(b"{\\rtf1 hello hello hello}", compressed=True))
    packed[-1] ^= 0x20
    with pytest.raises(ValueError):
        rtf.decompress(bytes(packed))
    assert zlib.crc32(b"") == 0
