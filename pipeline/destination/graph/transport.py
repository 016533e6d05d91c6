"""HTTP to Graph for one mailbox: httpx (HTTP/2 where the server offers it, one pooled connection set),
at most MAX_IN_FLIGHT requests at once (Graph's 4 concurrent requests per app and mailbox), Retry-After
honoured by every request of the mailbox (lanes.py), the lease's requests ahead of the others, exponential
back-off with jitter otherwise, and typed errors. The lease fence is checked right before each request
goes out, after any wait for a slot, a Retry-After or the upload pacing.

An error is transient (429, 5xx, a lost connection: retried), about one item (400, 413, 404 on an item:
reported, the rest goes on) or fatal for the mailbox (401 after a fresh token, 403, an unknown user).
"""

from __future__ import annotations

import enum
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pipeline.destination.base import MailboxFatalError, NoSuchMailbox
from pipeline.destination.graph.connect import GraphTarget, Tokens
from pipeline.destination.graph.lanes import CHECK_EVERY, Lane, Lanes, ScriptedTime
from pipeline.lease import check_fence, current_fence, note_lease_write

#: httpx logs every request at INFO (URLs name mailboxes and folders): only its warnings reach our logs.
for _name in ("httpx", "httpcore", "hpack"):
    logging.getLogger(_name).setLevel(logging.WARNING)

MAX_IN_FLIGHT = 4
#: $batch parts Graph runs at once (learn.microsoft.com/graph/json-batching; each counts against MAX_IN_FLIGHT).
BATCH_PARALLEL = 4
#: Bytes uploaded per window per mailbox (Graph's 150 MB per 5 minutes), paced on our side.
UPLOAD_BUDGET = 150 * 1024 * 1024
UPLOAD_WINDOW = 300.0
#: Requests per window per app and mailbox (Graph's 10,000 per 10 minutes), paced on our side.
REQUEST_BUDGET = 10_000
REQUEST_WINDOW = 600.0


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"
    ITEM = "item"
    FATAL = "fatal"


@dataclass(slots=True)
class GraphError(Exception):
    status: int
    code: str
    message: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message[:200]}"

    @property
    def kind(self) -> ErrorKind:
        return classify(self.status, self.code)


class Unanswered(Exception):
    """The request may have reached the server but no answer came (reset, timeout, dropped)."""


def classify(status: int, code: str) -> ErrorKind:
    if status in (429, 500, 502, 503, 504) or status == 0:
        return ErrorKind.TRANSIENT
    if status in (401, 403) or code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ErrorAccessDenied"):
        return ErrorKind.FATAL
    return ErrorKind.ITEM


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    initial: float = 0.5
    maximum: float = 60.0


class Pacer:
    """Keeps what is sent in any window (bytes uploaded, or requests) under a budget by waiting before a
    request; a request bigger than the whole budget goes alone."""

    def __init__(self, budget: int = UPLOAD_BUDGET, window: float = UPLOAD_WINDOW) -> None:
        self.budget, self.window = budget, window
        self._sent: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def admit(self, size: int, sleep: Callable[[float], None] = time.sleep) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and self._sent[0][0] <= now - self.window:
                    self._used -= self._sent.popleft()[1]
                if not self._sent or self._used + size <= self.budget:
                    self._sent.append((now, size))
                    self._used += size
                    return
                wait = self._sent[0][0] + self.window - now
            sleep(max(wait, 0.05))


class GraphHttp:
    """Requests for one mailbox, relative to /v1.0/users/{mailbox} (or /beta/… for beta actions)."""

    def __init__(
        self,
        target: GraphTarget,
        mailbox: str,
        policy: RetryPolicy | None = None,
        in_flight: int = MAX_IN_FLIGHT,
        sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
        tokens: Any = None,
    ) -> None:
        """client and tokens are made from target unless given (tests give scripted ones)."""
        self.target = target
        self.mailbox = mailbox
        self.policy = policy or RetryPolicy()
        self.sleep: Callable[[float], None]
        if sleep is time.sleep:
            self.sleep = sleep
            self.lanes = Lanes(min(in_flight, MAX_IN_FLIGHT))
        else:  # a scripted sleep: Retry-After holds pass on the clock it moves
            scripted = ScriptedTime(sleep)
            self.sleep = scripted.sleep
            self.lanes = Lanes(min(in_flight, MAX_IN_FLIGHT), scripted.clock, scripted.sleep)
        secure = target.graph_url.startswith("https://")
        self.client = client or httpx.Client(
            http2=secure,
            timeout=target.timeout,
            limits=httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
        )
        self.tokens = tokens or Tokens(target, self.client)
        self.pacer = Pacer(
            int(getattr(target, "upload_budget", UPLOAD_BUDGET)), float(getattr(target, "upload_window", UPLOAD_WINDOW))
        )
        # Graph's requests per window: the items' requests are kept under it less a share for the lease's
        # renewals, which are not paced, so that a renewal never meets a Retry-After the items caused
        budget = int(getattr(target, "request_budget", REQUEST_BUDGET))
        self.request_pacer = Pacer(
            max(1, budget - max(5, budget // 50)), float(getattr(target, "request_window", REQUEST_WINDOW))
        )
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def url(self, path: str, beta: bool = False) -> str:
        if path.startswith("http"):
            return path  # an @odata.nextLink
        version = "beta" if beta else "v1.0"
        if path.startswith("/$batch"):
            return f"{self.target.graph_url.rstrip('/')}/{version}/$batch"
        return f"{self.target.graph_url.rstrip('/')}/{version}/users/{self.mailbox}{path}"

    def once(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        beta: bool = False,
        lane: Lane = Lane.ITEMS,
        width: int = 1,
    ) -> Any:
        """One request, no retry: the answer's JSON (None when empty), GraphError, or Unanswered; LeaseLost
        instead once the run's lease fence has passed (nothing is sent)."""
        check_fence()
        size = len(content) if content is not None else len(json.dumps(json_body)) if json_body is not None else 0
        if lane is Lane.ITEMS:
            parts = len(json_body.get("requests") or ()) if path == "/$batch" and isinstance(json_body, dict) else 1
            self.request_pacer.admit(max(1, parts), self.sleep)  # each part of a $batch counts
            if size and method != "GET":  # every upload counts against Graph's budget
                self.pacer.admit(size, self.sleep)
        all_headers = {"Authorization": self.tokens.header(), **(headers or {})}
        with self.lanes.slot(lane, check_fence, width):
            check_fence()  # the wait for a slot or a Retry-After may have outlasted the fence
            if lane is Lane.LEASE and method != "GET":
                note_lease_write()
            with self._lock:
                self.requests += 1
            try:
                response = self.client.request(
                    method, self.url(path, beta), json=json_body, content=content, headers=all_headers, params=params
                )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise Unanswered(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            error = error_of(response.status_code, response.content, response.headers.get("Retry-After"))
            if error.retry_after is not None and error.kind is ErrorKind.TRANSIENT:
                self.lanes.hold(error.retry_after)  # the whole mailbox waits, the lease included
            raise error
        if not response.content:
            return None
        return response.json()

    def call(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        """The request with retries for transient errors; a non-idempotent request that went unanswered is
        not repeated here (Unanswered is raised so the caller checks what landed first)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.once(method, path, **kwargs)
            except Unanswered:
                if not idempotent or attempt >= self.policy.max_attempts:
                    raise
                self._wait(attempt, None)
            except GraphError as exc:
                if exc.kind is ErrorKind.FATAL:
                    refused = NoSuchMailbox if exc.code == "ErrorInvalidUser" else MailboxFatalError
                    raise refused(f"Graph refused the mailbox {self.mailbox}: {exc}") from exc
                if exc.kind is ErrorKind.ITEM or attempt >= self.policy.max_attempts:
                    raise
                if exc.status >= 500 and not idempotent:
                    raise
                if kwargs.get("lane") is Lane.LEASE and exc.retry_after is not None:
                    with self._lock:
                        self.retries += 1
                        self.throttled += 1
                    continue  # the lease's slot waits out the Retry-After itself, and not a moment longer
                self._wait(attempt, exc.retry_after)

    def put_range(self, url: str, chunk: bytes, start: int, total: int) -> None:
        """One range of an upload session (its URL is pre-authenticated: no token is sent), retried alike."""
        headers = {
            "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}",
            "Content-Type": "application/octet-stream",
        }
        for attempt in range(1, self.policy.max_attempts + 1):
            self.pacer.admit(len(chunk), self.sleep)
            check_fence()
            try:
                with self.lanes.slot(Lane.ITEMS, check_fence):
                    check_fence()
                    response = self.client.put(url, content=chunk, headers=headers)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == self.policy.max_attempts:
                    raise Unanswered(f"{type(exc).__name__}: {exc}") from exc
                self._wait(attempt, None)
                continue
            if response.status_code < 400:
                return
            error = error_of(response.status_code, response.content, response.headers.get("Retry-After"))
            if error.retry_after is not None and error.kind is ErrorKind.TRANSIENT:
                self.lanes.hold(error.retry_after)
            if error.kind is not ErrorKind.TRANSIENT or attempt == self.policy.max_attempts:
                raise error
            self._wait(attempt, error.retry_after)

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        with self._lock:
            self.retries += 1
            if retry_after is not None:
                self.throttled += 1
        if retry_after is not None:
            delay = retry_after + random.uniform(0, 0.25)
        else:
            delay = min(self.policy.maximum, self.policy.initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if current_fence() is None:
            self.sleep(delay)
            return
        while delay > 0:  # a run holding a lease stops waiting as soon as its fence has passed
            check_fence()
            self.sleep(min(delay, CHECK_EVERY))
            delay -= CHECK_EVERY
        check_fence()

    def pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every entry of a collection, following @odata.nextLink."""
        out: list[dict[str, Any]] = []
        page = self.call("GET", path, params=params)
        while True:
            out.extend(page.get("value") or [])
            link = page.get("@odata.nextLink")
            if not link:
                return out
            page = self.call("GET", link)

    def batch(self, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """One $batch (at most 20 requests; relative urls under /users/{mailbox}); answers by request id,
        each {status, body, headers}. Sub-requests answered 429 or 5xx are sent again after Retry-After."""
        pending = {r["id"]: r for r in requests}
        answers: dict[str, dict[str, Any]] = {}
        attempt = 0
        while pending:
            attempt += 1
            wire = [{**r, "url": f"/users/{self.mailbox}{r['url']}"} for r in pending.values()]
            # Graph runs up to BATCH_PARALLEL parts at once, each counted against the mailbox's concurrency:
            # the batch takes that many of this mailbox's slots, so parts and other requests never exceed it
            result = self.call("POST", "/$batch", json_body={"requests": wire}, width=min(len(wire), BATCH_PARALLEL))
            retry_after = 0.0
            for answer in result.get("responses") or []:
                rid = str(answer.get("id"))
                status = int(answer.get("status", 0))
                if classify(status, "") is ErrorKind.TRANSIENT and attempt < self.policy.max_attempts:
                    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
                    retry_after = max(retry_after, float(headers.get("retry-after") or 1))
                    continue
                answers[rid] = answer
                pending.pop(rid, None)
            if pending:
                self.lanes.hold(retry_after)
                self._wait(attempt, retry_after)
        return answers

    def close(self) -> None:
        self.client.close()


def error_of(status: int, content: bytes, retry_after: str | None = None) -> GraphError:
    code, message = "", ""
    try:
        data = json.loads(content or b"{}")
        inner = data.get("error") if isinstance(data, dict) else None
        if isinstance(inner, dict):
            code, message = str(inner.get("code", "")), str(inner.get("message", ""))
        elif isinstance(inner, str):
            code, message = inner, str(data.get("error_description", ""))
    except ValueError:
        message = content[:200].decode("utf-8", "replace")
    wait = None
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
    return GraphError(status, code, message, wait)


def answer_error(answer: dict[str, Any]) -> GraphError | None:
    """The GraphError of one $batch answer, None when it succeeded."""
    status = int(answer.get("status", 0))
    if status < 400:
        return None
    return error_of(status, json.dumps(answer.get("body") or {}).encode())
