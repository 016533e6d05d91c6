"""SOAP envelopes, EWS response messages, SOAP faults and the ServerVersionInfo header, built as text.

Responses are assembled as strings rather than trees because that is the cheapest way to answer fast.
"""

from __future__ import annotations

from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"

#: What an Exchange 2016 CU23 answers; exchangelib reads the build and trusts "Exchange2016" for V2017_07_11.
SERVER_VERSION = dict(major=15, minor=1, major_build=2507, minor_build=6, version="V2017_07_11")

_HEADER = (
    '<s:Header><h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
    'MajorBuildNumber="{major_build}" MinorBuildNumber="{minor_build}" Version="{version}" '
    'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header>'
).format(**SERVER_VERSION)

_ENVELOPE_START = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<s:Envelope xmlns:s="{SOAP_NS}">{_HEADER}'
    '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
)
_ENVELOPE_END = "</s:Body></s:Envelope>"


def esc(text: object) -> str:
    """Escape text content (and quotes, so the result is also safe inside double-quoted attributes)."""
    return _escape(str(text), {'"': "&quot;"})


def attr(value: object) -> str:
    return quoteattr(str(value))


def envelope(body_xml: str) -> bytes:
    return (_ENVELOPE_START + body_xml + _ENVELOPE_END).encode("utf-8")


def operation_response(operation: str, messages: list[str]) -> str:
    """The <m:XResponse> wrapper around one response message per requested object."""
    return (
        f'<m:{operation}Response xmlns:m="{M_NS}" xmlns:t="{T_NS}"><m:ResponseMessages>'
        + "".join(messages)
        + f"</m:ResponseMessages></m:{operation}Response>"
    )


def success(operation: str, inner: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{operation}ResponseMessage>"
    )


def error(operation: str, code: str, text: str, inner: str = "", message_xml: str = "") -> str:
    """A response message with ResponseClass="Error"; `inner` is the empty container Exchange still sends."""
    xml = f"<m:MessageXml>{message_xml}</m:MessageXml>" if message_xml else ""
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{esc(text)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{xml}"
        f"{inner}</m:{operation}ResponseMessage>"
    )


def fault(code: str, text: str, message_xml: str = "") -> bytes:
    """A SOAP fault as Exchange sends it for request-level errors (always with HTTP 500)."""
    detail_xml = f'<t:MessageXml xmlns:t="{T_NS}">{message_xml}</t:MessageXml>' if message_xml else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{T_NS}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{esc(text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="{E_NS}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E_NS}">{esc(text)}</e:Message>{detail_xml}</detail>'
        "</s:Fault></s:Body></s:Envelope>"
    )
    return body.encode("utf-8")


def server_busy_fault(back_off_ms: int) -> bytes:
    return fault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        f'<t:Value Name="BackOffMilliseconds">{int(back_off_ms)}</t:Value>',
    )


def schema_fault(violation: str, line: int, position: int) -> bytes:
    """ErrorSchemaValidation, HTTP 500, as Exchange words it: "The request failed schema validation: <what>"
    (learn.microsoft.com/archive/blogs/dhruvkh/the-request-failed-schema-validation-but-why), the line,
    position and violation in MessageXml."""
    return fault(
        "ErrorSchemaValidation",
        f"The request failed schema validation: {violation}",
        f"<t:LineNumber>{line}</t:LineNumber><t:LinePosition>{position}</t:LinePosition>"
        f"<t:Violation>{esc(violation)}</t:Violation>",
    )
