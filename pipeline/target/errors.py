"""Classification of EWS and transport errors: retry it, record it against one item, or stop the mailbox.

One table, so the uploader, the folder recreator and the reports agree on what each error means.
"""

from __future__ import annotations

import enum

import requests
from exchangelib import errors as ews

from pipeline.target.http_answers import RequestTooLarge, ThrottledLogin


class ErrorKind(enum.StrEnum):
    TRANSIENT = "transient"  # retry with back-off: the server or network will get better
    ITEM = "item"  # this item will never be accepted as it is: record it, go on
    FATAL = "fatal"  # nothing more can be done for this mailbox: stop it with one clear line


class MailboxFatalError(Exception):
    """Stops one mailbox (bad credentials, no such mailbox, no permission); others go on."""


_TRANSIENT = (
    ews.ErrorServerBusy, ews.ErrorTimeoutExpired, ews.ErrorInternalServerTransientError,
    ews.ErrorMailboxStoreUnavailable, ews.ErrorMailboxMoveInProgress, ews.ErrorConnectionFailed,
    ews.ErrorInternalServerError, ews.ErrorBatchProcessingStopped, ews.ErrorTooManyObjectsOpened,
    ews.RateLimitError, ews.MalformedResponseError, ews.ErrorExceededConnectionCount,
    requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
    ConnectionError, TimeoutError, ThrottledLogin,
)
_FATAL = (
    ews.UnauthorizedError, ews.ErrorNonExistentMailbox, ews.ErrorImpersonateUserDenied,
    ews.ErrorImpersonationDenied, ews.ErrorAccessDenied, ews.ErrorQuotaExceeded,
    ews.ErrorMailboxConfiguration, ews.ErrorInvalidLicense, ews.AutoDiscoverFailed,
    ews.ErrorNoPublicFolderReplicaAvailable, ews.ErrorInvalidSchemaVersionForMailboxVersion,
    ews.ErrorInvalidServerVersion, ews.InvalidTypeError,
)
_ITEM = (
    ews.ErrorMessageSizeExceeded, ews.ErrorItemSave, ews.ErrorInvalidPropertySet, ews.ErrorCorruptData,
    ews.ErrorMimeContentConversionFailed, ews.ErrorInvalidRecipients,
    ews.ErrorInvalidExtendedPropertyValue, ews.ErrorInvalidValueForProperty, ews.ErrorItemCorrupt,
    ews.ErrorCalendarInvalidRecurrence, ews.ErrorInvalidRecipientSubfilter, ews.ErrorDataSizeLimitExceeded,
    ews.ErrorInvalidAttachmentId, ews.ErrorPropertyValidationFailure, ews.ErrorSchemaValidation,
    ews.ErrorCalendarEndDateIsEarlierThanStartDate, ews.ErrorInvalidOperation, ews.ErrorMimeContentInvalid,
    RequestTooLarge,  # HTTP 507/413/404.13: split the batch; an item too large alone fails
)


def classify(exc: BaseException) -> ErrorKind:
    """What to do about exc. Order matters: the tuples above overlap through inheritance."""
    if isinstance(exc, _FATAL):
        return ErrorKind.FATAL
    if isinstance(exc, _ITEM):
        return ErrorKind.ITEM
    if isinstance(exc, _TRANSIENT):
        return ErrorKind.TRANSIENT
    if isinstance(exc, ews.ResponseMessageError):
        return ErrorKind.ITEM  # an unknown refusal of this item: recorded, never retried forever
    if isinstance(exc, ews.TransportError | OSError):
        return ErrorKind.TRANSIENT  # HTTP 5xx, resets, timeouts: the request may be sent again
    return ErrorKind.ITEM


def back_off_hint(exc: BaseException) -> float | None:
    """The server's requested back-off (BackOffMilliseconds or Retry-After) in seconds, if any."""
    value = getattr(exc, "back_off", None)
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return None


def describe(exc: BaseException) -> str:
    """One line for reports: the EWS error name and its message, never a body or a secret."""
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
