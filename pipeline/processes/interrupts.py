"""Stopping a run: Ctrl-C and SIGTERM belong to the parent process, which lets the batches in flight finish.

A terminal's Ctrl-C reaches the whole process group. A worker still importing when it arrives would die
with a traceback before its initializer could ignore the signal; processes started inside
`children_ignore_sigint()` inherit an ignored SIGINT (and SIGTERM) from the first instruction (an ignored
signal stays ignored across exec, and Python then leaves it so). The parent's own handlers are back on exit.

SIGTERM is what service managers and `docker stop` send (systemd sends it to every process of the unit).
Inside `terminate_requests()` it asks for the same stop as Ctrl-C: the executor sees `stop_requested()`,
lets the batches in flight finish, releases the lease and writes the summary and the reports; a second one
aborts at once, as a second Ctrl-C does. Windows delivers no SIGTERM from outside: there SIGBREAK (Ctrl-Break,
and the console being closed) is handled the same way, where the signal module has it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

#: The signals that ask a run to stop as Ctrl-C does, where this system has them.
TERMINATE_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGBREAK") if hasattr(signal, name)
)

_requested = threading.Event()
_previous: dict[int, Any] = {}  # the handlers stop_on_terminate replaced, while it is in force


def stop_requested() -> bool:
    """Whether a SIGTERM (or Windows' SIGBREAK) asked this process to stop."""
    return _requested.is_set()


def _on_terminate(signum: int, frame: Any) -> None:
    if _requested.is_set():
        raise KeyboardInterrupt  # the second one: abort at once, as a second Ctrl-C does
    _requested.set()


def is_main_job(argv: list[str]) -> bool:
    """Whether these arguments run the main job on this machine (`rebuild …` or `rebuild run …`, not
    `--engine temporal`, whose workers stop by themselves)."""
    from_here = list(argv)
    if from_here and from_here[0] == "run":
        from_here = from_here[1:]
    elif from_here and not from_here[0].startswith("-") and from_here[0] in _OTHER_COMMANDS:
        return False
    return not any(
        word == "--engine=temporal" or (word == "--engine" and following == "temporal")
        for word, following in zip(from_here, [*from_here[1:], ""], strict=True)
    )


_OTHER_COMMANDS = ("inspect", "export", "verify", "status", "sandbox", "x500", "worker")


def stop_on_terminate() -> bool:
    """From now on SIGTERM/SIGBREAK request a clean stop (see the module's docstring) instead of ending the
    process at once. True when installed by this call (False: already in force, or not the main thread,
    where Python cannot set signal handlers)."""
    if _previous or threading.current_thread() is not threading.main_thread():
        return False
    for signum in TERMINATE_SIGNALS:
        try:
            _previous[signum] = signal.signal(signum, _on_terminate)
        except (OSError, ValueError):  # a signal this platform cannot catch
            continue
    return bool(_previous)


def default_terminate(honour_request: bool = True) -> None:
    """The handlers from before stop_on_terminate back. With honour_request, a stop already requested ends
    the process now, as the signal would have (for a command that has no clean stop of its own)."""
    for signum, handler in _previous.items():
        signal.signal(signum, handler)
    _previous.clear()
    if honour_request and _requested.is_set():
        _requested.clear()
        signal.raise_signal(TERMINATE_SIGNALS[0])


@contextlib.contextmanager
def terminate_requests() -> Iterator[None]:
    """SIGTERM/SIGBREAK request a clean stop while inside (installed early by `python -m pipeline` for the
    main job, so that a signal during start-up is kept too)."""
    installed = stop_on_terminate()
    try:
        yield
    finally:
        if installed:
            default_terminate(honour_request=False)


def ignore_stop_signals() -> None:
    """In a worker process: Ctrl-C and SIGTERM belong to the parent, which tells the workers when to stop."""
    for signum in (signal.SIGINT, *TERMINATE_SIGNALS):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit ignored SIGINT and SIGTERM (see the module's docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, *TERMINATE_SIGNALS):
        with contextlib.suppress(OSError, ValueError):
            previous[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
