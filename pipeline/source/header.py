"""The OST/PST file header ([MS-PST] 2.2.2.6): checked before any reader touches the rest of the file.

Both readers start here, and so does the input gate (pipeline/source/gate.py) on machines that only check a file.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.source.base import SourceOpenError

#: bCryptMethod: how the file's blocks are encoded.
ENCRYPTIONS = {0: "none", 1: "permute", 2: "cyclic"}


@dataclass(frozen=True, slots=True)
class Header:
    """What the header says of the file."""

    kind: str  # 'ost' or 'pst', from the client magic, whatever the file name says
    format: str  # 'ansi', 'unicode', 'unicode-4k'
    version: int  # wVer
    crypt: int  # bCryptMethod (a key of ENCRYPTIONS)
    eof: int  # ibFileEof: the size the file declares

    @property
    def encryption(self) -> str:
        return ENCRYPTIONS[self.crypt]


def read_header(path: Path) -> Header:
    """The file's header, checked (signature, client magic, version, CRCs, encryption method);
    SourceOpenError naming the file otherwise."""
    try:
        with path.open("rb") as fh:
            head = fh.read(0x210)
    except OSError as exc:
        raise SourceOpenError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(head) == 0:
        raise SourceOpenError(f"{path}: empty file, not an OST/PST")
    if len(head) < 0x200 or head[:4] != b"!BDN":
        raise SourceOpenError(f"{path}: not an OST/PST file (no '!BDN' signature)")
    client = head[8:10]
    kinds = {b"SM": "pst", b"SO": "ost", b"AB": "pab"}
    if client not in kinds or kinds[client] == "pab":
        raise SourceOpenError(f"{path}: unsupported client magic {client!r} (not an OST/PST)")
    if _header_crc(head[8 : 8 + 471]) != struct.unpack_from("<I", head, 4)[0]:
        raise SourceOpenError(f"{path}: the file header is damaged (header checksum mismatch)")
    (version,) = struct.unpack_from("<H", head, 10)
    if version in (14, 15):
        fmt, crypt, eof = "ansi", head[0x1CD], struct.unpack_from("<I", head, 0xA8 + 4)[0]
    elif version >= 23:
        fmt = "unicode-4k" if version >= 36 else "unicode"
        crypt, eof = head[0x201], struct.unpack_from("<Q", head, 0xB4 + 4)[0]
    else:
        raise SourceOpenError(f"{path}: unsupported format version {version}")
    if fmt != "ansi" and _header_crc(head[8 : 8 + 516]) != struct.unpack_from("<I", head, 0x20C)[0]:
        raise SourceOpenError(f"{path}: the file header is damaged (header checksum mismatch)")
    if crypt not in ENCRYPTIONS:
        raise SourceOpenError(f"{path}: unsupported encryption method {crypt:#04x}")
    return Header(kinds[client], fmt, version, crypt, eof)


def whole_file(path: Path) -> tuple[Header, int]:
    """(header, size) of a file that holds at least the bytes its header declares; SourceOpenError otherwise."""
    header = read_header(path)
    size = path.stat().st_size
    if header.eof and size < header.eof:
        raise SourceOpenError(f"{path}: truncated: {size} bytes of the {header.eof} its header declares")
    return header, size


def _header_crc(data: bytes) -> int:
    """[MS-PST] 5.3 CRC: CRC-32 without the initial and final inversion."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
