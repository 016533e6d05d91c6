"""The reading stage: OST and PST files opened with pypff and walked one item at a time.

open_source() is the only entry point the rest of the pipeline needs.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.source.pff import PffSource, SourceInfo, SourceOpenError, libpff_reason, read_header

__all__ = ["PffSource", "SourceInfo", "SourceOpenError", "open_source", "read_header"]


def open_source(path: str | Path, recover: bool = False) -> PffSource:
    """Open an OST/PST for reading; raises SourceOpenError with a one-line message naming the file."""
    try:
        return PffSource(path, recover=recover)
    except (SourceOpenError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever libpff raises at open time means "does not open"
        chain = " ".join(str(exc).split()) or type(exc).__name__
        raise SourceOpenError(f"{path}: {libpff_reason(chain)}", detail=f"{type(exc).__name__}: {chain}") from None
