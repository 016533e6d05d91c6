"""The shapes of real Exchange fault answers, fed to exchangelib with `responses`, through our uploader.

Checks that the error table and back-off hints work on what Exchange actually sends, not on our guesses.
"""

from __future__ import annotations

import re

import pytest
import responses
from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, FailFast, Version
from exchangelib.folders import Inbox, Root

from pipeline.destination.ews.errors import MailboxFatalError
from pipeline.destination.ews.retry import RetryPolicy
from pipeline.destination.ews.upload import Uploader
from pipeline.fingerprint import PROPERTY_NAME, PROPERTY_SET
from pipeline.model import UploadItem

URL = "https://mail.example.test/EWS/Exchange.asmx"
HEADER = (
    '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
    'MinorBuildNumber="6" Version="V2017_07_11" '
    'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/></s:Header>'
)
ENVELOPE = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">{header}<s:Body>{body}</s:Body></s:Envelope>'
)
M = 'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"'
T = 'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'

SERVER_BUSY = ENVELOPE.format(
    header="",
    body=(
        '<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy'
        '</faultcode><faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.'
        '</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        'ErrorServerBusy</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        "The server cannot service this request right now. Try again later.</e:Message>"
        f'<t:MessageXml {T}><t:Value Name="BackOffMilliseconds">1500</t:Value></t:MessageXml></detail></s:Fault>'
    ),
)


def create_response(*codes: str) -> str:
    messages = []
    for index, code in enumerate(codes):
        if code == "NoError":
            messages.append(
                '<m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                f'</m:ResponseCode><m:Items><t:Message><t:ItemId Id="ID{index}" ChangeKey="CK"/>'
                "</t:Message></m:Items></m:CreateItemResponseMessage>"
            )
        else:
            messages.append(
                f'<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>{code} happened'
                f"</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0"
                "</m:DescriptiveLinkKey><m:Items/></m:CreateItemResponseMessage>"
            )
    body = f"<m:CreateItemResponse {M} {T}><m:ResponseMessages>{''.join(messages)}</m:ResponseMessages></m:CreateItemResponse>"
    return ENVELOPE.format(header=HEADER, body=body)


def find_response(fingerprints: list[str]) -> str:
    items = "".join(
        f'<t:Message><t:ItemId Id="F{i}" ChangeKey="CK"/><t:ExtendedProperty><t:ExtendedFieldURI '
        f'PropertySetId="{PROPERTY_SET}" PropertyName="{PROPERTY_NAME}" '
        f'PropertyType="String"/><t:Value>{fp}</t:Value></t:ExtendedProperty></t:Message>'
        for i, fp in enumerate(fingerprints)
    )
    body = (
        f'<m:FindItemResponse {M} {T}><m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Success">'
        f'<m:ResponseCode>NoError</m:ResponseCode><m:RootFolder IndexedPagingOffset="{len(fingerprints)}" '
        f'TotalItemsInView="{len(fingerprints)}" IncludesLastItemInRange="true"><t:Items>{items}</t:Items>'
        "</m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse>"
    )
    return ENVELOPE.format(header=HEADER, body=body)


ROOT_FOLDER = ENVELOPE.format(
    header=HEADER,
    body=(
        f'<m:GetFolderResponse {M} {T}><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success">'
        '<m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id="ROOTID" ChangeKey="CK"/>'
        "<t:DisplayName>root</t:DisplayName><t:TotalCount>0</t:TotalCount><t:ChildFolderCount>1</t:ChildFolderCount>"
        "<t:UnreadCount>0</t:UnreadCount></t:Folder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages>"
        "</m:GetFolderResponse>"
    ),
)


def upload(n: int) -> UploadItem:
    return UploadItem(
        kind="message",
        item_class="IPM.Note",
        folder_path=("Inbox",),
        identity=f"fp{n}",
        subject=f"s{n}",
        source_node_id=n,
        mime=b"Subject: s\r\n\r\nbody\r\n",
    )


@pytest.fixture
def ews():
    config = Configuration(
        service_endpoint=URL,
        credentials=Credentials("u", "p"),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
        retry_policy=FailFast(),
    )
    account = Account("user@example.test", config=config, autodiscover=False, access_type=DELEGATE)
    folder = Inbox(root=Root(account=account, id="ROOTID", changekey="CK"), id="INBOXID", changekey="CK")
    waits: list[float] = []
    outcomes: list = []
    uploader = Uploader(
        account, outcomes.extend, RetryPolicy(max_attempts=3, initial=0.01, maximum=0.02), sleep=waits.append
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock, uploader, folder, outcomes, waits


def script(mock: responses.RequestsMock, answers: list[tuple[int, str]]) -> list[str]:
    """Answer successive POSTs in order (exchangelib's own GetFolder of the root aside); returns the
    operations the client sent."""
    sent: list[str] = []

    def callback(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        operation = re.search(r"<m:(\w+)[ >]", body).group(1)
        if operation == "GetFolder":
            return 200, {"Content-Type": "text/xml; charset=utf-8"}, ROOT_FOLDER
        sent.append(operation)
        status, text = answers.pop(0)
        return status, {"Content-Type": "text/xml; charset=utf-8"}, text

    mock.add_callback(responses.POST, URL, callback=callback)
    return sent


def test_server_busy_honours_back_off_milliseconds(ews):
    mock, uploader, folder, outcomes, waits = ews
    sent = script(mock, [(500, SERVER_BUSY), (200, find_response([])), (200, create_response("NoError"))])
    uploader.send(folder, [upload(1)])
    assert sent == ["CreateItem", "FindItem", "CreateItem"]
    assert waits and waits[0] >= 1.5, "BackOffMilliseconds must be honoured"
    assert [o.state for o in outcomes] == ["uploaded"]


def test_http_503_then_the_items_found_stored_are_not_resent(ews):
    mock, uploader, folder, outcomes, waits = ews
    sent = script(
        mock, [(503, "Service Unavailable"), (200, find_response(["fp1"])), (200, create_response("NoError"))]
    )
    uploader.send(folder, [upload(1), upload(2)])
    assert sent == ["CreateItem", "FindItem", "CreateItem"]
    assert {o.item.identity: o.state for o in outcomes} == {"fp1": "present", "fp2": "uploaded"}


def test_per_item_size_exceeded_is_recorded_for_that_item_only(ews):
    mock, uploader, folder, outcomes, _ = ews
    script(mock, [(200, create_response("NoError", "ErrorMessageSizeExceeded", "NoError"))])
    uploader.send(folder, [upload(1), upload(2), upload(3)])
    states = {o.item.identity: o.state for o in outcomes}
    assert states == {"fp1": "uploaded", "fp2": "failed", "fp3": "uploaded"}


def test_no_such_mailbox_is_fatal(ews):
    mock, uploader, folder, _, _ = ews
    script(mock, [(200, create_response("ErrorNonExistentMailbox"))])
    with pytest.raises(MailboxFatalError, match="ErrorNonExistentMailbox"):
        uploader.send(folder, [upload(1)])


# -- HTTP answers exchangelib's fail-fast policy misreads (pipeline/destination/ews/http_answers.py) -----------------
#: On-premises Exchange refusing a 76 MB request (exchangelib issue #590): 507, empty body, Connection: close.
HTTP_507 = (507, "", {"Connection": "close", "Content-Length": "0"})
#: IIS request filtering (requestLimits maxAllowedContentLength): 404.13 with its error page.
HTTP_404_13 = (
    404,
    "<html><body><h3>HTTP Error 404.13 - Not Found</h3><p>The request filtering module is "
    "configured to deny a request that exceeds the request content length.</p></body></html>",
    {},
)


@pytest.fixture
def ours():
    """The uploader on the project's own retry policy (RebuildFailFast), as connect.open_account sets it."""
    import uuid

    from pipeline.destination.ews.http_answers import RebuildFailFast

    # a login of its own: exchangelib caches one protocol (and its retry policy) per endpoint and login
    config = Configuration(
        service_endpoint=URL,
        credentials=Credentials(uuid.uuid4().hex, "p"),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 6)),
        retry_policy=RebuildFailFast(),
    )
    account = Account("user@example.test", config=config, autodiscover=False, access_type=DELEGATE)
    folder = Inbox(root=Root(account=account, id="ROOTID", changekey="CK"), id="INBOXID", changekey="CK")
    waits: list[float] = []
    outcomes: list = []
    uploader = Uploader(
        account, outcomes.extend, RetryPolicy(max_attempts=3, initial=0.01, maximum=0.02), sleep=waits.append
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock, uploader, folder, outcomes, waits


def answer(mock: responses.RequestsMock, answers: list[tuple[int, str, dict[str, str]]]) -> list[str]:
    """Like script(), with headers per answer (GetFolder of the root answered 200 on the side)."""
    sent: list[str] = []

    def callback(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        operation = re.search(r"<m:(\w+)[ >]", body).group(1)
        if operation == "GetFolder":
            return 200, {"Content-Type": "text/xml; charset=utf-8"}, ROOT_FOLDER
        sent.append(operation)
        status, text, headers = answers.pop(0)
        return status, {"Content-Type": "text/xml; charset=utf-8", **headers}, text

    mock.add_callback(responses.POST, URL, callback=callback)
    return sent


@pytest.mark.parametrize("too_large", [HTTP_507, HTTP_404_13], ids=["507-close", "404.13"])
def test_request_too_large_splits_the_batch_instead_of_retrying(ours, too_large):
    mock, uploader, folder, outcomes, waits = ours
    sent = answer(
        mock,
        [
            too_large,
            (200, find_response([]), {}),
            (200, create_response("NoError"), {}),
            (200, create_response("NoError"), {}),
        ],
    )
    uploader.send(folder, [upload(1), upload(2)])
    assert sent == ["CreateItem", "FindItem", "CreateItem", "CreateItem"]  # no resend of the whole request
    assert waits == []
    assert [o.state for o in outcomes] == ["uploaded", "uploaded"]


def test_single_item_too_large_fails_alone_without_retries(ours):
    mock, uploader, folder, outcomes, waits = ours
    sent = answer(mock, [HTTP_507])
    uploader.send(folder, [upload(1)])
    assert sent == ["CreateItem"] and waits == []
    [outcome] = outcomes
    assert outcome.state == "failed" and "RequestTooLarge" in (outcome.error or "")


def test_http_401_after_answers_is_throttling_and_retried(ours):
    mock, uploader, folder, outcomes, waits = ours
    sent = answer(
        mock,
        [
            (200, create_response("NoError"), {}),
            (401, "", {"WWW-Authenticate": "Basic"}),
            (200, find_response([]), {}),
            (200, create_response("NoError"), {}),
        ],
    )
    uploader.send(folder, [upload(1)])
    uploader.send(folder, [upload(2)])
    assert sent == ["CreateItem", "CreateItem", "FindItem", "CreateItem"]
    assert len(waits) == 1
    assert [o.state for o in outcomes] == ["uploaded", "uploaded"]


def test_http_401_before_any_answer_is_a_login_failure(ours):
    mock, uploader, folder, _, _ = ours

    def refuse(request):
        return 401, {"WWW-Authenticate": "Basic"}, ""

    mock.add_callback(responses.POST, URL, callback=refuse)
    with pytest.raises(MailboxFatalError, match="UnauthorizedError"):
        uploader.send(folder, [upload(1)])


def test_exchangelibs_own_back_off_for_a_lost_connection_is_not_honoured():
    """exchangelib re-raises a lost connection as ErrorServerBusy with a made-up 10 s back-off: only a
    server's own BackOffMilliseconds (or Retry-After) makes us wait that long."""
    from exchangelib.errors import ErrorServerBusy, ErrorTimeoutExpired

    from pipeline.destination.ews.errors import back_off_hint

    try:
        try:
            raise ErrorTimeoutExpired("Reraised from ConnectionError(reset)")
        except ErrorTimeoutExpired as lost:
            raise ErrorServerBusy(f"Reraised from {lost!r}", back_off=10) from None
    except ErrorServerBusy as made_up:
        assert back_off_hint(made_up) is None
    assert back_off_hint(ErrorServerBusy("busy", back_off=2.5)) == 2.5
