"""The one decoding function for 8-bit strings, and how an item's code page is chosen.

Oracle: text encoded by Python's own codecs in the code page a Windows of that language writes.
"""

from __future__ import annotations

import pytest

from pipeline.source import codepages


@pytest.mark.parametrize(
    ("text", "codec", "codepage"),
    [
        ("会議の件について", "cp932", 932),
        ("Отчёт за квартал", "cp1251", 1251),
        ("Grüße", "cp1252", 1252),
        ("Zażółć gęślą jaźń", "cp1250", 1250),
        ("한국어", "cp949", 949),
        ("简体中文", "cp936", 936),
    ],
)
def test_decode_in_the_named_code_page(text: str, codec: str, codepage: int):
    raw = text.encode(codec) + b"\x00garbage after the terminator"
    assert codepages.decode(raw, codepage) == text
    assert codepages.decode(raw, codec) == text


def test_undecodable_bytes_become_replacement_characters_not_errors():
    assert codepages.decode(b"ok \x81\xff", 932).startswith("ok ")
    assert codepages.decode(b"abc", 99999) == "abc", "an unknown code page falls back to cp1252"


@pytest.mark.parametrize(
    ("message_cp", "internet_cpid", "expected"),
    [
        (932, None, 932),
        (None, 50220, 932),
        (None, 51932, 932),
        (None, 20866, 1251),
        (None, 28595, 1251),
        (1251, 65001, 1251),
        (None, 65001, None),
        (65001, None, 65001),
        (65001, 65001, 65001),
        (None, None, None),
        (None, 28591, 1252),
        (0, 50221, 932),
    ],
)
def test_item_codepage_prefers_message_codepage_then_internet_family(message_cp, internet_cpid, expected):
    assert codepages.item_codepage(message_cp, internet_cpid) == expected


def test_dominant_code_page():
    assert codepages.dominant([932, None, 932, 1252]) == 932
    assert codepages.dominant([None, None]) == 1252
