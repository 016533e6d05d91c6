"""8-bit strings of ANSI (Outlook 97-2002) stores: which Windows code page they are in, and their text.

An ANSI store holds every string as bytes in the code page of the Windows that wrote it. The item says
which: PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID, whose Internet code pages (ISO-2022-JP, EUC-JP,
KOI8-R...) are mapped to the Windows ANSI code page of the same family, since the MAPI strings were
written in that one (50220 -> 932). Folder names carry no code page: the store's dominant one decodes
them. `decode` is the one function every reader calls with raw bytes and a code page.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterable
from itertools import islice

from pipeline import mapi

#: What Outlook assumes when nothing says otherwise.
DEFAULT_CODEPAGE = 1252

#: Internet and OEM code pages -> the Windows ANSI code page of their script.
_ANSI_FAMILY = {
    # Japanese
    50220: 932, 50221: 932, 50222: 932, 51932: 932, 20932: 932, 10001: 932,
    # Simplified and traditional Chinese, Korean
    936: 936, 52936: 936, 54936: 936, 20936: 936, 10008: 936, 950: 950, 20000: 950, 10002: 950,
    949: 949, 51949: 949, 50225: 949, 20949: 949, 10003: 949,
    # Cyrillic
    20866: 1251, 21866: 1251, 28595: 1251, 10007: 1251, 855: 1251, 866: 1251,
    # Western, Central European, Greek, Turkish, Hebrew, Arabic, Baltic, Vietnamese, Thai
    20127: 1252, 28591: 1252, 28605: 1252, 850: 1252, 437: 1252, 10000: 1252,
    28592: 1250, 852: 1250, 10029: 1250, 28597: 1253, 737: 1253, 10006: 1253, 28599: 1254, 857: 1254,
    10081: 1254, 28598: 1255, 38598: 1255, 862: 1255, 10005: 1255, 28596: 1256, 720: 1256, 10004: 1256,
    28594: 1257, 28603: 1257, 775: 1257, 1258: 1258, 874: 874, 28601: 874, 10021: 874,
}  # fmt: skip
#: Code pages that are not 8-bit ANSI at all: a string written under them is UTF-8 (or nothing).
_UNICODE = {65001: "utf-8", 1200: "utf-16-le", 1201: "utf-16-be", 65000: "utf-7"}


def ansi_codepage(codepage: int | None) -> int | None:
    """The Windows ANSI code page whose bytes a string tagged `codepage` holds (None for none given)."""
    if not isinstance(codepage, int) or isinstance(codepage, bool) or codepage <= 0:
        return None
    if codepage in _UNICODE:
        return codepage
    return _ANSI_FAMILY.get(codepage, codepage)


def item_codepage(message_codepage: object, internet_cpid: object) -> int | None:
    """An item's 8-bit code page: PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID, as a Windows ANSI page;
    None when the item names none (or only one Python has no codec for). A Unicode PR_INTERNET_CPID
    (65001: the HTML body is UTF-8) says nothing about the 8-bit MAPI strings, which are ANSI."""
    for from_internet, candidate in ((False, message_codepage), (True, internet_cpid)):
        found = ansi_codepage(candidate)  # type: ignore[arg-type]
        if from_internet and found in _UNICODE:
            continue
        if found is not None and codec(found) is not None:
            return found
    return None


def codec(codepage: int | str) -> str | None:
    """The Python codec of a Windows code page (932 -> 'cp932'), or None when Python has none."""
    if isinstance(codepage, str):
        name = codepage
    else:
        name = _UNICODE.get(codepage) or f"cp{codepage}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(raw: bytes, codepage: int | str) -> str:
    """The text of 8-bit string bytes in `codepage` (a Windows code page number or a codec name), cut at
    the first NUL; bytes the code page cannot map become U+FFFD rather than failing the item."""
    data = bytes(raw).split(b"\x00", 1)[0]
    name = codec(codepage) or codec(DEFAULT_CODEPAGE)
    assert name is not None
    return data.decode(name, errors="replace")


def dominant(codepages: Iterable[int | None], fallback: int = DEFAULT_CODEPAGE) -> int:
    """The code page most of a store's items name (folder names are written in it), else fallback."""
    counts = Counter(cp for cp in codepages if cp)
    return counts.most_common(1)[0][0] if counts else fallback


def item_codec(props: dict[int, object], store_codec: str, override: int | None = None) -> str:
    """The codec of an ANSI store item's 8-bit strings: --codepage, else the code page the item names
    (PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID), else the store's; both readers decide with this."""
    own = override or item_codepage(props.get(mapi.PR_MESSAGE_CODEPAGE), props.get(mapi.PR_INTERNET_CPID))
    return (codec(own) if own else None) or store_codec


#: Items sampled for a store's dominant code page (ANSI stores are small; this bounds the cost anyway).
CODEPAGE_SAMPLE = 2000


def store_codepage(override: int | None, sampled: Iterable[int | None]) -> tuple[int, str]:
    """(the code page of an ANSI store's folder names and code-page-less items, how it was chosen): the
    admin's override, else the one most of the first CODEPAGE_SAMPLE sampled items name, else cp1252.
    sampled is read lazily (never with an override); each reader samples its own way."""
    if override:
        return override, "override"
    seen = list(islice(sampled, CODEPAGE_SAMPLE))
    if any(seen):
        return dominant(seen), "dominant"
    return DEFAULT_CODEPAGE, "default"
