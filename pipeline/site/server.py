"""The site page served on loopback by the standard library's HTTP server, in a thread of its own:
`/` the page, `/status.json` the data, `/reports/<name>` a failures CSV or run report of the state directory.
Nothing else is served; the state's reports hold subjects, so the server binds 127.0.0.1 only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.site.model import Snapshot
from pipeline.site.page import render

#: The port `--serve` listens on unless --port says otherwise (0 picks a free one).
DEFAULT_PORT = 8765
LOOPBACK = "127.0.0.1"
#: The report files a page may link to, by name: nothing else in the state directory is served.
_REPORT_NAME = re.compile(r"(failed|run)-[0-9A-Za-z.]+\.(csv|json)")


class SiteServer:
    """A running site server; `url` is where the page is. Stop it with close() (or use it as a context)."""

    def __init__(
        self, snapshot: Callable[[], Snapshot], reports: Path, port: int = DEFAULT_PORT, refresh: float = 2.0
    ) -> None:
        handler = _handler(snapshot, reports, refresh)
        self._httpd = ThreadingHTTPServer((LOOPBACK, port), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="site", daemon=True)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()


def _handler(snapshot: Callable[[], Snapshot], reports: Path, refresh: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rebuild-site"

        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            path = unquote(urlsplit(self.path).path)
            if path in ("/", "/index.html"):
                self._send(
                    200,
                    "text/html; charset=utf-8",
                    render(snapshot(), live=True, refresh=refresh, links="reports/").encode("utf-8"),
                )
            elif path == "/status.json":
                import json

                self._send(200, "application/json", json.dumps(snapshot().as_dict()).encode("utf-8"))
            elif path.startswith("/reports/") and _REPORT_NAME.fullmatch(name := path.removeprefix("/reports/")):
                try:
                    body = (reports / name).read_bytes()
                except OSError:
                    self._send(404, "text/plain", b"no such report\n")
                    return
                kind = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
                self._send(200, kind, body)
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
            pass  # the console is for progress and results

    return Handler


def write_static(snapshot: Snapshot, reports: Path) -> Path:
    """reports/site.html: the page as the run ended, its failures links beside it (written whole)."""
    from pipeline.state.atomic import atomic_open

    path = reports / "site.html"
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(render(snapshot, live=False))
    return path


def serve_until_stopped(snapshot: Callable[[], Snapshot], reports: Path, port: int) -> None:
    """Serve the page on loopback until Ctrl-C, taking a snapshot every second even while no browser looks
    (so the rate over time has its points). OSError when the port cannot be had."""
    import sys
    import time

    with SiteServer(snapshot, reports, port) as server:
        print(f"site: {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(1)
                snapshot()
        except KeyboardInterrupt:
            return
