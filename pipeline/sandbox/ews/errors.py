"""EWS errors on the wire: one response message in error, or a SOAP fault for the whole request.

Raised anywhere below the EWS dispatch (operations, the request's faults) and turned into XML by it.
"""

from __future__ import annotations


class ResponseError(Exception):
    """An error answered in one response message (ResponseClass="Error"), not for the whole request."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class RequestFault(Exception):
    """An error answered as a SOAP fault for the whole request (HTTP 500)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
