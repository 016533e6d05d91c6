"""Logging handlers that degrade once, in one line, when their stream fails (a full disk, a closed pipe).

The standard handlers answer every failed write with "--- Logging error ---" and a traceback on stderr:
on a full disk, one per event (hundreds of lines). These say the first failure in one line on the
process's original stderr (silent when that is what failed) and no later one. Used by the
rebuild's own logs (logs.py) and by the sandbox, a separate program (standard library only).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys


class _FailOnce:
    """Mixin: the first failed emit is said in one line naming the target; later failures are silent (the
    handler keeps trying: a rotation refused for a moment, or space freed, and the log goes on)."""

    _failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's own name
        if self._failed:
            return
        self._failed = True
        exc = sys.exc_info()[1]
        reason = getattr(exc, "strerror", None) or (type(exc).__name__ if exc else "unknown error")
        target = getattr(self, "baseFilename", None) or "the console"
        stream = sys.__stderr__
        if stream is None or getattr(self, "stream", None) is stream:
            return  # the console itself failed: nowhere left to say it
        try:
            stream.write(
                f"rebuild: cannot write the log {target}: {reason}; the work goes on "
                "(further log errors are not shown)\n"
            )
            stream.flush()
        except Exception:  # noqa: BLE001 - stderr is gone too: stay silent
            pass

    @property
    def failed(self) -> bool:
        return self._failed


class SafeStreamHandler(_FailOnce, logging.StreamHandler):  # type: ignore[type-arg]
    pass


class SafeRotatingFileHandler(_FailOnce, logging.handlers.RotatingFileHandler):
    def shouldRollover(self, record: logging.LogRecord) -> int:  # noqa: N802 - logging's own name
        try:
            return super().shouldRollover(record)
        except OSError:
            return 0
