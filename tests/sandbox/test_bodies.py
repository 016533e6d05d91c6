"""The bounded body reader on hand-written wire bytes (RFC 9112 chunked framing), and bad framing over HTTP."""

from __future__ import annotations

import io
import socket

import pytest

from pipeline.sandbox import bodies, embedded
from tests.sandbox.helpers import populate

CHUNKED = bodies.Framing(True, 0)


def _read(wire: bytes, frame: bodies.Framing = CHUNKED, limit: int = 100) -> object:
    return bodies.read(io.BufferedReader(io.BytesIO(wire)), frame, limit)


def test_chunked_bodies_with_extensions_and_trailers():
    wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"
    stream = io.BufferedReader(io.BytesIO(wire))
    assert bodies.read(stream, CHUNKED, 100) == bodies.Body(b"hello world")
    assert stream.read() == b"NEXT"  # the next request starts where the body ended


def test_limits_are_checked_before_reading():
    assert _read(b"", bodies.Framing(False, 101)) == bodies.TooLarge(0)
    assert _read(b"64\r\n" + b"x" * 100 + b"\r\n1\r\n") == bodies.TooLarge(100)  # 100 fit, one more does not
    assert _read(b"ffffffffffff\r\n") == bodies.TooLarge(0)  # a declared chunk is never read past the limit


@pytest.mark.parametrize("wire", [b"zz\r\n", b"5\r\nhelloXX", b"1" * 5000 + b"\r\n", b"0\r\n" + b"T" * 5000])
def test_bad_chunking_is_malformed(wire):
    assert isinstance(_read(wire), bodies.Malformed)


def test_a_client_that_stops_is_aborted():
    assert _read(b"5\r\nhel") == bodies.Aborted()
    assert _read(b"hel", bodies.Framing(False, 5)) == bodies.Aborted()


def test_framing_from_headers():
    assert bodies.framing("chunked", "12") == CHUNKED  # Transfer-Encoding wins (RFC 9112 6.3)
    assert bodies.framing(None, "12") == bodies.Framing(False, 12)
    assert bodies.framing(None, None) == bodies.Framing(False, 0)
    assert isinstance(bodies.framing(None, "-1"), bodies.Malformed)
    assert isinstance(bodies.framing(None, "1e9"), bodies.Malformed)


def test_discard_keeps_the_connection_only_when_the_body_ended():
    stream = io.BufferedReader(io.BytesIO(b"3\r\nabc\r\n0\r\n\r\nNEXT"))
    assert bodies.discard(stream, CHUNKED, 100, 5) is True and stream.read() == b"NEXT"
    assert bodies.discard(io.BufferedReader(io.BytesIO(b"x" * 10)), bodies.Framing(False, 200), 100, 5) is False


def test_bad_framing_over_http_is_a_400(tmp_path):
    populate(tmp_path)
    with embedded.start(tmp_path, in_process=True) as handle:
        port = int(handle.url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
