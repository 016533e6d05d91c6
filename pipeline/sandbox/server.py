"""The HTTP side of the sandbox: serving, routing to the two faces, and the admin endpoints.

`/EWS/Exchange.asmx` goes to the EWS face (`ews/dispatch.py`) once `http_auth.py` knows the caller (Basic, or
NTLM authenticating the keep-alive connection as IIS does), Graph's paths to the Graph face (`graph/`),
`/sandbox/admin/*` to the admin endpoints here. A ThreadingHTTPServer with one write per answer, and
everything a request costs kept to one XML parse, one schema check and one store transaction. A request is
judged from its headers first (credentials, admin checks: admin.py) and only then is its body read, within
the limit (bodies.py); every request gets an answer unless a fault says to drop it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.sandbox import admin, bodies
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.dispatch import EwsFace
from pipeline.sandbox.faults import FaultConfigError, FaultEngine
from pipeline.sandbox.graph.face import GraphFace, is_graph_path
from pipeline.sandbox.http_auth import Challenge, ConnectionAuth
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.rows import Account
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.store import SandboxStore

log = logging.getLogger("pipeline.sandbox.server")

EWS_PATH = "/EWS/Exchange.asmx"
ADMIN_PREFIX = "/sandbox/admin"
SERVER_FILE = "server.json"
REALM = "sandbox.local"

_IIS_400 = b"<html><body><h1>Bad Request</h1><p>HTTP Error 400. The request is badly formed.</p></body></html>"
#: How long a connection refused mid-body keeps reading (and dropping) what the client still sends, so the
#: client reads the answer instead of a reset: http.sys's DrainEntityBody timer, 120 s by default (HTTP Server
#: API, HTTP_TIMEOUT_LIMIT_INFO), under IIS. Shorter would be stricter than Exchange: a 40 MB request from a
#: loaded client met a reset instead of the 404.13 and was sent again.
LINGER_SECONDS = 120.0
#: How long that drain waits for the next bytes: http.sys's idle connection timer, 120 s by default too (a
#: second here once cut a loaded client's 40 MB request short, which then met a reset and was sent again).
IDLE_SECONDS = 120.0


def idle_seconds() -> float:
    """http.sys's idle timer: a request whose next bytes do not come within it is dropped (its body never
    committed). REBUILD_SANDBOX_IDLE_S shortens it for trials whose leases are seconds long: the guarantee that a
    paused writer's half-sent request never lands after a takeover rests on the idle timer (plus the request
    timeout) being shorter than the lease a taker watches, as Exchange's 120 s are against the default 300 s."""
    return float(os.environ.get("REBUILD_SANDBOX_IDLE_S") or IDLE_SECONDS)


_IIS_404_13 = (
    b"<html><body><h1>HTTP Error 404.13 - Not Found</h1><p>The request filtering module is configured to "
    b"deny a request that exceeds the request content length.</p></body></html>"
)


class LoopbackOnly(ValueError):
    """A non-loopback bind address without --allow-remote."""


def check_host(host: str, allow_remote: bool) -> None:
    if allow_remote:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        if host == "localhost":
            return
    raise LoopbackOnly(f"refusing to listen on non-loopback host {host!r} without --allow-remote")


class SandboxApp:
    """What the handlers share: the store, faults, counters and limits of one server."""

    def __init__(self, data_dir: Path, limits: Limits | None = None, validate: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.store = SandboxStore(self.data_dir)
        self.faults = FaultEngine(self.data_dir)
        self.stats = Stats(self.data_dir)
        self.limits = limits or Limits()
        self.admin_token = admin.ensure_token(self.data_dir)  # the admin endpoints' credential (admin.py)
        self.ews = EwsFace(self.store, self.faults, self.stats, self.current_limits, validate)  # ews/
        self.graph = GraphFace(self)  # the same store served as Microsoft Graph (graph/)

    def current_limits(self) -> Limits:
        """The server's limits with the fault config's search lag and concurrency, when it sets them."""
        lag, concurrency = self.faults.search_lag_s, self.faults.max_concurrency
        if lag is None and concurrency is None:
            return self.limits
        return dataclasses.replace(
            self.limits,
            search_lag_s=self.limits.search_lag_s if lag is None else lag,
            max_concurrency=self.limits.max_concurrency if concurrency is None else concurrency,
        )


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that vanish (killed runs, resets) are routine here; anything else is logged in full."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("sandbox: connection from %s ended: %s", client_address[0], error)
            return
        log.error("sandbox: request from %s failed:\n%s", client_address[0], traceback.format_exc())

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{EWS_PATH}"

    @property
    def admin_url(self) -> str:
        return self.url.replace(EWS_PATH, ADMIN_PREFIX)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections close like IIS's connection timeout
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(idle_seconds())
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.auth = ConnectionAuth()  # NTLM authenticates the connection, as IIS does
        self._pending: bodies.Framing | None = None  # the body of the request at hand, until read or dropped

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("http %s " + format, self.client_address[0], *args)

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/xml; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Server: Microsoft-IIS/10.0",
            "X-AspNet-Version: 4.0.30319",
            "X-Powered-By: ASP.NET",
        ]
        for key, value in extra or []:
            lines.append(f"{key}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    # -- bodies: read only after the headers let the request in, and never more than the limit ---------

    def _framing(self) -> bodies.Framing | None:
        """How the body is delimited (kept as pending until it is read or dropped), or None after a 400."""
        frame = bodies.framing(self.headers.get("Transfer-Encoding"), self.headers.get("Content-Length"))
        if isinstance(frame, bodies.Malformed):
            log.info("sandbox: bad request framing from %s: %s", self.client_address[0], frame.reason)
            self.close_connection = True
            self._send(400, _IIS_400, "text/html")
            return None
        self._pending = frame
        return frame

    def _read_body(self, limit: int, too_large: Callable[[], None]) -> bytes | None:
        """The pending body if it is at most `limit` bytes, else None after answering (too_large() for an
        oversized one, 400 for bad chunking; nothing for a client that went away)."""
        frame, self._pending = self._pending, None
        if frame is None:
            return b""
        outcome = bodies.read(self.rfile, frame, limit)
        if isinstance(outcome, bodies.Body):
            return outcome.data
        self.close_connection = True
        if isinstance(outcome, bodies.TooLarge):
            too_large()
            self._linger(frame.length - outcome.read if not frame.chunked else 1 << 40)
        elif isinstance(outcome, bodies.Malformed):
            log.info("sandbox: bad request body from %s: %s", self.client_address[0], outcome.reason)
            self._send(400, _IIS_400, "text/html")
        else:
            # The client went away mid-request (a killed run): nothing to answer, nothing to count.
            self.server.app.stats.add("aborted_requests")
        return None

    def _drop_pending(self) -> bool:
        """Drop the body of a request refused from its headers (within the request limit), so the
        connection can take the next request (NTLM's handshake needs that); False: it must close."""
        frame, self._pending = self._pending, None
        if frame is None or (not frame.chunked and frame.length == 0):
            return True
        if bodies.discard(self.rfile, frame, self.server.app.limits.max_request_bytes, LINGER_SECONDS):
            return True
        self.close_connection = True
        return False

    def _refuse(
        self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Answer a request refused before its body was read: the body dropped first when it fits the
        limit, otherwise the answer goes out with Connection: close and the rest is lingered over."""
        frame = self._pending
        ended = self._drop_pending()
        self._send(status, body, content_type, headers)
        if not ended and frame is not None:
            self._linger(frame.length if not frame.chunked else 1 << 40)

    def _linger(self, most: int) -> None:
        try:
            self.connection.settimeout(idle_seconds())  # a client busy encoding its next megabytes is not gone
            bodies.linger(self.rfile, most, LINGER_SECONDS)
        except OSError:
            pass

    def _too_large(self) -> None:
        """Refuse an oversized request the way the server's Limits say Exchange's front end does."""
        answer = self.server.app.limits.oversize_answer
        self.server.app.stats.add(f"http_{answer}")
        if answer == "507":
            self.close_connection = True
            self._send(507, b"", "text/html")
        elif answer == "404.13":
            self._send(404, _IIS_404_13, "text/html")
        else:
            self._send(413, b"<html><body><h1>413 Request Entity Too Large</h1></body></html>", "text/html")

    def _unauthorized(self, ntlm_token: str | None = None) -> None:
        self.server.app.stats.add("http_401")
        if ntlm_token:
            headers = [("WWW-Authenticate", f"NTLM {ntlm_token}")]
        else:
            headers = [("WWW-Authenticate", "NTLM"), ("WWW-Authenticate", f'Basic realm="{REALM}"')]
        self._refuse(401, b"", "text/html", headers)

    def _authenticate(self) -> Account | None:
        """The caller's account, or None after a 401 (which may carry the NTLM challenge)."""
        outcome = self.auth.authenticate(self.headers.get("Authorization") or "", self.server.app.store)
        if isinstance(outcome, Challenge):
            self._unauthorized(outcome.token)
            return None
        if outcome is None:
            self._unauthorized()
        return outcome

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # -- verbs ------------------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - Graph's upload sessions
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        self._pending = None
        if self._framing() is None:
            return
        path = urlsplit(self.path).path
        try:
            if is_graph_path(path):
                self._graph(method)
            elif path.lower() == EWS_PATH.lower() and method in ("POST", "GET"):
                self._ews(method)
            elif path.startswith(ADMIN_PREFIX) and method in ("POST", "GET"):
                self._admin(method, path)
            else:
                self._refuse(404, b"", "text/html")
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # noqa: BLE001 - a bug must be answered, never a connection dropped unanswered
            log.error("sandbox: %s %s failed:\n%s", method, path, traceback.format_exc())
            self.server.app.stats.add("internal_errors")
            self.close_connection = True
            if is_graph_path(path):
                self._send(
                    500,
                    b'{"error": {"code": "InternalServerError", "message": "An internal server error occurred."}}',
                    "application/json",
                )
            else:
                self._send(500, soap.fault("ErrorInternalServerError", "An internal server error occurred."))

    def _graph(self, method: str) -> None:
        """The Graph face (graph/face.py): JSON over the same store; tokens checked before the body is read."""
        graph = self.server.app.graph
        headers = {k.lower(): v for k, v in self.headers.items()}
        refusal = graph.precheck(method, self.path, headers)
        if refusal is not None:
            self._refuse(refusal.status, refusal.body, refusal.content_type, refusal.headers)
            return
        limit = self.server.app.limits.max_request_bytes
        if method in ("POST", "PATCH", "PUT"):
            body = self._read_body(limit, lambda: self._deliver(graph.too_large(limit)))
            if body is None:
                return
        else:
            if not self._drop_pending():
                self._refuse(400, _IIS_400, "text/html")
                return
            body = b""
        reply = graph.handle(method, self.path, headers, body, f"http://{self.headers.get('Host', '')}")
        self._deliver(reply)

    def _deliver(self, reply: Any) -> None:
        """Send a face's reply, or act out the fault it carries: a reset, or a request committed and the
        connection dropped without an answer."""
        if reply.reset:
            self._reset()
            return
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(reply.status, reply.body, reply.content_type, reply.headers)

    def _ews(self, method: str) -> None:
        account = self._authenticate()  # from the headers alone: nothing is read for a stranger
        if account is None:
            return
        if method == "GET":
            self._refuse(200, b"<html><body>Exchange Web Services (sandbox)</body></html>", "text/html")
            return
        body = self._read_body(self.server.app.limits.max_request_bytes, self._too_large)
        if body is None:
            return
        app = self.server.app
        reply = app.ews.answer(account, body)
        if reply.close:
            self.close_connection = True
        if reply.status == 401:
            self.auth.forget()  # the connection must authenticate again, as after any 401
            app.stats.add("http_401")
        elif reply.status == 507:
            app.stats.add("http_507")
        self._deliver(reply)

    def _admin(self, method: str, path: str) -> None:
        """Admin endpoints: loopback, same-site, with the admin token (admin.py), JSON bodies within 1 MiB."""
        app = self.server.app
        refusal = admin.check_request(
            method, self.headers, self.client_address[0], str(self.server.server_address[0]), app.admin_token
        )
        if refusal is not None:
            app.stats.add(f"admin_refused_{refusal.status}")
            log.info("sandbox: admin request %s %s refused: %s", method, path, refusal.reason)
            headers = [("WWW-Authenticate", f'{admin.SCHEME} realm="sandbox admin"')] if refusal.status == 401 else []
            self._refuse(refusal.status, json.dumps({"error": refusal.reason}).encode(), "application/json", headers)
            return
        body = self._read_body(admin.MAX_BODY, lambda: self._json(413, {"error": "admin request body too large"}))
        if body is None:
            return
        name = path[len(ADMIN_PREFIX) :].strip("/")
        if name == "faults" and method == "POST":
            try:
                config = json.loads(body or b"{}")
                app.faults.configure(config)
            except (ValueError, FaultConfigError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(200, {"ok": True, "faults": app.faults.snapshot()})
        elif name == "faults":
            self._json(200, app.faults.snapshot())
        elif name == "stats":
            self._json(200, server_stats(app))
        elif name == "graph" and method == "POST":
            try:
                self._json(200, app.graph.configure(json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
        elif name == "graph":
            self._json(200, app.graph.snapshot())
        elif name == "graph-sent":
            self._json(200, app.graph.sent())
        elif name == "graph-log":
            self._json(200, app.graph.log())
        else:
            self._json(404, {"error": f"unknown admin endpoint {name!r}"})

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, indent=1).encode(), "application/json")


def server_stats(app: SandboxApp) -> dict[str, Any]:
    snapshot = app.stats.snapshot()
    snapshot["schema_validation"] = app.ews.validate
    snapshot["schema_violations"] = snapshot["counters"].get("schema_violations", 0)
    snapshot["faults"] = app.faults.snapshot()
    return snapshot


def make_server(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    limits: Limits | None = None,
) -> SandboxHTTPServer:
    check_host(host, allow_remote)
    app = SandboxApp(data_dir, limits)
    return SandboxHTTPServer((host, port), app)


def write_server_file(server: SandboxHTTPServer) -> Path:
    path = server.app.data_dir / SERVER_FILE
    path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "url": server.url,
                "admin_url": server.admin_url,
                "port": server.server_address[1],
            }
        ),
        encoding="utf-8",
    )
    return path


def serve(server: SandboxHTTPServer, stop: threading.Event | None = None) -> None:
    """Run until `stop` is set (or forever); flushes counters and removes server.json on the way out."""
    server_file = write_server_file(server)
    flusher_stop = threading.Event()

    def flush_loop() -> None:
        while not flusher_stop.wait(0.5):
            server.app.stats.flush()
            try:
                server.app.store.checkpoint()
            except Exception as exc:  # noqa: BLE001 - a busy database only delays the checkpoint
                log.debug("sandbox: checkpoint skipped: %s", exc)

    threading.Thread(target=flush_loop, name="sandbox-stats", daemon=True).start()
    if stop is not None:

        def stop_when_asked() -> None:
            stop.wait()
            server.shutdown()

        threading.Thread(target=stop_when_asked, name="sandbox-stop", daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        flusher_stop.set()
        server.server_close()
        server.app.stats.flush(force=True)
        server.app.store.checkpoint()
        server.app.store.close()
        try:
            server_file.unlink()
        except FileNotFoundError:
            pass
