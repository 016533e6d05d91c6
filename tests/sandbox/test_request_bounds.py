"""Requests a hostile or broken client sends: oversized and chunked bodies, XML the validator cannot take,
restrictions nested deep.

Plain HTTP written here (raw sockets for bodies no client library sends, requests for the rest) against a
sandbox child process on loopback with a 1 MiB request limit; memory is the child's peak RSS (VmHWM) read
from /proc from outside. Nothing may end in a dropped connection or a 500 from the sandbox's own insides.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import select
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import requests
from exchangelib import Message
from lxml import etree

from pipeline.sandbox import embedded
from pipeline.sandbox.graph.tokens import add_app
from pipeline.sandbox.limits import Limits
from tests.sandbox.helpers import ALICE, connect, mime_message, populate

LIMIT = 1024 * 1024
HOSTILE = 200 * 1024 * 1024  # sent in pieces; never held by the client either
PIECE = 1024 * 1024
APP = ("bounds-app", "bounds-secret")
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.SandboxHandle]:
    path = tmp_path_factory.mktemp("bounds")
    add_app(populate(path), *APP)
    with embedded.start(path, limits=Limits(max_request_bytes=LIMIT, search_lag_s=0.0)) as handle:
        yield handle


def _port(handle: embedded.SandboxHandle) -> int:
    return int(handle.url.split(":")[2].split("/")[0])


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        pytest.skip("peak RSS is read from /proc (Linux)")
    return int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1))


def _basic(creds: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


def _raw(port: int, head: str, pieces: Iterable[bytes]) -> tuple[int, bytes, int]:
    """Send `head`, then `pieces` until the server answers; (status, answer body, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        sock.sendall(head.encode("latin-1"))
        sent = 0
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there: the server did not wait for the rest
            try:
                sock.sendall(piece)
            except OSError:
                break
            sent += len(piece)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, answer.read(), sent
    finally:
        sock.close()


def _one_huge_chunk(total: int) -> Iterator[bytes]:
    """A single chunk declaring `total` bytes, then its data in pieces: the shape that used to be read whole."""
    yield f"{total:x}\r\n".encode()
    piece = b"x" * PIECE
    for _ in range(total // PIECE):
        yield piece


def _many_chunks(total: int) -> Iterator[bytes]:
    piece = f"{PIECE:x}\r\n".encode() + b"x" * PIECE + b"\r\n"
    for _ in range(total // PIECE):
        yield piece


def _head(port: int, path: str, auth: str | None, framing: str) -> str:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: text/xml; charset=utf-8", framing]
    if auth:
        lines.append(f"Authorization: {auth}")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_a_declared_oversize_body_is_refused_before_it_is_sent(server):
    """Content-Length over the limit: answered from the headers; not a byte of the body is needed."""
    port = _port(server)
    for auth, expected in ((_basic(ALICE), 404), (None, 401)):  # 404.13: IIS request filtering (the default)
        head = _head(port, "/EWS/Exchange.asmx", auth, f"Content-Length: {HOSTILE}")
        status, _, sent = _raw(port, head, [])
        assert (status, sent) == (expected, 0)


@pytest.mark.parametrize("shape", [_one_huge_chunk, _many_chunks])
@pytest.mark.parametrize("who", ["alice", "stranger"])
def test_an_oversize_chunked_body_is_refused_and_never_held(server, shape, who):
    port = _port(server)
    pid = server.pid
    assert pid is not None
    requests.post(server.url, data=b"warm-up", auth=ALICE, timeout=10)
    before = _peak_rss_kib(pid)
    auth = _basic(ALICE) if who == "alice" else None
    status, _, sent = _raw(port, _head(port, "/EWS/Exchange.asmx", auth, "Transfer-Encoding: chunked"), shape(HOSTILE))
    growth_mib = (_peak_rss_kib(pid) - before) / 1024
    assert status == (404 if who == "alice" else 401)
    assert sent < HOSTILE, "the server answered only after the whole body"
    assert growth_mib < 40, f"peak RSS grew by {growth_mib:.0f} MiB for a refused {HOSTILE >> 20} MiB body"
    # and the server still answers
    assert requests.post(server.url, data=b"<x/>", auth=ALICE, timeout=10).status_code == 500


def test_a_chunked_body_within_the_limit_is_read(server):
    """The incremental reader still delivers chunked requests that fit (exchangelib never chunks; others may)."""
    body = _find_item('<t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists>').encode()
    answer = requests.post(
        server.url,
        data=iter([body[:100], body[100:]]),
        auth=ALICE,
        timeout=10,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    assert answer.status_code == 200 and "NoError" in answer.text


def _graph_token(handle: embedded.SandboxHandle) -> str:
    answer = requests.post(
        f"{handle.graph_url}/sandbox/oauth2/v2.0/token",
        timeout=10,
        data={
            "grant_type": "client_credentials",
            "client_id": APP[0],
            "client_secret": APP[1],
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def test_graph_refuses_oversize_bodies_with_its_error_json(server):
    port = _port(server)
    path = "/v1.0/users/alice@sandbox.local/mailFolders"
    status, body, sent = _raw(port, _head(port, path, None, f"Content-Length: {HOSTILE}"), [])
    assert (status, sent) == (401, 0)
    assert json.loads(body)["error"]["code"] == "InvalidAuthenticationToken"
    bearer = f"Bearer {_graph_token(server)}"
    status, body, sent = _raw(port, _head(port, path, bearer, "Transfer-Encoding: chunked"), _many_chunks(HOSTILE))
    assert status == 413 and sent < HOSTILE
    error = json.loads(body)["error"]
    assert error["code"] and error["message"]


# -- bodies the parser or the validator cannot take -------------------------------------------------------

ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
    '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{}</s:Body></s:Envelope>'
)


def _fault_code(answer: requests.Response) -> str:
    fault = etree.fromstring(answer.content).find(f".//{{{SOAP}}}Fault")
    assert fault is not None, answer.text[:300]
    return fault.findtext(f"detail/{{{ERRORS}}}ResponseCode")


@pytest.mark.parametrize(
    "body",
    [
        ENVELOPE.format("<?sandbox no element?>"),  # a processing instruction where the request goes
        ENVELOPE.format("<!-- nothing -->"),
        ENVELOPE.format("<m:GetFolder/><m:GetFolder/>"),
        ENVELOPE.format("<m:GetFolder>" + "<a>" * 3000 + "</a>" * 3000 + "</m:GetFolder>"),
        "<not-soap/>",
        "not XML at all",
        '<?xml version="1.0" encoding="no-such-charset"?><x/>',
    ],
    ids=["pi-only", "comment-only", "two-requests", "deep", "not-soap", "not-xml", "bad-encoding"],
)
def test_bodies_the_validator_cannot_take_get_a_schema_fault(server, body):
    with requests.Session() as session:
        answer = session.post(
            server.url, data=body.encode(), auth=ALICE, timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        assert answer.status_code == 500
        assert _fault_code(answer) == "ErrorSchemaValidation"
        assert "The request failed schema validation" in answer.text
        # the connection was answered, not dropped: the same session goes on
        assert session.post(server.url, data=_find_item("").encode(), auth=ALICE, timeout=30).status_code == 200


def test_a_comment_before_the_request_is_not_content(server):
    answer = requests.post(server.url, data=_find_item("", comment=True).encode(), auth=ALICE, timeout=30)
    assert answer.status_code == 200 and "NoError" in answer.text


# -- restrictions nested deep ------------------------------------------------------------------------------

LEAF = (
    '<t:IsEqualTo><t:FieldURI FieldURI="item:Subject"/><t:FieldURIOrConstant><t:Constant Value="{}"/>'
    "</t:FieldURIOrConstant></t:IsEqualTo>"
)


def _find_item(restriction: str, comment: bool = False) -> str:
    return ENVELOPE.format(
        ("<!-- a client's note -->" if comment else "")
        + '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        + (f"<m:Restriction>{restriction}</m:Restriction>" if restriction else "")
        + '<m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>'
    )


def _find(server: embedded.SandboxHandle, restriction: str) -> tuple[int, list[str], int]:
    """(HTTP status, response codes, items found) of a plain FindItem in Alice's inbox."""
    answer = requests.post(
        server.url,
        data=_find_item(restriction).encode(),
        auth=ALICE,
        timeout=30,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    return (
        answer.status_code,
        re.findall(r"<m:ResponseCode>(\w+)</m:ResponseCode>", answer.text),
        answer.text.count("<t:ItemId "),
    )


@pytest.fixture(scope="module")
def marked(server: embedded.SandboxHandle) -> str:
    subject = "bounds-marked"
    account = connect(server.url, ALICE)
    account.bulk_create(folder=account.inbox, items=[Message(folder=account.inbox, mime_content=mime_message(subject))])
    return subject


def test_two_hundred_nested_nots_are_evaluated(server, marked):
    """201 nodes are within Exchange's documented 255: the restriction is answered, and answered right."""
    leaf = LEAF.format(marked)
    assert _find(server, "<t:Not>" * 200 + leaf + "</t:Not>" * 200) == (200, ["NoError"], 1)
    assert _find(server, "<t:Not>" * 201 + leaf + "</t:Not>" * 201) == (200, ["NoError"], 0)
    assert _find(server, "<t:Not>" * 200 + LEAF.format("no such subject") + "</t:Not>" * 200)[2] == 0


def test_more_than_255_nodes_is_restriction_too_long(server, marked):
    leaf = LEAF.format(marked)
    assert _find(server, "<t:Not>" * 255 + leaf + "</t:Not>" * 255)[:2] == (200, ["ErrorRestrictionTooLong"])
    assert _find(server, "<t:Not>" * 254 + leaf + "</t:Not>" * 254)[:2] == (200, ["NoError"])


def test_and_or_nested_past_what_can_be_evaluated_is_restriction_too_complex(server, marked):
    other = LEAF.format("other")
    restriction = LEAF.format(marked)
    for level in range(60):  # 121 nodes, alternating And/Or so nothing folds away
        kind = "And" if level % 2 else "Or"
        restriction = f"<t:{kind}>{other}{restriction}</t:{kind}>"
    assert _find(server, restriction)[:2] == (200, ["ErrorRestrictionTooComplex"])
