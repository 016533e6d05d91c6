"""The native reader: [MS-PST] read with this package's own code (mmap, struct), every block checked.

ndb.py (pages, blocks, B-trees), ltp.py (heap-on-node, BTH, PC, TC), store.py (folders, messages and
their tables reached by node id, under the messaging layer both readers share: pipeline/source/messaging.py).
It yields the same SourceFolder/SourceItem/SourceError values as the libpff reader (pipeline/source/pff.py).
"""

from __future__ import annotations

from pipeline.source.native.ndb import DamagedBlock, NdbError, UnsupportedFile
from pipeline.source.native.store import NativeSource

__all__ = ["DamagedBlock", "NativeSource", "NdbError", "UnsupportedFile"]
