"""Our MIME keeps every header ASCII (RFC 2047/2231 for anything else), in every part and every embedded
message, on the canonical fixture, the ANSI code-page fixtures and the real samples: a server may refuse
raw 8-bit header bytes (the sandbox does). Checked on the raw bytes, independently of our writer."""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures
from pipeline.convert import convert_item
from pipeline.model import SourceError
from pipeline.source import open_source


def header_blocks(data: bytes) -> list[bytes]:
    """The header block of the message and of every part below it (embedded messages included): found
    by the blank line after each 'Content-Type'-bearing header block, on the raw bytes."""
    blocks = [data.split(b"\r\n\r\n", 1)[0]]
    for piece in data.split(b"\r\n--")[1:]:
        line_end = piece.find(b"\r\n")
        if line_end < 0:
            continue
        rest = piece[line_end + 2 :]
        pieces = rest.split(b"\r\n\r\n", 2)
        if len(pieces) > 1:
            blocks.append(pieces[0])
            if b"message/rfc822" in pieces[0].lower():
                blocks.append(pieces[1])  # the attached message's own headers
    return blocks


def mimes(path: Path):
    with open_source(path) as source:
        for folder in source.folders():
            for item in source.items(folder):
                if isinstance(item, SourceError):
                    continue
                upload = convert_item(item, folder.path)
                if upload.mime is not None:
                    yield item.subject, upload.mime


def check(path: Path) -> int:
    count = 0
    for subject, mime in mimes(path):
        count += 1
        for block in header_blocks(mime):
            assert block.isascii(), (subject, [line for line in block.split(b"\r\n") if not line.isascii()][:3])
    return count


@pytest.mark.parametrize(("spec", "fmt"), [("small", "pst"), ("ansi-cp932", "ansi"), ("ansi-cp1251", "ansi")])
def test_fixture_headers_are_ascii(spec: str, fmt: str):
    assert check(fixtures.cached(spec, format=fmt)) > 0


def test_sample_headers_are_ascii(samples: Path):
    total = sum(check(path) for path in sorted(samples.glob("*.[po]st")))
    assert total > 20
