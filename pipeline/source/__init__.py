"""The reading stage: OST and PST files opened and walked one item at a time.

open_source() is the only entry point the rest of the pipeline needs; what it returns is a Source
(base.py: the Protocol, and the records only a source speaks of). Two readers give the same values:
`native` (pipeline/source/native: this package's own [MS-PST] code, every block checked) and `libpff`
(pipeline/source/pff.py, through pypff), both node access under one messaging layer (messaging.py).
The `reader` setting picks one. fake.py is an in-memory Source for tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.source.base import ItemSummary, Moment, Source, SourceInfo, SourceOpenError
from pipeline.source.header import read_header
from pipeline.source.pff import PffSource, libpff_reason

__all__ = [
    "READERS",
    "ItemSummary",
    "Moment",
    "Source",
    "SourceInfo",
    "SourceOpenError",
    "open_source",
    "read_header",
    "use_reader",
]

READERS = ("native", "libpff")
_READER_ENV = "REBUILD_READER"


def use_reader(name: str) -> None:
    """Make `name` the reader of this process and of the worker processes it starts (they inherit it)."""
    if name not in READERS:
        raise ValueError(f"unknown reader {name!r} (one of {', '.join(READERS)})")
    os.environ[_READER_ENV] = name


def default_reader() -> str:
    """The configured reader: REBUILD_READER (set by the CLI from --reader or the settings), else config."""
    name = os.environ.get(_READER_ENV)
    if name:
        return name
    from pipeline.settings import load_settings

    return load_settings().reader


def open_source(
    path: str | Path, recover: bool = False, reader: str | None = None, codepage: int | None = None
) -> Source:
    """Open an OST/PST for reading; raises SourceOpenError with a one-line message naming the file.
    codepage: the Windows code page of an ANSI store's 8-bit strings, overriding what the items say.

    Files the native reader does not handle yet (cyclic encryption) are read with libpff instead.
    """
    try:
        return _open(path, recover, reader, codepage)
    except (SourceOpenError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a reader raises at open time means "does not open"
        chain = " ".join(str(exc).split()) or type(exc).__name__
        raise SourceOpenError(f"{path}: {libpff_reason(chain)}", detail=f"{type(exc).__name__}: {chain}") from None


def _open(path: str | Path, recover: bool, reader: str | None, codepage: int | None) -> Source:
    name = reader or default_reader()
    if name == "native":
        from pipeline.source.native import NativeSource, UnsupportedFile

        try:
            return NativeSource(path, recover=recover, codepage=codepage)
        except UnsupportedFile:
            pass
        return PffSource(path, recover=recover, codepage=codepage)
    if name != "libpff":
        raise SourceOpenError(f"{path}: unknown reader {name!r} (one of {', '.join(READERS)})")
    return PffSource(path, recover=recover, codepage=codepage)
