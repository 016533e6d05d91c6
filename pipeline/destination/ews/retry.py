"""The one retry policy for every EWS call: tenacity, exponential back-off with jitter, server hints honoured.

Transient errors are retried up to max_attempts; fatal ones become MailboxFatalError; the rest propagate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from exchangelib import errors as ews_errors
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from pipeline.destination.base import NoSuchMailbox
from pipeline.destination.ews.errors import ErrorKind, MailboxFatalError, back_off_hint, classify, describe
from pipeline.lease import LeaseLost

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: The longest server-requested back-off we honour before treating the server as down.
MAX_HONOURED_BACKOFF = 300.0


@dataclass(slots=True)
class RetryPolicy:
    max_attempts: int = 8
    initial: float = 0.5
    maximum: float = 60.0


class Transient(Exception):
    """A retryable failure, carrying its cause for the back-off hint and the final report."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.cause = cause


def raise_classified(exc: BaseException) -> None:
    """Re-raise exc as what it means: Transient, MailboxFatalError, or itself (a per-item refusal)."""
    kind = classify(exc)
    if kind is ErrorKind.FATAL:
        if isinstance(exc, ews_errors.ErrorNonExistentMailbox):
            raise NoSuchMailbox(describe(exc)) from exc
        raise MailboxFatalError(describe(exc)) from exc
    if kind is ErrorKind.TRANSIENT:
        raise Transient(exc) from exc
    raise exc


def retrying(policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> Retrying:
    def wait(state: RetryCallState) -> float:
        base = wait_exponential_jitter(multiplier=policy.initial, max=policy.maximum, jitter=policy.initial)(state)
        exc = state.outcome.exception() if state.outcome else None
        cause = getattr(exc, "cause", exc)
        hint = back_off_hint(cause) if cause else None
        seconds = max(base, min(hint or 0.0, MAX_HONOURED_BACKOFF))
        log.info(
            "retrying", attempt=state.attempt_number, wait_s=round(seconds, 2), reason=describe(cause) if cause else ""
        )
        return seconds

    return Retrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, Transient)),
        sleep=sleep,
        reraise=True,
    )


def call(fn: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep) -> T:
    """fn() with retries; after the last attempt a transient failure becomes MailboxFatalError."""
    try:
        for attempt in retrying(policy, sleep):
            with attempt:
                try:
                    return fn()
                except (Transient, MailboxFatalError, LeaseLost):
                    raise
                except Exception as exc:  # noqa: BLE001 - classified right here
                    raise_classified(exc)
    except Transient as exc:
        raise MailboxFatalError(f"the server kept failing after {policy.max_attempts} attempts: {exc}") from exc
    raise AssertionError("unreachable")
