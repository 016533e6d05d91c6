"""NTLM acceptor: parses NEGOTIATE, issues CHALLENGE, verifies the NTLMv2 response of AUTHENTICATE (MS-NLMP).

Only the server half a web server needs (no signing or sealing); the NT hash comes from the account store.
"""

from __future__ import annotations

import hmac
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

SIGNATURE = b"NTLMSSP\x00"

NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEGOTIATE_SIGN = 0x00000010
NEGOTIATE_SEAL = 0x00000020
NEGOTIATE_NTLM = 0x00000200
NEGOTIATE_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000
NEGOTIATE_TARGET_INFO = 0x00800000
NEGOTIATE_VERSION = 0x02000000
NEGOTIATE_128 = 0x20000000
NEGOTIATE_KEY_EXCH = 0x40000000
NEGOTIATE_56 = 0x80000000

_ECHOED = (
    NEGOTIATE_UNICODE
    | NEGOTIATE_SIGN
    | NEGOTIATE_SEAL
    | NEGOTIATE_ALWAYS_SIGN
    | NEGOTIATE_EXTENDED_SESSIONSECURITY
    | NEGOTIATE_VERSION
    | NEGOTIATE_128
    | NEGOTIATE_KEY_EXCH
    | NEGOTIATE_56
)

NB_DOMAIN = "SANDBOX"
NB_COMPUTER = "EXCH01"
DNS_DOMAIN = "sandbox.local"
DNS_COMPUTER = "exch01.sandbox.local"
#: Windows Server 2016 (10.0.14393), NTLM revision 15.
_VERSION = bytes([10, 0]) + struct.pack("<H", 14393) + b"\x00\x00\x00\x0f"


class NtlmError(ValueError):
    """A malformed or unverifiable NTLM message: the client gets a fresh 401."""


@dataclass(slots=True)
class Authenticate:
    user: str
    domain: str
    workstation: str
    nt_response: bytes
    flags: int


def message_type(token: bytes) -> int:
    if len(token) < 12 or not token.startswith(SIGNATURE):
        raise NtlmError("not an NTLMSSP message")
    return int(struct.unpack_from("<I", token, 8)[0])


def _av_pair(av_id: int, value: bytes) -> bytes:
    return struct.pack("<HH", av_id, len(value)) + value


def _filetime_now() -> bytes:
    return struct.pack("<Q", int((time.time() + 11644473600) * 10_000_000))


def challenge(negotiate: bytes) -> tuple[bytes, bytes]:
    """(CHALLENGE message, server challenge) answering a NEGOTIATE message."""
    if message_type(negotiate) != 1:
        raise NtlmError("expected NEGOTIATE_MESSAGE")
    client_flags = struct.unpack_from("<I", negotiate, 12)[0] if len(negotiate) >= 16 else NEGOTIATE_UNICODE
    flags = (client_flags & _ECHOED) | REQUEST_TARGET | TARGET_TYPE_DOMAIN | NEGOTIATE_TARGET_INFO | NEGOTIATE_NTLM
    if not flags & NEGOTIATE_UNICODE:
        flags |= NEGOTIATE_OEM
    flags |= NEGOTIATE_VERSION
    server_challenge = os.urandom(8)
    target_name = NB_DOMAIN.encode("utf-16-le")
    target_info = b"".join(
        (
            _av_pair(2, NB_DOMAIN.encode("utf-16-le")),
            _av_pair(1, NB_COMPUTER.encode("utf-16-le")),
            _av_pair(4, DNS_DOMAIN.encode("utf-16-le")),
            _av_pair(3, DNS_COMPUTER.encode("utf-16-le")),
            _av_pair(7, _filetime_now()),
            _av_pair(0, b""),
        )
    )
    header_len = 56
    name_offset = header_len
    info_offset = name_offset + len(target_name)
    message = (
        SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target_name), len(target_name), name_offset)
        + struct.pack("<I", flags)
        + server_challenge
        + b"\x00" * 8
        + struct.pack("<HHI", len(target_info), len(target_info), info_offset)
        + _VERSION
        + target_name
        + target_info
    )
    return message, server_challenge


def _field(token: bytes, offset: int) -> bytes:
    length, _max, start = struct.unpack_from("<HHI", token, offset)
    if start + length > len(token):
        raise NtlmError("field outside the message")
    return token[start : start + length]


def parse_authenticate(token: bytes) -> Authenticate:
    if message_type(token) != 3 or len(token) < 64:
        raise NtlmError("expected AUTHENTICATE_MESSAGE")
    flags = struct.unpack_from("<I", token, 60)[0]
    encoding = "utf-16-le" if flags & NEGOTIATE_UNICODE else "cp437"
    return Authenticate(
        user=_field(token, 36).decode(encoding, errors="replace"),
        domain=_field(token, 28).decode(encoding, errors="replace"),
        workstation=_field(token, 44).decode(encoding, errors="replace"),
        nt_response=_field(token, 20),
        flags=flags,
    )


def verify(auth: Authenticate, server_challenge: bytes, nt_hash_of: Callable[[Authenticate], bytes | None]) -> bool:
    """NTLMv2 check: HMAC-MD5 over the challenge and the client's blob, keyed by NTOWFv2 of the account."""
    if len(auth.nt_response) <= 24 or not auth.user:
        return False  # anonymous, LM or NTLMv1: refused like a hardened Exchange
    secret = nt_hash_of(auth)
    if secret is None:
        return False
    proof, blob = auth.nt_response[:16], auth.nt_response[16:]
    key = hmac.new(secret, (auth.user.upper() + auth.domain).encode("utf-16-le"), "md5").digest()
    expected = hmac.new(key, server_challenge + blob, "md5").digest()
    return hmac.compare_digest(proof, expected)
