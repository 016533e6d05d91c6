"""The sandbox's accounts: a salted PBKDF2 hash for Basic, and the NT hash NTLM needs (kept as a domain
controller keeps it), read and written inside the store's connections.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3

from pipeline.sandbox.rows import Account

_PBKDF2_ROUNDS = 100_000
_COLUMNS = "username, impersonation, nt_hash"


def nt_hash(password: str) -> bytes:
    """MD4 of the UTF-16LE password, the NTLM secret; hashlib's MD4 is often disabled, pyspnego ships one."""
    try:
        return hashlib.new("md4", password.encode("utf-16-le")).digest()
    except ValueError:
        from spnego._ntlm_raw.md4 import md4  # type: ignore[import-untyped]

        return md4(password.encode("utf-16-le"))


def _password_hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _PBKDF2_ROUNDS)


def put(conn: sqlite3.Connection, username: str, password: str, impersonation: bool) -> None:
    """Create or replace an account inside the caller's write transaction."""
    salt = os.urandom(16)
    conn.execute(
        "INSERT OR REPLACE INTO accounts(username, salt, pw_hash, nt_hash, impersonation) VALUES (?,?,?,?,?)",
        (username.lower(), salt, _password_hash(password, salt), nt_hash(password), int(impersonation)),
    )


def find(conn: sqlite3.Connection, username: str) -> Account | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM accounts WHERE username=?", (username.lower(),)).fetchone()
    return Account(row[0], bool(row[1]), bytes(row[2])) if row else None


def every(conn: sqlite3.Connection) -> list[Account]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM accounts ORDER BY username").fetchall()
    return [Account(r[0], bool(r[1]), bytes(r[2])) for r in rows]


def verify(conn: sqlite3.Connection, username: str, password: str) -> Account | None:
    """The account whose password this is, or None (unknown user or wrong password)."""
    row = conn.execute(
        f"SELECT {_COLUMNS}, salt, pw_hash FROM accounts WHERE username=?", (username.lower(),)
    ).fetchone()
    if row is None or not hmac.compare_digest(_password_hash(password, row[3]), row[4]):
        return None
    return Account(row[0], bool(row[1]), bytes(row[2]))
