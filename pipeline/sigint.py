"""Worker processes born deaf to Ctrl-C: the parent owns it and tells them through a stop event.

A spawned child installs its own SIGINT handler only after it has imported everything; a Ctrl-C that
reaches the process group while it is still importing (on a loaded machine, seconds after start) would
print a KeyboardInterrupt traceback from the child. Ignoring SIGINT in the parent while it starts the
children makes them inherit the ignored disposition from their first instruction (POSIX keeps ignored
signals across exec; on Windows children do not get the console's Ctrl-C this way anyway).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def children_ignore_sigint() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal dispositions can only be changed from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
