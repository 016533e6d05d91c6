"""Text properties read through their fast paths (NUL removal looked for first, CRLF replaced only when a CR
is there) against the plain str.replace they stand in for, on ASCII, Latin-1, BMP and astral text."""

from __future__ import annotations

import random

from pipeline import mapi, props
from pipeline.convert import bodies
from tests.convert.helpers import item

PIECES = ["a", "plain words ", "\x00", "\r", "\n", "\r\n", "é", "ß", "Отчёт", "日本", "😀", "\t", " "]


def _texts() -> list[str]:
    rnd = random.Random(23)
    out = ["", "\x00", "\x00\x00", "\r", "\r\n", "é\x00", "😀\x00", "\x00\r\n\x00"]
    for _ in range(800):
        alphabet = rnd.sample(PIECES, rnd.randint(1, len(PIECES)))
        out.append("".join(rnd.choice(alphabet) for _ in range(rnd.choice([rnd.randint(0, 20), rnd.randint(0, 3000)]))))
    return out


def test_decode_text_drops_nul_characters_as_replace_does() -> None:
    for text in _texts():
        assert props.decode_text(text) == text.replace("\x00", "")


def test_plain_bodies_end_lines_with_lf_as_replace_does() -> None:
    for text in _texts():
        found = bodies.extract(item(props={mapi.PR_BODY: text}))
        clean = text.replace("\x00", "")
        expected = clean.replace("\r\n", "\n") if clean.strip("\r\n\t ") else None
        assert found.plain == expected
