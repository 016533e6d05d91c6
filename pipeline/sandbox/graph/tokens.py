"""The client-credentials token endpoint (`POST /{tenant}/oauth2/v2.0/token`) and bearer-token checks.

An app registration is an account of the store named `app:<client id>` whose password is the client
secret; tokens are signed with a key kept owner-only in the data folder, so they survive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pipeline.sandbox.store import SandboxStore

KEY_FILE = "graph-token.key"
LIFETIME = 3599
APP_PREFIX = "app:"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def app_username(client_id: str) -> str:
    return APP_PREFIX + client_id.strip().lower()


def add_app(store: SandboxStore, client_id: str, secret: str) -> None:
    """Register an app (client id + secret) with application permissions on every mailbox."""
    store.add_account(app_username(client_id), secret, impersonation=True)


class TokenIssuer:
    def __init__(self, data_dir: Path, store: SandboxStore) -> None:
        self.store = store
        path = Path(data_dir) / KEY_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        self._key = path.read_bytes()

    def issue(self, form: dict[str, str]) -> tuple[int, dict]:
        """(status, JSON answer) for a token request, as Microsoft's identity platform answers it."""
        if form.get("grant_type") != "client_credentials":
            return 400, _error("unsupported_grant_type", "AADSTS70003: only client_credentials is supported here")
        if form.get("scope", "").strip() != GRAPH_SCOPE:
            return 400, _error("invalid_scope", f"AADSTS1002012: the scope must be {GRAPH_SCOPE}")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret or self.store.check_password(app_username(client_id), secret) is None:
            return 401, _error("invalid_client", "AADSTS7000215: Invalid client secret provided.")
        claims = {"appid": client_id.lower(), "exp": int(time.time()) + LIFETIME, "roles": ["Mail.ReadWrite"]}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        signature = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return 200, {
            "token_type": "Bearer",
            "expires_in": LIFETIME,
            "ext_expires_in": LIFETIME,
            "access_token": f"{payload}.{signature}",
        }

    def check(self, header: str) -> str | None:
        """The app id a bearer token was issued to, or None (absent, forged or expired)."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or "." not in token:
            return None
        payload, _, signature = token.strip().rpartition(".")
        expected = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if int(claims.get("exp", 0)) < time.time():
            return None
        return str(claims.get("appid") or "") or None


def _error(code: str, text: str) -> dict:
    return {"error": code, "error_description": text, "error_codes": [int(text[5:12]) if text[5:12].isdigit() else 0]}


def openid_configuration(base: str, tenant: str) -> dict[str, Any]:
    """msal's discovery document for `tenant`: where the token endpoint is."""
    secure = base.replace("http://", "https://")
    return {
        "token_endpoint": f"{secure}/{tenant}/oauth2/v2.0/token",
        "authorization_endpoint": f"{secure}/{tenant}/oauth2/v2.0/authorize",
        "issuer": f"{secure}/{tenant}/v2.0",
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    }
