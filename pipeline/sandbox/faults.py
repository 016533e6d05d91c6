"""Faults injected on demand: throttling, HTTP errors, resets, delays, per-item failures and commit-then-drop.

Besides rules, a config may set `search_lag_s` and `max_concurrency` (EWSMaxConcurrency per account) for the
running server, overriding its Limits.

Rules come from `faults.json` in the data folder (read at start and when it changes) or from the admin
endpoint (until restart); one seeded RNG per rule makes a run reproducible; every injection is counted.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("pipeline.sandbox.faults")

FAULTS_FILE = "faults.json"

#: kind -> what it does. Request-level kinds decide once per request; item_error decides once per item.
KINDS = {
    "throttle": "SOAP fault ErrorServerBusy with BackOffMilliseconds (HTTP 500)",
    "http_503": "HTTP 503 Service Unavailable",
    "http_500": "HTTP 500 with IIS's 'Server Error in /EWS Application' page",
    "http_507_close": "HTTP 507 with an empty body and `Connection: close` (Exchange refusing a large request)",
    "http_401_throttle": "HTTP 401 to an authenticated request (Exchange throttling by refusing the login)",
    "reset": "read the request, then reset the TCP connection without answering",
    "delay": "sleep `seconds` before answering",
    "item_error": "fail single items of CreateItem with `code` (default ErrorInternalServerTransientError)",
    "commit_then_drop": "store a CreateItem's items (or an UpdateInboxRules' rules), then close the connection with no answer",
    "error": "answer every response message of the request with `code` (e.g. ErrorMailboxStoreUnavailable)",
}
_REQUEST_KINDS = ("reset", "http_503", "http_500", "http_507_close", "http_401_throttle", "throttle", "error")
_HTTP_STATUS = {"http_503": 503, "http_500": 500, "http_507_close": 507, "http_401_throttle": 401}
#: Top-level keys of a fault config besides the rules.
SETTINGS = ("search_lag_s", "max_concurrency")


class FaultConfigError(ValueError):
    """A fault configuration that does not have the documented shape."""


@dataclass(slots=True)
class Rule:
    kind: str
    operations: frozenset[str] | None = None
    mailbox: str | None = None
    count: int | None = None  # inject this many times, then stop
    rate: float = 1.0  # probability per matching request (or item)
    after: int = 0  # let this many matching requests (or items) pass first
    back_off_ms: int = 1000
    seconds: float = 0.0
    code: str = ""
    matched: int = 0
    injected: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def applies(self, operation: str, mailbox: str | None) -> bool:
        if self.operations is not None and operation not in self.operations:
            return False
        if self.mailbox is not None and (mailbox or "").lower() != self.mailbox:
            return False
        return True

    def fire(self) -> bool:
        """One matching event: does the fault fire? (Caller holds the engine's lock.)"""
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.count is not None and self.injected >= self.count:
            return False
        if self.rate < 1.0 and self.rng.random() >= self.rate:
            return False
        self.injected += 1
        return True

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "matched": self.matched, "injected": self.injected}
        if self.operations is not None:
            out["operations"] = sorted(self.operations)
        if self.mailbox:
            out["mailbox"] = self.mailbox
        return out


def parse_rules(config: dict[str, Any]) -> tuple[int, list[Rule]]:
    if not isinstance(config, dict):
        raise FaultConfigError("fault config must be a JSON object with 'rules' (and optionally 'seed')")
    unknown = set(config) - {"seed", "rules", *SETTINGS}
    if unknown:
        raise FaultConfigError(f"unknown keys {sorted(unknown)}; expected 'seed', 'rules', {', '.join(SETTINGS)}")
    settings_of(config)
    seed = int(config.get("seed", 0))
    rules: list[Rule] = []
    for index, raw in enumerate(config.get("rules") or []):
        if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
            raise FaultConfigError(f"rule {index}: 'kind' must be one of {sorted(KINDS)}")
        allowed = {
            "kind",
            "operations",
            "mailbox",
            "count",
            "rate",
            "after",
            "back_off_ms",
            "seconds",
            "code",
        }
        extra = set(raw) - allowed
        if extra:
            raise FaultConfigError(f"rule {index}: unknown keys {sorted(extra)}")
        ops = raw.get("operations")
        if isinstance(ops, str):
            ops = [ops]
        try:
            rule = Rule(
                kind=raw["kind"],
                operations=frozenset(ops) if ops else None,
                mailbox=str(raw["mailbox"]).lower() if raw.get("mailbox") else None,
                count=int(raw["count"]) if raw.get("count") is not None else None,
                rate=float(raw.get("rate", 1.0)),
                after=int(raw.get("after", 0)),
                back_off_ms=int(raw.get("back_off_ms", 1000)),
                seconds=float(raw.get("seconds", 0.0)),
                code=str(raw.get("code", "")),
                rng=random.Random(f"{seed}:{index}"),
            )
        except (TypeError, ValueError) as exc:
            raise FaultConfigError(f"rule {index}: {exc}") from exc
        if not 0.0 <= rule.rate <= 1.0:
            raise FaultConfigError(f"rule {index}: rate must be between 0 and 1")
        if rule.kind == "item_error" and not rule.code:
            rule.code = "ErrorInternalServerTransientError"
        if rule.kind == "error" and not rule.code:
            raise FaultConfigError(f"rule {index}: kind 'error' needs a 'code'")
        rules.append(rule)
    return seed, rules


def settings_of(config: dict[str, Any]) -> tuple[float | None, int | None]:
    """(search_lag_s, max_concurrency) of a fault config, None where it leaves the server's limit alone."""
    try:
        lag = float(config["search_lag_s"]) if config.get("search_lag_s") is not None else None
        concurrency = int(config["max_concurrency"]) if config.get("max_concurrency") is not None else None
    except (TypeError, ValueError) as exc:
        raise FaultConfigError(f"search_lag_s/max_concurrency: {exc}") from exc
    if (lag is not None and lag < 0) or (concurrency is not None and concurrency < 0):
        raise FaultConfigError("search_lag_s and max_concurrency must not be negative")
    return lag, concurrency


@dataclass(slots=True)
class RequestFaults:
    """What to do to one request; item errors are decided lazily, one per created item."""

    engine: FaultEngine | None = None
    operation: str = ""
    mailbox: str | None = None
    delay: float = 0.0
    reset: bool = False
    http_status: int = 0
    throttle_ms: int | None = None
    error_code: str = ""
    commit_then_drop: bool = False

    def item_error(self) -> str | None:
        return self.engine.item_error(self.operation, self.mailbox) if self.engine is not None else None

    def mailbox_error(self, address: str) -> str | None:
        """The code of a permanent `error` rule scoped to this mailbox, which also hits requests that name it
        in a folder or item id (the face answers it as its own error), or None."""
        return self.engine.mailbox_error(self.operation, address) if self.engine is not None else None


class FaultEngine:
    """The active rules; reloaded when faults.json changes, replaced through the admin endpoint."""

    def __init__(self, data_dir: Path | None) -> None:
        self._lock = threading.Lock()
        self._path = Path(data_dir) / FAULTS_FILE if data_dir is not None else None
        self._mtime: float | None = None
        self._seed = 0
        self._rules: list[Rule] = []
        self.search_lag_s: float | None = None
        self.max_concurrency: int | None = None
        self._totals: dict[str, int] = {}  # injected under the current rules
        self._lifetime: dict[str, int] = {}  # injected since the server started
        self.maybe_reload()

    def maybe_reload(self) -> None:
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return
        self._mtime = mtime
        if mtime is None:
            self._install({})
            return
        try:
            config = json.loads(self._path.read_text(encoding="utf-8") or "{}")
            self._install(config)
            log.info("sandbox faults loaded from %s: %d rule(s)", self._path, len(self._rules))
        except (OSError, ValueError) as exc:
            log.error("sandbox faults file %s ignored: %s", self._path, exc)

    def _install(self, config: dict[str, Any]) -> None:
        seed, rules = parse_rules(config)
        lag, concurrency = settings_of(config)
        with self._lock:
            self._seed, self._rules = seed, rules
            self.search_lag_s, self.max_concurrency = lag, concurrency
            self._totals = {}

    def configure(self, config: dict[str, Any], persist: bool = False) -> None:
        """Replace the rules (validating first); only `persist` writes faults.json, which a restart reads.

        Rules set at run time (admin endpoint) die with the server, so a restarted server in a kill trial
        does not fire a one-shot fault again.
        """
        parse_rules(config)
        if persist and self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)  # a data folder no server has used yet
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
            os.replace(tmp, self._path)
            self._mtime = self._path.stat().st_mtime
        self._install(config)

    def decide(self, operation: str, mailbox: str | None) -> RequestFaults:
        result = RequestFaults(self, operation, mailbox)
        if not self._rules:
            return result
        with self._lock:
            for rule in self._rules:
                if rule.kind == "item_error" or not rule.applies(operation, mailbox):
                    continue
                if rule.kind == "commit_then_drop" and not (
                    operation in ("CreateItem", "UpdateInboxRules")
                    or operation.startswith(("Graph:create", "Graph:move"))
                ):
                    continue
                if not rule.fire():
                    continue
                self._count(rule.kind)
                if rule.kind == "delay":
                    result.delay += rule.seconds
                elif rule.kind == "reset":
                    result.reset = True
                elif rule.kind in _HTTP_STATUS:
                    result.http_status = result.http_status or _HTTP_STATUS[rule.kind]
                elif rule.kind == "throttle":
                    result.throttle_ms = rule.back_off_ms
                elif rule.kind == "error":
                    result.error_code = result.error_code or rule.code
                elif rule.kind == "commit_then_drop":
                    result.commit_then_drop = True
        return result

    def item_error(self, operation: str, mailbox: str | None) -> str | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind == "item_error" and rule.applies(operation, mailbox) and rule.fire():
                    self._count("item_error")
                    return rule.code
        return None

    def _count(self, kind: str) -> None:
        self._totals[kind] = self._totals.get(kind, 0) + 1
        self._lifetime[kind] = self._lifetime.get(kind, 0) + 1

    def mailbox_error(self, operation: str, address: str) -> str | None:
        with self._lock:
            for rule in self._rules:
                if (
                    rule.kind == "error"
                    and rule.mailbox is not None
                    and rule.applies(operation, address)
                    and rule.count is None
                    and rule.rate >= 1.0
                ):
                    self._count("error")
                    return rule.code
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "search_lag_s": self.search_lag_s,
                "max_concurrency": self.max_concurrency,
                "injected": dict(self._totals),
                "injected_total": dict(self._lifetime),
                "rules": [r.describe() for r in self._rules],
            }
