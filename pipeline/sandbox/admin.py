"""The admin credential of the sandbox and the checks its admin endpoints make before answering.

The admin endpoints (`/sandbox/admin/faults`, `graph`, `stats`, `graph-sent`, `graph-log`) change how the server behaves
and show what it holds, so they answer only a request that
- comes from a loopback client, addressed to a loopback name or the bound address (`Host`), which shuts
  out DNS rebinding;
- has no `Origin`, or the server's own (a page of another site cannot drive them from a browser), and no
  `Sec-Fetch-Site: cross-site`;
- carries the admin token as `Authorization: Bearer <token>` (Basic is not taken: a browser replays cached
  Basic credentials on its own, a bearer token it never sends unasked);
- sends JSON as `application/json` when it posts (a browser's `text/plain` or form post is refused).

The token is a secret kept owner-only in the data folder (`admin-token`), made by the first server that
starts on it: whoever can read the data folder already holds every mailbox and `faults.json`, which the
server obeys, so it is the sandbox's administrative boundary. Mailbox accounts, even with the
impersonation right, are the tenants of the sandbox, never its admin.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TOKEN_FILE = "admin-token"
SCHEME = "Bearer"
#: The largest admin request body read (fault configs and Graph budgets are a few hundred bytes).
MAX_BODY = 1024 * 1024


class AdminTokenError(OSError):
    """The admin token cannot be read or made (the data folder is not ours, or not writable)."""


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def read_token(data_dir: Path) -> str | None:
    """The kept admin token, or None when no server has made one yet."""
    try:
        text = token_path(data_dir).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise AdminTokenError(f"cannot read {token_path(data_dir)}: {exc}") from exc
    return text or None


def ensure_token(data_dir: Path) -> str:
    """The kept admin token, made (owner-only, never through a symlink) when there is none."""
    existing = read_token(data_dir)
    if existing:
        return existing
    path = token_path(data_dir)
    token = secrets.token_urlsafe(32)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # another server on the same folder made it first
        again = read_token(data_dir)
        if again:
            return again
        raise AdminTokenError(f"{path} exists but is empty: delete it and start the server again") from None
    except OSError as exc:
        raise AdminTokenError(f"cannot create {path}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token)
    return token


def auth_header(token: str) -> str:
    return f"{SCHEME} {token}"


# -- the server's checks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an admin request is not answered: HTTP status and the one line said back."""

    status: int
    reason: str


def _host_part(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _is_local_name(host: str, bound: str) -> bool:
    if host in ("localhost", bound.lower()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request(
    method: str,
    headers: Any,
    client_ip: str,
    bound_host: str,
    token: str,
) -> Refusal | None:
    """None when the admin request may be answered, else the refusal (checked from headers alone)."""
    try:
        loopback_client = ipaddress.ip_address(client_ip.split("%")[0]).is_loopback
    except ValueError:
        loopback_client = False
    if not loopback_client:
        return Refusal(403, "admin endpoints answer loopback clients only")
    host_header = (headers.get("Host") or "").strip().lower()
    host = _host_part(host_header)
    if not host or not _is_local_name(host, bound_host):
        return Refusal(403, "admin endpoints answer requests addressed to a loopback name only (Host)")
    origin = headers.get("Origin")
    if origin is not None:  # the same scheme, name and port: another local service's page is another site
        parts = urlsplit(origin.strip())
        if parts.scheme != "http" or parts.netloc.lower() != host_header:
            return Refusal(403, "cross-site request refused (Origin is not this server)")
    if (headers.get("Sec-Fetch-Site") or "").strip().lower() == "cross-site":
        return Refusal(403, "cross-site request refused (Sec-Fetch-Site)")
    scheme, _, given = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != SCHEME.lower() or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Refusal(401, f"the admin token is required: Authorization: {SCHEME} <data folder>/{TOKEN_FILE}")
    if method == "POST":
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return Refusal(415, "admin requests post JSON as application/json")
    return None


# -- the client side: every in-repo caller goes through here ---------------------------------------------


def call(admin_url: str, data_dir: Path, path: str, payload: Any = None, timeout: float = 30) -> Any:
    """GET (payload None) or POST JSON to `<admin_url>/<path>` with the data folder's admin token; the
    decoded JSON answer. Raises urllib.error.HTTPError for a refusal, AdminTokenError without a token."""
    token = read_token(data_dir)
    if token is None:
        raise AdminTokenError(f"no admin token in {Path(data_dir)} (start the sandbox server on it first)")
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        f"{admin_url.rstrip('/')}/{path}",
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json", "Authorization": auth_header(token)},
    )
    # Straight to the server, never through a proxy from the environment: the token stays on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read())
