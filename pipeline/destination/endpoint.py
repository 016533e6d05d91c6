"""Where the configured destination is reached: the named server (EWS or Microsoft Graph), or the embedded
sandbox started here.

Yields the destination's connection data (plain and picklable, so worker processes get a copy): a Target
for EWS, a GraphTarget for Graph. The embedded sandbox's credential is made once and kept owner-only in the
state dir (pipeline/sandbox/embedded_setup.py); a Graph app's own secret or certificate comes from the
environment only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipeline.errors import UsageError
from pipeline.settings import GraphSettings, Settings

if TYPE_CHECKING:
    from pipeline.destination.graph.connect import GraphTarget

EMBEDDED_TENANT = "sandbox"


@contextlib.contextmanager
def endpoint_for(settings: Settings, impersonate: bool, mailboxes: list[str], create: bool = False) -> Iterator[Any]:
    """The destination's connection data for this run: the named server, or the embedded sandbox (where a
    mailbox it lacks while it has others is made only with `create`: else a UsageError naming it and the
    nearest existing address, before anything is written)."""
    if settings.destination == "graph":  # Exchange Online, or the sandbox's Graph face
        with graph_endpoint(settings, mailboxes, create) as target:
            yield target
        return
    from pipeline.destination.ews.connect import Target

    ews = settings.ews
    if not settings.uses_sandbox:
        from pipeline.destination.reach import check_target

        check_target(ews)  # flags, then one request: nothing is read or sent for a server that is down
        yield Target(
            server=ews.server,
            username=ews.username,
            auth=ews.auth,
            impersonate=impersonate,
            ca_bundle=ews.ca_bundle,
            timeout=ews.request_timeout,
            max_connections=settings.max_concurrent_requests,
        )
        return
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.embedded_setup import ews_account

    username, password = _checked(ews_account, settings, mailboxes, create)
    with start(settings.sandbox_dir) as handle:
        yield Target(
            server=handle.url,
            username=username,
            auth="ntlm",
            impersonate=True,
            password=password,
            timeout=ews.request_timeout,
            max_connections=settings.max_concurrent_requests,
        )


def _checked(prepare: Any, settings: Settings, mailboxes: list[str], create: bool) -> tuple[str, str]:
    """The embedded sandbox's credential from prepare (ews_account, graph_app); new mailboxes refused as
    bad usage (exit 2) unless `create`."""
    from pipeline.sandbox.embedded_setup import NewMailboxes

    try:
        return prepare(settings.sandbox_dir, mailboxes, create)
    except NewMailboxes as exc:
        raise UsageError(str(exc)) from None


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _graph_target(graph: GraphSettings, **where: Any) -> GraphTarget:
    """A GraphTarget to where it goes (URLs, tenant, credential), with what the [graph] settings give it
    whichever server it reaches: the request timeout, importMime, and the budgets it paces itself by."""
    from pipeline.destination.graph.connect import GraphTarget  # the Graph extra is optional

    return GraphTarget(
        **where,
        timeout=graph.request_timeout,
        import_mime=graph.import_mime == "yes",
        upload_budget=graph.upload_budget_mb * 1024 * 1024,
        upload_window=graph.upload_window,
        request_budget=graph.requests_per_window,
        request_window=graph.request_window,
    )


@contextlib.contextmanager
def graph_endpoint(settings: Settings, mailboxes: list[str], create: bool = False) -> Iterator[Any]:
    """Graph: Exchange Online (or any Graph URL), or the embedded sandbox's Graph face."""
    from pipeline.destination.graph.connect import (
        GraphSetupError,
        credential_from_env,
        require_extra,
    )

    graph = settings.graph
    try:
        require_extra()
        if not graph.uses_sandbox:
            loopback = _is_loopback(graph.server)
            yield _graph_target(
                graph,
                graph_url=graph.server,
                login_url=graph.server if loopback else graph.login,
                tenant=graph.tenant,
                client_id=graph.client_id,
                sandbox=loopback,
                **credential_from_env(),
            )
            return
    except GraphSetupError as exc:
        raise UsageError(str(exc)) from None
    from pipeline.sandbox.embedded import start
    from pipeline.sandbox.embedded_setup import graph_app

    client_id, secret = _checked(graph_app, settings, mailboxes, create)
    with start(settings.sandbox_dir) as handle:
        yield _graph_target(
            graph,
            graph_url=handle.graph_url,
            login_url=handle.graph_url,
            tenant=EMBEDDED_TENANT,
            client_id=client_id,
            secret=secret,
            sandbox=True,
        )
