"""Can the EWS server be reached at all? One plain HTTP request, retried within a small budget shown on the
console, before any mailbox work starts: a server that is down ends the run in one line, not after minutes.

Any HTTP answer (401 included) means the server is there; transport failures count as unreachable, and so
does a 404 (a web server without EWS at that path), at once.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

#: Waits between attempts (seconds): the whole budget is shown to the admin before it is spent.
DEFAULT_WAITS = (1.0, 3.0)
PROBE_TIMEOUT = 10.0


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def public_url(url: str) -> str:
    """url without the user name and password it may carry (http://user:pw@host/... -> http://host/...): the
    only form of a server URL the console, the logs and the closing lines show."""
    return _USERINFO.sub(r"\1", url)


class Unreachable(Exception):
    """The server gave no HTTP answer within the budget: url, reason in words, attempts made."""

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        url = public_url(url)
        super().__init__(url, reason, attempts)
        self.url, self.reason, self.attempts = url, reason, attempts

    def __str__(self) -> str:
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"cannot reach {self.url}: {self.reason} ({tries})"


def reason_in_words(exc: BaseException) -> str:
    """A transport failure in a few words, without requests' nested reprs."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (certificate not trusted? see --ca-bundle)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer in time"
    for needle, words in (
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("getaddrinfo failed", "unknown host name"),
        ("Failed to resolve", "unknown host name"),
        ("Connection refused", "connection refused"),
        ("actively refused", "connection refused"),
        ("Network is unreachable", "network unreachable"),
        ("No route to host", "no route to host"),
        ("Connection reset", "connection reset"),
    ):
        if needle in text:
            return words
    if isinstance(
        exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema
    ):
        return "not a valid http(s) URL"
    return type(exc).__name__


def check_reachable(
    url: str,
    ca_bundle: str = "",
    waits: tuple[float, ...] = DEFAULT_WAITS,
    timeout: float = PROBE_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] | None = None,
) -> None:
    """Return when url answers HTTP (other than 404); raise Unreachable after len(waits) + 1 attempts."""
    say = say or (lambda line: print(line, file=sys.stderr))
    attempts = len(waits) + 1
    reason = ""
    for attempt in range(1, attempts + 1):
        try:
            with requests.get(url, timeout=timeout, verify=ca_bundle or True, allow_redirects=False) as answer:
                if answer.status_code == 404:  # a web server, but no EWS there: retrying will not help
                    raise Unreachable(url, "HTTP 404, no EWS endpoint at this URL", attempt)
            return
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise Unreachable(url, reason_in_words(exc), attempt) from None
        except requests.exceptions.RequestException as exc:
            reason = reason_in_words(exc)
        if attempt < attempts:
            wait = waits[attempt - 1]
            say(
                f"rebuild: cannot reach {public_url(url)}: {reason}; trying again in {wait:g} s "
                f"(attempt {attempt} of {attempts})"
            )
            sleep(wait)
    raise Unreachable(url, reason, attempts)


def check_target(settings: Any) -> None:
    """Before anything is read or sent: the flags a real server needs (a usage error, exit 2), then one
    request proving it answers (Unreachable otherwise)."""
    from pipeline.errors import UsageError

    if settings.auth != "oauth" and not settings.username:
        raise UsageError("--server needs --username (the account to log in as; password from REBUILD_PASSWORD)")
    if not settings.server.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"--server {public_url(settings.server)!r} is not an http(s) URL "
            "(e.g. https://mail.corp.example/EWS/Exchange.asmx)"
        )
    check_reachable(settings.server, settings.ca_bundle)
