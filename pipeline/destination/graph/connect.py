"""Where a Graph destination is and how it authenticates: plain, picklable data, and app-only tokens.

Tokens come from msal's ConfidentialClientApplication (client credentials: a client secret, or a
certificate with its thumbprint), never from argv. For the local sandbox msal talks to the sandbox's
token endpoint through an HTTP client that maps the authority's https:// onto the loopback http://
(msal accepts only https authorities); nothing else differs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PUBLIC_GRAPH = "https://graph.microsoft.com"
PUBLIC_LOGIN = "https://login.microsoftonline.com"
#: Environment variables holding the app's credential (never a command-line flag).
ENV_SECRET = "REBUILD_GRAPH_SECRET"
ENV_CERT = "REBUILD_GRAPH_CERT"  # a PEM file holding the private key and the certificate
ENV_THUMBPRINT = "REBUILD_GRAPH_CERT_THUMBPRINT"


class GraphSetupError(ValueError):
    """The Graph destination cannot be used as configured (missing extra, tenant, client id, credential)."""


@dataclass(frozen=True, slots=True)
class GraphTarget:
    """graph_url: Graph's base (https://graph.microsoft.com, or the sandbox); login_url: the identity
    platform's base; secret or (cert_pem, thumbprint) from the environment."""

    graph_url: str
    login_url: str
    tenant: str
    client_id: str
    secret: str = field(default="", repr=False)
    cert_pem: str = field(default="", repr=False)
    thumbprint: str = ""
    timeout: float = 120.0
    import_mime: bool = True  # try the beta importMime action (global cloud); JSON creation otherwise
    sandbox: bool = False  # the login URL is the local sandbox's (http on loopback)
    upload_budget: int = 150 * 1024 * 1024  # bytes uploaded per upload_window seconds per mailbox (Graph's)
    upload_window: float = 300.0
    request_budget: int = 10_000  # requests per request_window seconds per mailbox (Graph's)
    request_window: float = 600.0

    def __post_init__(self) -> None:
        if not self.tenant or not self.client_id:
            raise GraphSetupError("the Graph destination needs --tenant and --client-id (or [graph] tenant, client_id)")
        if not self.secret and not self.cert_pem:
            raise GraphSetupError(
                f"the Graph destination needs {ENV_SECRET}, or {ENV_CERT} with {ENV_THUMBPRINT}, in the environment"
            )


def credential_from_env(environ: Any = None) -> dict[str, str]:
    """secret, or cert_pem and thumbprint, read from the environment (the certificate file's text)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_SECRET):
        return {"secret": env[ENV_SECRET]}
    if env.get(ENV_CERT):
        try:
            with open(env[ENV_CERT], encoding="ascii") as fh:
                pem = fh.read()
        except OSError as exc:
            raise GraphSetupError(f"{ENV_CERT}: cannot read {env[ENV_CERT]}: {exc.strerror}") from None
        return {"cert_pem": pem, "thumbprint": env.get(ENV_THUMBPRINT, "")}
    return {}


def require_extra() -> None:
    try:
        import httpx  # noqa: F401
        import msal  # noqa: F401
    except ImportError:
        raise GraphSetupError(
            "the Graph destination needs the optional extra: pip install -e '.[graph]' (msal, httpx)"
        ) from None


class _LoopbackHttp:
    """The requests-like client msal calls, for the sandbox: https://<loopback> becomes http://."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @staticmethod
    def _url(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
            return "http" + url[5:]
        return url

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any) -> Any:
        return self._client.post(self._url(url), params=params, data=data, headers=headers)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> Any:
        return self._client.get(self._url(url), params=params, headers=headers)

    def close(self) -> None:
        pass


class Tokens:
    """App-only access tokens for Graph, renewed by msal from its cache before they expire."""

    def __init__(self, target: GraphTarget, http: Any) -> None:
        import msal

        credential: Any = target.secret or {"private_key": target.cert_pem, "thumbprint": target.thumbprint}
        authority = f"{target.login_url.rstrip('/')}/{target.tenant}"
        options: dict[str, Any] = {}
        if target.sandbox:
            authority = authority.replace("http://", "https://", 1)
            options = {"http_client": _LoopbackHttp(http), "instance_discovery": False, "validate_authority": False}
        self._app = msal.ConfidentialClientApplication(
            target.client_id, client_credential=credential, authority=authority, **options
        )
        self._lock = threading.Lock()

    def header(self) -> str:
        with self._lock:
            result = self._app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            from pipeline.destination.base import MailboxFatalError

            raise MailboxFatalError(
                f"no Graph token: {result.get('error', '?')}: {str(result.get('error_description', ''))[:200]}"
            )
        return f"Bearer {token}"
