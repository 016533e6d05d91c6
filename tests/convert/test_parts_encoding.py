"""The fast writers of convert/parts.py against their oracles: base64.encodebytes for base64 lines, the
previous implementation of the text body (splitlines, join, stdlib base64/quoted-printable; kept here
verbatim) for text parts, and a join of whole child bytes for multiparts. Output must be byte-identical."""

from __future__ import annotations

import base64
import binascii
import random
import re

import pytest

from pipeline.convert import parts

# As before the rewrite, with one fix: CR is not a control here (every line ends in CRLF), so ASCII text
# with short lines goes 7bit, as the email package sends it.
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reference_base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n") if data else b""


def reference_text_body(value: str) -> tuple[str, bytes]:
    """parts._text_body as it was before the rewrite (commit 04a0615), with the CR fix (see _CONTROLS) and
    the 8bit rule added since."""
    lines = value.encode("utf-8", errors="replace").splitlines()
    joined = b"\r\n".join(lines) + b"\r\n"
    if not _CONTROLS.search(joined):
        if joined.isascii() and max(map(len, lines), default=0) <= 78:
            return "7bit", joined
        if max(map(len, lines), default=0) <= 998:  # since issue 17: UTF-8 text as it is (RFC 2045 2.8)
            return "8bit", joined
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    if len(binascii.b2a_qp(sniff)) > (len(sniff) + 2) // 3 * 4:
        return "base64", reference_base64(joined)
    return "quoted-printable", binascii.b2a_qp(joined)


def reference_multipart_body(children: list[bytes], mark: str) -> bytes:
    delimiter = b"--" + mark.encode("ascii")
    return b"".join([delimiter + b"\r\n" + child + b"\r\n" for child in children]) + delimiter + b"--\r\n"


# Around every line and block edge: 57 input bytes make a 76-character line, 32 lines a struct block.
EDGE_LENGTHS = sorted({*range(0, 120), *(57 * k + d for k in (2, 31, 32, 33, 64, 65) for d in (-2, -1, 0, 1, 2))})


@pytest.mark.parametrize("size", EDGE_LENGTHS)
def test_base64_lines_match_encodebytes_at_edges(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert parts.base64_body(data) == reference_base64(data)


def test_base64_lines_match_encodebytes_random() -> None:
    rnd = random.Random(17)
    for _ in range(300):
        data = rnd.randbytes(rnd.choice([rnd.randint(0, 300), rnd.randint(0, 20000)]))
        assert parts.base64_body(data) == reference_base64(data)
    assert parts.base64_body(bytes(range(256)) * 400) == reference_base64(bytes(range(256)) * 400)


PIECES = [
    "a",
    "b c",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\n\r",
    "\r\r\n",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "é",
    "Grüße",
    "日本語",
    "😀",
    "\ud800",
    "=",
    "=_",
    "--",
    ".",
    "From ",
    "x" * 75,
    "y" * 76,
    "z" * 77,
    "w" * 78,
    "v" * 79,
    "u" * 200,
    "trailing  \n",
    "tab\t\n",
    "=\n",
    "\u2028",
    "\x85",
]


def _random_text(rnd: random.Random) -> str:
    return "".join(rnd.choice(PIECES) for _ in range(rnd.choice([rnd.randint(0, 12), rnd.randint(0, 400)])))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "\n",
        "\r",
        "\r\n",
        "\n\n",
        "\r\r",
        "a",
        "a\n",
        "a\r",
        "a\r\n",
        "a\n\r",
        "short ascii\n",
        "a" * 78,
        "a" * 79,
        "a" * 100 + "\n",
        "é",
        "é\n",
        "line \nwith trailing space \n",
        "x\x00y",
        "\x0c",
        "\t\t\n",
        "\n".join(f"line {i}" for i in range(9)),
        "\n".join(f"line {i}" for i in range(10)),
        "\n".join(f"line {i}" for i in range(11)),
        "\n".join(["é" * 40] * 12) + "\n",
    ],
)
def test_text_body_matches_previous_implementation(value: str) -> None:
    assert parts._text_body(value) == reference_text_body(value)


def test_text_body_matches_previous_implementation_random() -> None:
    rnd = random.Random(3)
    seen = set()
    for _ in range(1500):
        value = _random_text(rnd)
        got = parts._text_body(value)
        assert got == reference_text_body(value), repr(value)
        seen.add(got[0])
    assert seen == {"7bit", "8bit", "base64", "quoted-printable"}  # every way was taken


def test_multipart_matches_joined_child_bytes() -> None:
    rnd = random.Random(5)
    for _ in range(50):
        children = [parts.text_part(_random_text(rnd), rnd.choice(["plain", "html"])) for _ in range(rnd.randint(2, 4))]
        children.append(parts.file_part(rnd.randbytes(rnd.randint(0, 3000)), "image", "png", "inline", "i.png"))
        whole = parts.multipart("mixed", children)
        old = [child.to_bytes() for child in children]
        mark = whole.headers[0].split('boundary="')[1].split('"')[0]
        assert whole.headers == [f'Content-Type: multipart/mixed; boundary="{mark}"\r\n']
        assert mark.startswith("=_rebuild_") and not any(b"--" + mark.encode() in child for child in old)
        assert whole.body == reference_multipart_body(old, mark)
        assert parts.multipart("mixed", children).headers == whole.headers  # the same content, the same mark


def test_encoded_bodies_never_hold_a_boundary() -> None:
    """What lets multipart() skip searching base64 and quoted-printable bodies for its marker."""
    rnd = random.Random(11)
    trap = ["=_", "--=_rebuild_0000_0", "=", "_", "-"]
    encoded = 0
    for _ in range(400):
        text = "".join(rnd.choice(PIECES + trap) for _ in range(rnd.randint(0, 200)))
        part = parts.text_part(text, "plain")
        if part.encoded:  # 7bit text may hold the marker: multipart() searches those bodies
            encoded += 1
            assert b"=_" not in part.body
        blob = rnd.randbytes(rnd.randint(0, 2000)) + b"=_" * rnd.randint(0, 3)
        assert b"=_" not in parts.file_part(blob, "application", "octet-stream").body
    assert encoded > 100


class _FlatCrc:
    """zlib stand-in whose CRC is always 0, so the test knows every candidate boundary in advance."""

    @staticmethod
    def crc32(data: bytes, value: int = 0) -> int:
        return 0


def reference_boundary(children: list[bytes]) -> str:
    """parts.boundary as it was before the rewrite, over whole child bytes (with the flat CRC)."""
    salt = 0
    while True:
        candidate = f"=_rebuild_{0:08x}_{salt}"
        if not any(b"--" + candidate.encode() in child for child in children):
            return candidate
        salt += 1


def test_boundary_moves_past_markers_in_headers_and_unencoded_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "zlib", _FlatCrc)
    taken = [f"--=_rebuild_00000000_{salt}" for salt in range(4)]
    children = [
        parts.text_part(f"{taken[3]}\n", "plain"),  # quoted-printable: '=' is written '=3D'
        parts.message_part(f"Subject: x\r\n\r\n{taken[0]}\r\n".encode(), None),  # 7bit, searched
        parts.file_part(taken[2].encode() * 3, "application", "octet-stream", "attachment", f"{taken[1]}.bin"),
    ]  # the name is in the header block
    whole = parts.multipart("mixed", children)
    old = [child.to_bytes() for child in children]
    assert reference_boundary(old) == "=_rebuild_00000000_2"
    assert whole.headers == ['Content-Type: multipart/mixed; boundary="=_rebuild_00000000_2"\r\n']
    assert whole.body == reference_multipart_body(old, "=_rebuild_00000000_2")


def test_nested_multiparts_take_distinct_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner multipart's delimiters are in the pieces the outer one searches (flat CRC: same seed)."""
    monkeypatch.setattr(parts, "zlib", _FlatCrc)
    inner = parts.multipart("alternative", [parts.text_part("a\n", "plain"), parts.text_part("<p>a</p>\n", "html")])
    image = parts.file_part(b"\x89PNG" * 50, "image", "png", "inline", "i.png")
    outer = parts.multipart("mixed", [inner, image])
    assert inner.headers == ['Content-Type: multipart/alternative; boundary="=_rebuild_00000000_0"\r\n']
    assert outer.headers == ['Content-Type: multipart/mixed; boundary="=_rebuild_00000000_1"\r\n']
    old = [inner.to_bytes(), image.to_bytes()]
    assert reference_boundary(old) == "=_rebuild_00000000_1"
    assert outer.to_bytes() == outer.head() + reference_multipart_body(old, "=_rebuild_00000000_1")
