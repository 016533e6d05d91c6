"""Credentials and TLS options of the target connection: env vars or prompt, never argv; clear errors."""

from __future__ import annotations

import pytest
from exchangelib import Credentials, OAuth2Credentials

from pipeline.destination.ews import connect
from pipeline.destination.ews.connect import Target, _credentials, configure_tls
from pipeline.destination.ews.errors import MailboxFatalError


def test_password_from_environment(monkeypatch):
    monkeypatch.setenv("REBUILD_PASSWORD", "from-env")
    creds = _credentials(Target(server="https://x/EWS/Exchange.asmx", username="CORP\\svc"))
    assert isinstance(creds, Credentials) and creds.password == "from-env"


def test_no_password_and_no_terminal_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("REBUILD_PASSWORD", raising=False)
    monkeypatch.setattr(connect.os, "isatty", lambda fd: False)
    with pytest.raises(MailboxFatalError, match="REBUILD_PASSWORD"):
        _credentials(Target(server="https://x/EWS/Exchange.asmx", username="svc"))


def test_prompt_on_a_terminal(monkeypatch):
    monkeypatch.delenv("REBUILD_PASSWORD", raising=False)
    monkeypatch.setattr(connect.os, "isatty", lambda fd: True)
    monkeypatch.setattr(connect.getpass, "getpass", lambda prompt: "typed")
    assert _credentials(Target(server="https://x", username="svc")).password == "typed"


def test_oauth_from_environment(monkeypatch):
    for name in connect.OAUTH_ENV:
        monkeypatch.setenv(name, f"value-{name}")
    creds = _credentials(Target(server="https://x", username="", auth="oauth"))
    assert isinstance(creds, OAuth2Credentials)
    monkeypatch.delenv(connect.OAUTH_ENV[1])
    with pytest.raises(MailboxFatalError, match="REBUILD_OAUTH_CLIENT_SECRET"):
        _credentials(Target(server="https://x", username="", auth="oauth"))


def test_missing_ca_bundle_is_named(tmp_path):
    with pytest.raises(MailboxFatalError, match="no such file"):
        configure_tls(str(tmp_path / "missing.pem"))
