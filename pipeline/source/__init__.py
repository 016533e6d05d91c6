"""The reading stage: OST and PST files opened with pypff and walked one item at a time.

open_source() is the only entry point the rest of the pipeline needs.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.source.pff import PffSource, SourceInfo, SourceOpenError, read_header

__all__ = ["PffSource", "SourceInfo", "SourceOpenError", "open_source", "read_header"]


def open_source(path: str | Path, recover: bool = False, codepage: int | None = None) -> PffSource:
    """Open an OST/PST for reading; raises SourceOpenError with a one-line message naming the file.
    codepage: the Windows code page of an ANSI store's 8-bit strings, overriding what the items say."""
    return PffSource(path, recover=recover, codepage=codepage)
