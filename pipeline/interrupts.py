"""Ctrl-C belongs to the parent process: worker processes start with SIGINT ignored.

A terminal's Ctrl-C reaches the whole process group. A worker still importing when it arrives would die
with a traceback before its initializer could ignore the signal; processes started inside
`children_ignore_sigint()` inherit an ignored SIGINT from the first instruction (an ignored signal stays
ignored across exec, and Python then leaves it so). The parent's own handler is back on exit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
