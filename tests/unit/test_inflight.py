"""InFlight.after: a step runs in the caller's thread only once every batch sent before it has been handled,
whatever order the batches finish in; later batches never hold it back."""

from __future__ import annotations

import threading

import pytest

from pipeline.destination.base import MailboxFatalError, Outcome, OutcomeState
from pipeline.destination.inflight import InFlight
from pipeline.model import UploadItem


def upload(name: str) -> UploadItem:
    return UploadItem(
        kind="message", item_class="IPM.Note", folder_path=(name,), identity=name, subject=name, source_node_id=1
    )


class Gated(InFlight):
    """Each batch waits for its gate to open, then puts one outcome per item."""

    def __init__(self, log: list[str], depth: int = 3) -> None:
        super().__init__(lambda outcomes: log.extend(f"handled {o.item.subject}" for o in outcomes), depth, "test")
        self.gates: dict[str, threading.Event] = {}
        self.fail: set[str] = set()

    def _deliver(self, folder, batch):
        self.gates[folder].wait(5)
        if folder in self.fail:
            raise RuntimeError("refused")
        self.outcomes.put([Outcome(u, OutcomeState.UPLOADED) for u in batch])


def send(sender: Gated, folder: str) -> None:
    sender.gates[folder] = threading.Event()
    sender.send(folder, [upload(folder)])


def test_a_step_waits_for_the_batches_before_it_and_only_those():
    log: list[str] = []
    sender = Gated(log)
    send(sender, "a")
    sender.after(lambda: log.append("step a"))
    send(sender, "b")
    sender.after(lambda: log.append("step b"))
    send(sender, "c")  # after both steps: never holds them back
    sender.gates["b"].set()
    sender.gates["c"].set()
    for _ in range(50):
        sender.drain()
        if "handled c" in log:
            break
        threading.Event().wait(0.02)
    assert log == ["handled b", "handled c"] or log == ["handled c", "handled b"]  # a is not handled: no step
    sender.gates["a"].set()
    sender.wait()
    assert log[-3:] == ["handled a", "step a", "step b"]
    sender.close()


def test_a_step_with_nothing_in_flight_runs_at_once():
    log: list[str] = []
    sender = Gated(log)
    sender.after(lambda: log.append("step"))
    assert log == ["step"]
    send(sender, "a")
    sender.gates["a"].set()
    sender.wait()
    sender.after(lambda: log.append("again"))
    assert log == ["step", "handled a", "again"]
    sender.close()


def test_a_fatal_batch_stops_the_steps_after_it():
    log: list[str] = []
    sender = Gated(log)
    sender.fail.add("a")
    send(sender, "a")
    sender.after(lambda: log.append("step a"))
    sender.gates["a"].set()
    with pytest.raises(MailboxFatalError):
        sender.wait()
    assert "step a" not in log
    sender.close()
