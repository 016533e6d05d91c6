"""A sandbox Graph face of a test module's own (one mailbox, one app) and its client-credentials token, asked
over plain HTTP (httpx), as any Graph client would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from pipeline.sandbox.embedded import start
from pipeline.sandbox.graph.tokens import add_app
from pipeline.sandbox.store import SandboxStore


@contextmanager
def graph_face(data: Path, user: str, app: str, secret: str) -> Iterator[Any]:
    """The sandbox in this process, `user`'s mailbox and the app `app` registered with `secret`."""
    store = SandboxStore(data)
    store.add_mailbox(user)
    add_app(store, app, secret)
    store.close()
    with start(data, in_process=True) as handle:
        yield handle


def token(face: Any, app: str, secret: str) -> httpx.Response:
    """The token endpoint's answer to a client-credentials request."""
    return httpx.post(
        f"{face.graph_url}/contoso/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app,
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
