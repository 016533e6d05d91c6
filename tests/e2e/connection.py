"""The flags and environment that point `rebuild` at a sandbox's EWS or Graph face, in one place for the
end-to-end tests (tests/e2e/conftest.py's `ews_cli`, `graph_cli`), the trials that start the process
themselves (`tests.conftest.start_cli`) and the benchmarks. Plain functions of the sandbox's handle: no
pytest, no side effect on import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ews_args(handle: Any, state: Path, *, username: str, impersonate: bool = False) -> list[str]:
    """The flags that point `rebuild` at the sandbox's EWS face as username, with its state folder."""
    return [
        "--server",
        handle.url,
        "--username",
        username,
        *(["--impersonate"] if impersonate else []),
        "--state",
        str(state),
    ]


def ews_account(handle: Any, address: str, *, username: str, password: str) -> Any:
    """A plain exchangelib account on the sandbox's EWS face, impersonating address as username: the tests'
    own look at the server (Basic auth, no retries), never the project's destination code."""
    from exchangelib import BASIC, IMPERSONATION, Account, Configuration, Credentials
    from exchangelib.protocol import FailFast

    config = Configuration(
        service_endpoint=handle.url,
        credentials=Credentials(username, password),
        auth_type=BASIC,
        retry_policy=FailFast(),
    )
    return Account(address, config=config, autodiscover=False, access_type=IMPERSONATION)


def graph_app() -> tuple[str, str, str]:
    """(tenant, client id, secret) of the tests' Graph app (tests/graph_oracle.py's); imported here, not above,
    since the oracle needs httpx (the graph extra) and EWS tests run without it."""
    from tests.graph_oracle import CLIENT_ID, SECRET, TENANT

    return TENANT, CLIENT_ID, SECRET


def graph_args(handle: Any, state: Path, *, tenant: str | None = None, client_id: str | None = None) -> list[str]:
    """The flags that point `rebuild` at the sandbox's Graph face as the tests' app (or the one given)."""
    if tenant is None or client_id is None:
        app_tenant, app_client, _ = graph_app()
        tenant, client_id = tenant or app_tenant, client_id or app_client
    return [
        "--destination",
        "graph",
        "--graph-url",
        handle.graph_url,
        "--tenant",
        tenant,
        "--client-id",
        client_id,
        "--state",
        str(state),
    ]


def graph_env(secret: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a Graph run logs in with (the app's secret, never on the command line), plus extra."""
    return {"REBUILD_GRAPH_SECRET": secret if secret is not None else graph_app()[2], **extra}
