"""Classification of EWS and transport errors: retry it, record it against one item, or stop the mailbox.

One table, so the uploader, the folder recreator and the reports agree on what each error means.
"""

from __future__ import annotations

import enum
import re

import requests
from exchangelib import errors as ews

from pipeline.destination.base import MailboxFatalError
from pipeline.destination.ews.http_answers import RequestTooLarge, ThrottledLogin

__all__ = ["SIZE_ERRORS", "ErrorKind", "is_size_refusal", "MailboxFatalError", "back_off_hint", "classify", "describe"]


class ErrorKind(enum.StrEnum):
    TRANSIENT = "transient"  # retry with back-off: the server or network will get better
    ITEM = "item"  # this item will never be accepted as it is: record it, go on
    FATAL = "fatal"  # nothing more can be done for this mailbox: stop it with one clear line


#: Refusals for size: the item (or request) is too big for this server, never worth a retry.
SIZE_ERRORS = (ews.ErrorMessageSizeExceeded, ews.ErrorDataSizeLimitExceeded, RequestTooLarge)
#: HTTP statuses IIS and Exchange answer an oversized request with (exchangelib reports them as
#: MalformedResponseError "Unknown failure in response. Code: 413 …").
_SIZE_STATUS = re.compile(r"\bCode: 413\b")


def is_size_refusal(exc: BaseException) -> bool:
    """The server refused the request (or the item) for its size: split it, or report the item."""
    return isinstance(exc, SIZE_ERRORS) or (
        isinstance(exc, ews.MalformedResponseError) and bool(_SIZE_STATUS.search(str(exc)))
    )


_TRANSIENT = (
    ews.ErrorServerBusy,
    ews.ErrorTimeoutExpired,
    ews.ErrorInternalServerTransientError,
    ews.ErrorMailboxStoreUnavailable,
    ews.ErrorMailboxMoveInProgress,
    ews.ErrorConnectionFailed,
    ews.ErrorInternalServerError,
    ews.ErrorBatchProcessingStopped,
    ews.ErrorTooManyObjectsOpened,
    ews.RateLimitError,
    ews.MalformedResponseError,
    ews.ErrorExceededConnectionCount,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
    ThrottledLogin,
)
_FATAL = (
    ews.UnauthorizedError,
    ews.ErrorNonExistentMailbox,
    ews.ErrorImpersonateUserDenied,
    ews.ErrorImpersonationDenied,
    ews.ErrorAccessDenied,
    ews.ErrorQuotaExceeded,
    ews.ErrorMailboxConfiguration,
    ews.ErrorInvalidLicense,
    ews.AutoDiscoverFailed,
    ews.ErrorNoPublicFolderReplicaAvailable,
    ews.ErrorInvalidSchemaVersionForMailboxVersion,
    ews.ErrorInvalidServerVersion,
    ews.InvalidTypeError,
)
_ITEM = (
    ews.ErrorMessageSizeExceeded,
    ews.ErrorItemSave,
    ews.ErrorInvalidPropertySet,
    ews.ErrorCorruptData,
    ews.ErrorMimeContentConversionFailed,
    ews.ErrorInvalidRecipients,
    ews.ErrorInvalidExtendedPropertyValue,
    ews.ErrorInvalidValueForProperty,
    ews.ErrorItemCorrupt,
    ews.ErrorCalendarInvalidRecurrence,
    ews.ErrorInvalidRecipientSubfilter,
    ews.ErrorDataSizeLimitExceeded,
    ews.ErrorInvalidAttachmentId,
    ews.ErrorPropertyValidationFailure,
    ews.ErrorSchemaValidation,
    ews.ErrorCalendarEndDateIsEarlierThanStartDate,
    ews.ErrorInvalidOperation,
    ews.ErrorMimeContentInvalid,
    RequestTooLarge,  # HTTP 507/413/404.13: split the batch; an item too large alone fails
)


def classify(exc: BaseException) -> ErrorKind:
    """What to do about exc. Order matters: the tuples above overlap through inheritance."""
    if isinstance(exc, _FATAL):
        return ErrorKind.FATAL
    if is_size_refusal(exc):
        return ErrorKind.ITEM
    if isinstance(exc, _ITEM):
        return ErrorKind.ITEM
    if isinstance(exc, _TRANSIENT):
        return ErrorKind.TRANSIENT
    if isinstance(exc, ews.ResponseMessageError):
        return ErrorKind.ITEM  # an unknown refusal of this item: recorded, never retried forever
    if isinstance(exc, ews.TransportError | OSError):
        return ErrorKind.TRANSIENT  # HTTP 5xx, resets, timeouts: the request may be sent again
    return ErrorKind.ITEM


#: What exchangelib turns into an ErrorServerBusy of its own, with its own fixed back-off (10 s, doubled per
#: attempt) that no server asked for: a lost connection above all (a request committed but never answered).
_SELF_MADE_BUSY = (ews.ErrorTimeoutExpired, ews.ErrorTooManyObjectsOpened, ews.ErrorInternalServerTransientError)


def back_off_hint(exc: BaseException) -> float | None:
    """The server's requested back-off (BackOffMilliseconds or Retry-After) in seconds, if any; never the
    back-off exchangelib makes up itself when it re-raises a lost connection as ErrorServerBusy."""
    if isinstance(exc, ews.ErrorServerBusy) and isinstance(exc.__context__, _SELF_MADE_BUSY):
        return None
    value = getattr(exc, "back_off", None)
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return None


def describe(exc: BaseException) -> str:
    """One line for reports: the EWS error name and its message, never a body or a secret."""
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
