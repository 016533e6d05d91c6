"""Who calls the EWS endpoint, from the Authorization header alone: Basic checked on every request, NTLM
authenticating the connection (as IIS does) until a 401 makes it authenticate again.

Nothing of the body is needed, so a stranger's request is refused before a byte of it is read.
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
from dataclasses import dataclass

from pipeline.sandbox import ntlm
from pipeline.sandbox.rows import Account
from pipeline.sandbox.store import SandboxStore

log = logging.getLogger("pipeline.sandbox.server")


@dataclass(frozen=True, slots=True)
class Challenge:
    """NTLM's second leg: answer 401 with this token in WWW-Authenticate."""

    token: str


def account_for_ntlm(store: SandboxStore, auth: ntlm.Authenticate) -> Account | None:
    """The account an NTLM user and domain name: `user`, `DOMAIN\\user`, `user@domain`, or a unique local part."""
    user, domain = auth.user.lower(), auth.domain.lower()
    if "\\" in user:  # 'DOMAIN\\user' given whole as a UPN-looking name
        domain, _, user = user.rpartition("\\")
    for candidate in (user, f"{domain}\\{user}", f"{user}@{domain}"):
        account = store.account(candidate)
        if account is not None:
            return account
    if "@" not in user:
        matches = [a for a in store.accounts() if a.username.split("@")[0].split("\\")[-1] == user]
        if len(matches) == 1:
            return matches[0]
    return None


class ConnectionAuth:
    """The authentication state of one keep-alive connection."""

    def __init__(self) -> None:
        self.account: Account | None = None  # set once NTLM's third leg verified
        self._challenge: bytes | None = None

    def forget(self) -> None:
        """After a 401 the connection must authenticate again."""
        self.account = None

    def authenticate(self, header: str, store: SandboxStore) -> Account | Challenge | None:
        """The caller's account, the NTLM challenge to send, or None (refused: answer 401)."""
        scheme, _, token = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            account = store.check_password(user, password) if user else None
            if account is None:
                log.info("sandbox: Basic login refused for %r", user)
            return account
        if scheme in ("ntlm", "negotiate"):
            return self._ntlm(token, store)
        return self.account  # an NTLM-authenticated keep-alive connection, as IIS keeps it (or None)

    def _ntlm(self, token: str, store: SandboxStore) -> Account | Challenge | None:
        try:
            raw = base64.b64decode(token.strip())
            kind = ntlm.message_type(raw)
            if kind == 1:
                message, self._challenge = ntlm.challenge(raw)
                self.account = None
                return Challenge(base64.b64encode(message).decode())
            if kind == 3 and self._challenge is not None:
                auth = ntlm.parse_authenticate(raw)
                found: list[Account] = []

                def secret(a: ntlm.Authenticate) -> bytes | None:
                    account = account_for_ntlm(store, a)
                    if account is None:
                        return None
                    found.append(account)
                    return account.nt_hash

                ok = ntlm.verify(auth, self._challenge, secret)
                self._challenge = None
                if ok and found:
                    self.account = found[0]
                    return found[0]
                log.info("sandbox: NTLM login refused for %r", auth.user)
        except (ntlm.NtlmError, binascii.Error, struct.error, ValueError):
            log.info("sandbox: malformed NTLM token")
        self.account = None
        return None
