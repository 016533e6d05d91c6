"""HTTP answers that exchangelib's fail-fast policy misreads, turned into what they mean for the uploader.

- HTTP 507 (on-premises Exchange refusing a large request, with `Connection: close`), 413 and IIS's
  404.13 (request filtering: the body exceeds maxAllowedContentLength) mean "this request is too large":
  `RequestTooLarge`, classified as a refusal of the request's content (the batch is split, an item that is
  too large alone fails) instead of being retried as a busy server.
- HTTP 401 after this account has already been answered: Exchange uses 401 to throttle (exchangelib's own
  fault-tolerant policy retries it), so it becomes `ThrottledLogin`, retried with our back-off (not
  ErrorServerBusy, which exchangelib would give a fixed 10 s back-off and answer by shrinking its pool); a
  401 before any answer is still a login failure (UnauthorizedError, fatal for the mailbox).
"""

from __future__ import annotations

from typing import Any

from exchangelib import FailFast
from exchangelib import errors as ews


class RequestTooLarge(ews.TransportError):
    """The server refused the request for its size (HTTP status and IIS substatus kept)."""

    def __init__(self, status: int, substatus: int | None = None) -> None:
        shown = f"{status}.{substatus}" if substatus is not None else str(status)
        super().__init__(f"HTTP {shown}: the request is too large for the server")
        self.status = status
        self.substatus = substatus


class ThrottledLogin(ews.TransportError):
    """HTTP 401 on an account the server has already answered: throttling, to be retried."""


def too_large(status: int, body: bytes) -> RequestTooLarge | None:
    """The RequestTooLarge an answer means, or None."""
    if status in (413, 507):
        return RequestTooLarge(status)
    if status == 404 and b"404.13" in body[:4096]:
        return RequestTooLarge(404, 13)
    return None


class RebuildFailFast(FailFast):
    """exchangelib's fail-fast policy (tenacity owns retries) with the answers above read correctly."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = False  # has the server answered this account with HTTP 200 yet?

    def raise_response_errors(self, response: Any) -> None:
        status = response.status_code
        if status == 200:
            self.answered = True
            return
        refused = too_large(status, response.content or b"")
        if refused is not None:
            raise refused
        if status == 401 and self.answered:
            raise ThrottledLogin("HTTP 401 after successful requests (Exchange throttling)")
        super().raise_response_errors(response)
