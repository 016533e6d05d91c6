"""Where the Graph destination is reached: Exchange Online (or any Graph URL), or the embedded sandbox's
Graph face, for which an app registration is made once and kept owner-only in the state dir.

Yields a GraphTarget (plain, picklable). The app's secret or certificate comes from the environment only.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

from pipeline.destination.graph.connect import (
    GraphSetupError,
    GraphTarget,
    credential_from_env,
    require_extra,
)
from pipeline.endpoint import kept_secret, prepare_sandbox
from pipeline.errors import UsageError
from pipeline.settings import Settings

EMBEDDED_CLIENT = "rebuild-embedded-app"
EMBEDDED_TENANT = "sandbox"


def _embedded_app(settings: Settings) -> str:
    """The embedded sandbox's app secret."""
    return str(kept_secret(settings, "embedded-graph-app.json",
                           {"client_id": EMBEDDED_CLIENT, "secret": secrets.token_urlsafe(24)})["secret"])


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


@contextlib.contextmanager
def graph_endpoint(settings: Settings, mailboxes: list[str]) -> Iterator[GraphTarget]:
    graph = settings.graph
    try:
        require_extra()
        if not graph.uses_sandbox:
            loopback = _is_loopback(graph.server)
            yield GraphTarget(graph_url=graph.server, login_url=graph.server if loopback else graph.login,
                              tenant=graph.tenant, client_id=graph.client_id, timeout=graph.request_timeout,
                              import_mime=graph.import_mime == "yes", sandbox=loopback, **credential_from_env())
            return
    except GraphSetupError as exc:
        raise UsageError(str(exc)) from None
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.graph.tokens import add_app

    secret = _embedded_app(settings)
    prepare_sandbox(settings, mailboxes, lambda store: add_app(store, EMBEDDED_CLIENT, secret), "Exchange Online")
    with start(settings.sandbox_dir) as handle:
        yield GraphTarget(graph_url=handle.graph_url, login_url=handle.graph_url, tenant=EMBEDDED_TENANT,
                          client_id=EMBEDDED_CLIENT, secret=secret, timeout=graph.request_timeout,
                          import_mime=graph.import_mime == "yes", sandbox=True)
