"""Body selection: plain, HTML (binary in a code page), RTF wrapping HTML or text, and real RTF that
is kept as a text/rtf alternative with a flattened text/plain beside it."""

from __future__ import annotations

import compressed_rtf

from pipeline import mapi
from pipeline.convert import bodies, convert_item
from pipeline.convert.rtf import open_rtf, rtf_to_text
from tests.convert.helpers import all_defects, item, parse

HTML_RTF = (
    b"{\\rtf1\\ansi\\ansicpg1252\\fromhtml1 \\deff0{\\fonttbl{\\f0\\fswiss Arial;}}"
    b"{\\*\\htmltag19 <html>}{\\*\\htmltag34 <body>}\\htmlrtf {\\htmlrtf0 Hello "
    b"{\\*\\htmltag84 <b>}bold{\\*\\htmltag92 </b>}\\htmlrtf }\\htmlrtf0 {\\*\\htmltag35 </body>}"
    b"{\\*\\htmltag27 </html>}}"
)
REAL_RTF = (
    b"{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times;}}{\\colortbl;\\red0\\green0\\blue0;}"
    b"\\f0 First line\\par Caf\\'e9 \\u8364?uro\\par {\\*\\generator Riched20;}Last}"
)


def test_plain_only():
    found = bodies.extract(item(props={mapi.PR_BODY: "just text\r\n"}))
    assert (found.plain, found.html, found.rtf) == ("just text\n", None, None)


def test_html_binary_decoded_by_meta_charset_then_code_page():
    meta = '<meta charset="windows-1251"><p>\u041f\u0440\u0438\u0432\u0435\u0442</p>'.encode("cp1251")
    assert "Привет" in bodies.decode_html(meta, 1252)
    assert "Café" in bodies.decode_html("<p>Café</p>".encode("cp1252"), 1252)
    assert "Café" in bodies.decode_html("<p>Café</p>".encode(), 65001)


def test_rtf_encapsulating_html_becomes_html():
    compressed = compressed_rtf.compress(HTML_RTF)
    found = bodies.extract(item(props={mapi.PR_RTF_COMPRESSED: compressed}))
    assert found.html is not None and "<b>bold</b>" in found.html
    assert found.rtf is None


def test_real_rtf_is_kept_and_flattened():
    compressed = compressed_rtf.compress(REAL_RTF)
    found = bodies.extract(item(props={mapi.PR_RTF_COMPRESSED: compressed}))
    assert found.rtf == REAL_RTF
    assert found.plain.startswith("First line\nCafé €uro\nLast")
    upload = convert_item(item(props={mapi.PR_RTF_COMPRESSED: compressed}))
    message = parse(upload.mime)
    assert all_defects(message) == []
    assert message.get_content_type() == "multipart/alternative"
    plain, rtf = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and rtf.get_content_type() == "text/rtf"
    assert rtf.get_payload(decode=True) == REAL_RTF


def test_broken_rtf_is_a_warning_not_a_crash():
    upload = convert_item(item(props={mapi.PR_RTF_COMPRESSED: b"\x00" * 20, mapi.PR_BODY: "kept"}))
    assert any("RTF" in str(w) for w in upload.warnings)
    assert "kept" in parse(upload.mime).get_content()


def test_uncompressed_marker_and_text_encapsulation():
    text_rtf = b"{\\rtf1\\ansi\\fromtext \\deff0 hello there\\par}"
    found = open_rtf(compressed_rtf.compress(text_rtf, compressed=False))
    assert found.kind == "text"
    assert "hello there" in (found.text or "")


def test_rtf_to_text_skips_destinations_and_unicode_fallbacks():
    assert rtf_to_text(b"{\\rtf1{\\fonttbl{\\f0 Arial;}}\\uc1\\u20320?\\u22909?!\\tab x\\line y}") == "你好!\tx\ny\n"
