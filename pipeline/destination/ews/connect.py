"""Opening the target mailbox with exchangelib: endpoint, auth (NTLM, Basic, OAuth), impersonation, TLS.

exchangelib's own retry policy is FailFast: tenacity in upload.py owns retries, so the two never multiply.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

import requests.adapters
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    OAuth2Credentials,
)
from exchangelib.protocol import BaseProtocol

from pipeline.destination.ews.errors import MailboxFatalError
from pipeline.destination.ews.http_answers import RebuildFailFast
from pipeline.destination.ews.pool import keep_pool_size

PASSWORD_ENV = "REBUILD_PASSWORD"
OAUTH_ENV = ("REBUILD_OAUTH_CLIENT_ID", "REBUILD_OAUTH_CLIENT_SECRET", "REBUILD_OAUTH_TENANT_ID")
_AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom to connect; the password is looked up at connect time, never stored here."""

    server: str  # the EWS URL
    username: str
    auth: str = "ntlm"
    impersonate: bool = False
    ca_bundle: str = ""
    timeout: int = 120
    password: str | None = None  # set only for the embedded sandbox, whose password we generated
    max_connections: int = 4  # requests at once for this account from this process (EWSMaxConcurrency)


def read_password(username: str, interactive: bool = True) -> str:
    """REBUILD_PASSWORD, else a prompt on the terminal; never a command-line argument."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    if interactive and os.isatty(0):
        return getpass.getpass(f"Password for {username}: ")
    raise MailboxFatalError(f"no password: set {PASSWORD_ENV} or run from a terminal to be prompted")


class _CABundleAdapter(requests.adapters.HTTPAdapter):
    """Trusts the admin's CA bundle for the EWS server's certificate (private PKI is the norm)."""

    ca_bundle: str = ""

    def cert_verify(self, conn, url, verify, cert):  # noqa: ANN001 - requests' own signature
        super().cert_verify(conn=conn, url=url, verify=self.ca_bundle or verify, cert=cert)


def _credentials(target: Target):  # noqa: ANN202 - exchangelib credential classes
    if target.auth == "oauth":
        client_id, secret, tenant = (os.environ.get(name, "") for name in OAUTH_ENV)
        if not (client_id and secret and tenant):
            raise MailboxFatalError(f"--auth oauth needs {', '.join(OAUTH_ENV)} in the environment")
        return OAuth2Credentials(client_id=client_id, client_secret=secret, tenant_id=tenant)
    if not target.username:
        raise MailboxFatalError("no --username given for the EWS server")
    password = target.password if target.password is not None else read_password(target.username)
    return Credentials(username=target.username, password=password)


def configure_tls(ca_bundle: str) -> None:
    if ca_bundle:
        if not os.path.isfile(ca_bundle):
            raise MailboxFatalError(f"--ca-bundle {ca_bundle}: no such file")
        _CABundleAdapter.ca_bundle = ca_bundle
        BaseProtocol.HTTP_ADAPTER_CLS = _CABundleAdapter


def open_account(target: Target, mailbox: str) -> Account:
    """An exchangelib Account for mailbox, acting as target.username (delegate) or for it (impersonation)."""
    configure_tls(target.ca_bundle)
    BaseProtocol.TIMEOUT = target.timeout
    config = Configuration(
        service_endpoint=target.server,
        credentials=_credentials(target),
        auth_type=_AUTH_TYPES[target.auth],
        retry_policy=RebuildFailFast(),
        max_connections=max(1, target.max_connections),
    )
    account = Account(
        primary_smtp_address=mailbox,
        config=config,
        autodiscover=False,
        access_type=IMPERSONATION if target.impersonate else DELEGATE,
    )
    keep_pool_size(account.protocol)
    return account
