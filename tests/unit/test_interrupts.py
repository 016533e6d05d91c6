"""SIGTERM as a clean stop (pipeline/processes/interrupts.py): which commands take it, the first signal asks, the second
aborts, and the handlers before it come back. Signals are raised in this process with the standard library."""

from __future__ import annotations

import signal

import pytest

from pipeline.processes import interrupts


@pytest.mark.parametrize(
    ("argv", "main_job"),
    [
        (["--ost", "a.ost", "--mailbox", "a@b.c"], True),
        (["run", "--map", "users.csv"], True),
        (["run", "--map", "users.csv", "--engine", "temporal"], False),
        (["--map", "users.csv", "--engine=temporal"], False),
        (["export", "--ost", "a.ost", "--out", "x"], False),
        (["sandbox", "serve"], False),
        (["status"], False),
        (["worker", "--temporal", "h:1"], False),
    ],
)
def test_which_commands_stop_cleanly_on_sigterm(argv: list[str], main_job: bool):
    assert interrupts.is_main_job(argv) is main_job


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or not hasattr(signal, "raise_signal"), reason="POSIX signals")
def test_first_sigterm_asks_the_second_aborts_and_the_old_handler_returns():
    before = signal.getsignal(signal.SIGTERM)
    with interrupts.terminate_requests():
        assert not interrupts.stop_requested()
        signal.raise_signal(signal.SIGTERM)
        assert interrupts.stop_requested()  # the process lives on and is asked to stop
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == before
    interrupts._requested.clear()  # this process goes on running tests
