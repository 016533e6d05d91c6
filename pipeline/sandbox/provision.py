"""Accounts and mailboxes from a TOML or JSON file, for `rebuild sandbox load FILE` and `serve --config FILE`.

Passwords may be given inline (it is a sandbox) or, better, by naming an environment variable (password_env).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.sandbox.store import SandboxStore

EXAMPLE = """\
[[mailboxes]]
address = "alice@sandbox.local"
name = "Alice Example"

[[accounts]]
username = "svc-rebuild@sandbox.local"
password_env = "SVC_REBUILD_PASSWORD"
impersonation = true
"""


class ProvisionError(ValueError):
    """The file does not have the documented shape; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Provisioned:
    mailboxes: int
    accounts: int


def read(path: Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if Path(path).suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ProvisionError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"mailboxes", "accounts"}:
        raise ProvisionError(f"{path}: expected only 'mailboxes' and 'accounts' lists")
    return data


def apply(store: SandboxStore, path: Path) -> Provisioned:
    data = read(path)
    mailboxes = data.get("mailboxes") or []
    accounts = data.get("accounts") or []
    for index, entry in enumerate(mailboxes):
        if not isinstance(entry, dict) or not entry.get("address"):
            raise ProvisionError(f"{path}: mailbox {index} needs an 'address'")
        store.add_mailbox(str(entry["address"]), entry.get("name") or entry.get("display_name"))
    for index, entry in enumerate(accounts):
        if not isinstance(entry, dict) or not entry.get("username"):
            raise ProvisionError(f"{path}: account {index} needs a 'username'")
        password = entry.get("password")
        if entry.get("password_env"):
            password = os.environ.get(str(entry["password_env"]))
            if not password:
                raise ProvisionError(f"{path}: account {entry['username']}: ${entry['password_env']} is not set")
        if not password:
            raise ProvisionError(f"{path}: account {entry['username']} needs 'password' or 'password_env'")
        store.add_account(str(entry["username"]), str(password), bool(entry.get("impersonation", False)))
    return Provisioned(len(mailboxes), len(accounts))
