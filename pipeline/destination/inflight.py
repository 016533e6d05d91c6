"""Batches in flight, for any destination: up to `depth` batches are sent on threads while the run's thread
reads and converts.

Outcomes come back through a queue and are handled in the run's thread (drain), so the journal, the summary
and recurring-series follow-ups (a series created is finished there, before its outcome is handled) never
race; a fatal error in any request stops the mailbox at the next check. A destination's sender subclasses InFlight and says how one batch is sent (_deliver), putting its
outcomes on `self.outcomes`. `after` runs a step (a folder's bookkeeping) in the run's thread once every
batch sent before it has been handled, so the next folder's batches need not wait for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pipeline.destination.base import MailboxFatalError, Outcome
from pipeline.destination.series import finishing
from pipeline.lease import LeaseLost, bind, current_fence
from pipeline.model import UploadItem


class InFlight:
    def __init__(
        self,
        handle: Callable[[list[Outcome]], None],
        depth: int,
        name: str,
        finish: Callable[[Any, str, UploadItem], Outcome] | None = None,
    ) -> None:
        self.depth = max(1, depth)
        self.handle = handle
        self.finish = finish  # the mailbox's complete_series: a series created is finished before it is handled
        self._series_folders: dict[str, Any] = {}  # identity -> folder of each pending series in flight
        self.outcomes: queue.Queue[list[Outcome]] = queue.Queue()
        self._slots = threading.Semaphore(self.depth)
        # each request checks the run's lease fence (pipeline/lease.py), from these threads too
        self._pool = ThreadPoolExecutor(
            max_workers=self.depth, thread_name_prefix=name, initializer=bind, initargs=(current_fence(),)
        )
        self._inflight: set[Future] = set()
        self._fatal: BaseException | None = None
        self._batches_lock = threading.Lock()
        self._sent = 0  # batches submitted; batch n is the n-th
        self._unfinished: set[int] = set()  # batches whose outcomes may not all be on the queue yet
        self._steps: list[tuple[int, Callable[[], None]]] = []  # (batches sent before it, step)

    def _deliver(self, folder: Any, batch: list[UploadItem]) -> None:
        """Send one batch (on a pool thread); every item's Outcome goes onto self.outcomes."""
        raise NotImplementedError

    def send(self, folder: Any, batch: list[UploadItem]) -> None:
        """Queue a batch; blocks while `depth` batches are already in flight (memory stays bounded)."""
        self.drain()
        while not self._slots.acquire(timeout=0.2):
            self.drain()
        for upload in batch:
            if upload.series_pending:
                self._series_folders[upload.identity] = folder
        number = self._sent
        self._sent += 1
        with self._batches_lock:
            self._unfinished.add(number)
        future = self._pool.submit(self._send, number, folder, batch)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)

    def after(self, step: Callable[[], None]) -> None:
        """Run step in the run's thread (from drain or wait) once every batch sent so far has been handled."""
        self._steps.append((self._sent, step))
        self.drain()

    def _send(self, number: int, folder: Any, batch: list[UploadItem]) -> None:
        try:
            if self._fatal is None:
                self._deliver(folder, batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the run's thread, which raises it
            self._fatal = exc
        finally:
            with self._batches_lock:
                self._unfinished.discard(number)  # its outcomes are all on the queue by now
            self._slots.release()

    def _handled_below(self) -> int:
        """Batches numbered below the answer have put all their outcomes on the queue (they are handled once
        the queue is drained after this call)."""
        with self._batches_lock:
            return min(self._unfinished, default=self._sent)

    def _run_steps(self, below: int) -> None:
        while self._steps and self._steps[0][0] <= below:
            _, step = self._steps.pop(0)
            step()

    def drain(self) -> None:
        """Handle the outcomes that have arrived, then the steps whose batches are all handled; raise a
        request's fatal error in the caller's thread."""
        below = self._handled_below()  # before the queue is read: those batches' outcomes are all in it
        while True:
            try:
                outcomes = self.outcomes.get_nowait()
            except queue.Empty:
                break
            self.handle([finishing(o, self._series_folders.pop(o.item.identity, None), self.finish) for o in outcomes])
        if self._fatal is not None:
            fatal = self._fatal
            if isinstance(fatal, MailboxFatalError | LeaseLost):
                raise fatal
            raise MailboxFatalError(str(fatal)) from fatal
        self._run_steps(below)

    def wait(self) -> None:
        """Every batch sent, its outcomes handled and every step run (the end of the walk, or a clean stop)."""
        for future in list(self._inflight):
            while not future.done():
                self.drain()
                try:
                    future.result(timeout=0.2)
                except Exception:  # noqa: BLE001 - a timeout here just means: drain and wait again
                    pass
        self.drain()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
