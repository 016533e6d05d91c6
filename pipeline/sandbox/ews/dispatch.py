"""The EWS face's dispatch: one SOAP request of an authenticated account -> its reply.

Parses the envelope (no entities, no network), applies the request's injected faults, checks the request
against Microsoft's schema, works out the acting mailbox (own, or impersonated through
ExchangeImpersonation), counts EWSMaxConcurrency per account and hands the request element to its operation.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from pipeline.sandbox.ews import (
    operations,  # noqa: F401  (importing it registers every operation)
    schema,
    soap,
)
from pipeline.sandbox.ews.context import Context
from pipeline.sandbox.ews.errors import RequestFault
from pipeline.sandbox.ews.registry import REGISTRY
from pipeline.sandbox.faults import FaultEngine, RequestFaults
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.rows import Account, Mailbox
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.store import SandboxStore

log = logging.getLogger("pipeline.sandbox.server")

_SOAP_ENV = f"{{{soap.SOAP_NS}}}"
_T = f"{{{soap.T_NS}}}"
#: Containers whose children each get one response message (for faults that answer every message).
_LIST_CONTAINERS = {
    "Items",
    "ItemIds",
    "FolderIds",
    "Folders",
    "ParentFolderIds",
    "ItemChanges",
    "SourceIds",
    "FolderChanges",
}

_ERROR_CODE = re.compile(r"<m:ResponseCode>(Error\w+)</m:ResponseCode>")
_IIS_500 = (
    b"<html><head><title>Runtime Error</title></head><body><h1>Server Error in '/EWS' Application.</h1>"
    b"<h2>Runtime Error</h2></body></html>"
)
_CONCURRENCY_TEXT = (
    "You have exceeded the available concurrent connections for your account. "
    "Try again once your other requests have completed."
)
_IIS_503 = b"<html><body><h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p></body></html>"


_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
        _parsers.parser = parser
    return parser


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/xml; charset=utf-8"
    drop: bool = False  # close the connection without answering (commit-then-drop)
    reset: bool = False  # reset the connection without answering
    close: bool = False  # answer, then close the connection (Connection: close)
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)


class EwsFace:
    """The EWS face of one server: the store, its faults and counters, and the limits in force."""

    def __init__(
        self,
        store: SandboxStore,
        faults: FaultEngine,
        stats: Stats,
        limits: Callable[[], Limits],
        validate: bool = True,
    ) -> None:
        self.store = store
        self.faults = faults
        self.stats = stats
        self.current_limits = limits
        self.operations = REGISTRY
        self.validate = validate and schema.available()
        self._active: dict[str, int] = {}  # requests in progress per account (EWSMaxConcurrency)
        self._active_lock = threading.Lock()

    def answer(self, account: Account, body: bytes) -> Reply:
        """The reply to one request body, or ErrorExceededConnectionCount past EWSMaxConcurrency."""
        if not self.enter(account):
            self.stats.add("error:ErrorExceededConnectionCount")
            detail = _concurrency_detail(self.current_limits().max_concurrency)
            return Reply(500, soap.fault("ErrorExceededConnectionCount", _CONCURRENCY_TEXT, detail))
        try:
            return self.handle_soap(account, body)
        finally:
            self.leave(account)

    def enter(self, account: Account) -> bool:
        """Count one request of `account` in progress; False (nothing counted) past EWSMaxConcurrency."""
        limit = self.current_limits().max_concurrency
        with self._active_lock:
            active = self._active.get(account.username, 0)
            if limit and active >= limit:
                return False
            self._active[account.username] = active + 1
            return True

    def leave(self, account: Account) -> None:
        with self._active_lock:
            self._active[account.username] -= 1

    def own_mailbox(self, account: Account) -> Mailbox | None:
        name = account.username.split("\\")[-1]
        mailbox = self.store.mailbox(name)
        if mailbox is not None or "@" in name:
            return mailbox
        matches = [m for m in self.store.mailboxes() if m.address.split("@")[0] == name]
        return matches[0] if len(matches) == 1 else None

    def handle_soap(self, account: Account, body: bytes) -> Reply:
        started = time.perf_counter()
        self.faults.maybe_reload()
        try:
            root = etree.fromstring(body, _parser())
        except (etree.XMLSyntaxError, ValueError) as exc:  # ValueError: e.g. an encoding lxml refuses
            self.stats.add("schema_violations")
            self.stats.add("malformed_xml")
            position = getattr(exc, "position", None) or (0, 0)
            return Reply(500, soap.schema_fault(str(exc), *position))
        soap_body = root.find(f"{_SOAP_ENV}Body") if root.tag == f"{_SOAP_ENV}Envelope" else None
        # Comments and processing instructions are not content: an XML reader skips them, as Exchange's does.
        elements = [child for child in soap_body if isinstance(child.tag, str)] if soap_body is not None else []
        if len(elements) != 1:
            self.stats.add("schema_violations")
            text = (
                "The SOAP body must hold exactly one request element." if elements else "The request has no SOAP body."
            )
            return Reply(500, soap.schema_fault(text, 1, 1))
        request = elements[0]
        operation = etree.QName(request).localname
        header = root.find(f"{_SOAP_ENV}Header")
        impersonated = self._impersonated_address(header)
        own = None if impersonated else self.own_mailbox(account)
        faults = self.faults.decide(operation, impersonated or (own.address if own else None))
        self.stats.add(f"op:{operation}")
        if faults.reset:
            return Reply(0, b"", reset=True)
        if faults.delay:
            time.sleep(faults.delay)
        if faults.http_status == 503:
            return Reply(503, _IIS_503, "text/html")
        if faults.http_status == 500:
            return Reply(500, _IIS_500, "text/html")
        if faults.http_status == 507:
            return Reply(507, b"", "text/html", close=True)
        if faults.http_status == 401:
            return Reply(
                401, b"", "text/html", headers=[("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
            )
        if faults.throttle_ms is not None:
            return Reply(500, soap.server_busy_fault(faults.throttle_ms))
        if self.validate:
            violation = schema.validate(request)
            if violation is not None:
                self.stats.add("schema_violations")
                log.warning("schema violation in %s: %.160s (line %s)", operation, violation.message, violation.line)
                return Reply(500, soap.schema_fault(violation.message, violation.line, violation.column))
        try:
            mailbox, impersonating = self._acting_mailbox(account, impersonated, own)
        except RequestFault as exc:
            self.stats.add(f"error:{exc.code}")
            return Reply(500, soap.fault(exc.code, exc.text))
        ctx = Context(self.store, account, mailbox, impersonating, self.current_limits(), faults)
        if faults.error_code:
            return Reply(200, soap.envelope(self._error_everywhere(operation, request, faults)))
        handler = self.operations.get(operation)
        if handler is None:
            self.stats.add("unknown_operations")
            log.warning("sandbox: operation %s is not implemented", operation)
            return Reply(
                200,
                soap.envelope(
                    soap.operation_response(
                        operation,
                        [
                            soap.error(
                                operation,
                                "ErrorInvalidRequest",
                                f"The sandbox does not implement {operation}.",
                            )
                        ],
                    )
                ),
            )
        try:
            answer = handler(ctx, request)
        except RequestFault as exc:
            return Reply(500, soap.fault(exc.code, exc.text))
        except Exception:  # noqa: BLE001 - a bug must answer like a server error, not kill the connection
            log.error("sandbox: %s failed:\n%s", operation, traceback.format_exc())
            self.stats.add("internal_errors")
            return Reply(500, soap.fault("ErrorInternalServerError", "An internal server error occurred."))
        if 'ResponseClass="Error"' in answer:
            for code in _ERROR_CODE.findall(answer):
                ctx.count(f"error:{code}")
        if ctx.counters:
            self.stats.add_many(ctx.counters)
        log.debug(
            "sandbox %s for %s in %.1f ms",
            operation,
            mailbox.address if mailbox else "-",
            (time.perf_counter() - started) * 1000,
        )
        if faults.commit_then_drop:
            return Reply(0, b"", drop=True)
        return Reply(200, soap.envelope(answer))

    @staticmethod
    def _impersonated_address(header: etree._Element | None) -> str | None:
        if header is None:
            return None
        sid = header.find(f"{_T}ExchangeImpersonation/{_T}ConnectingSID")
        if sid is None:
            return None
        for name in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
            value = sid.findtext(f"{_T}{name}")
            if value:
                return value.strip().lower()
        return ""

    def _acting_mailbox(
        self, account: Account, impersonated: str | None, own: Mailbox | None
    ) -> tuple[Mailbox | None, bool]:
        if impersonated is None:
            return own, False
        if not account.impersonation:
            raise RequestFault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        mailbox = self.store.mailbox(impersonated) if impersonated else None
        if mailbox is None:
            raise RequestFault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        return mailbox, True

    @staticmethod
    def _error_everywhere(operation: str, request: etree._Element, faults: RequestFaults) -> str:
        count = 1
        for child in request:
            if etree.QName(child).localname in _LIST_CONTAINERS:
                count = max(len(child), 1)
                break
        text = f"Injected fault {faults.error_code}."
        return soap.operation_response(operation, [soap.error(operation, faults.error_code, text)] * count)


def _concurrency_detail(limit: int) -> str:
    return (
        '<t:Value Name="Policy">MaxConcurrency</t:Value>'
        f'<t:Value Name="MaxConcurrencyLimit">{int(limit)}</t:Value>'
        '<t:Value Name="BackOffMilliseconds">0</t:Value>'
    )
