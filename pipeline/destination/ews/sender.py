"""Batches in flight: up to N CreateItem requests at once while the main thread reads and converts.

Outcomes come back through a queue and are handled in the main thread, so the journal, the summary and
recurring-series follow-ups never race; a fatal error in any request stops the mailbox at the next check.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pipeline.destination.base import MailboxFatalError, Outcome, ServerFolder
from pipeline.destination.ews.upload import Uploader
from pipeline.model import UploadItem


class Sender:
    """Sends batches on `depth` threads; `drain()` hands their outcomes to `handle` in the caller's thread."""

    def __init__(self, account: Any, policy: Any, handle: Any, depth: int = 2) -> None:
        self.depth = max(1, depth)
        self.handle = handle
        self._outcomes: queue.Queue[list[Outcome]] = queue.Queue()
        self.uploader = Uploader(account, self._outcomes.put, policy)
        self._slots = threading.Semaphore(self.depth)
        self._pool = ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix="ews-send")
        self._inflight: set[Future] = set()
        self._fatal: BaseException | None = None

    @property
    def stats(self) -> Any:
        return self.uploader.stats

    def send(self, folder: ServerFolder, batch: list[UploadItem]) -> None:
        """Queue a batch; blocks while `depth` batches are already in flight (memory stays bounded)."""
        self.drain()
        while not self._slots.acquire(timeout=0.2):
            self.drain()
        future = self._pool.submit(self._send, folder.handle, batch)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)

    def _send(self, folder: Any, batch: list[UploadItem]) -> None:
        try:
            if self._fatal is None:
                self.uploader.send(folder, batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self._fatal = exc
        finally:
            self._slots.release()

    def drain(self) -> None:
        """Handle the outcomes that have arrived; raise a request's fatal error in the caller's thread."""
        while True:
            try:
                outcomes = self._outcomes.get_nowait()
            except queue.Empty:
                break
            self.handle(outcomes)
        if self._fatal is not None:
            fatal = self._fatal
            raise fatal if isinstance(fatal, MailboxFatalError) else MailboxFatalError(str(fatal)) from fatal

    def wait(self) -> None:
        """Every batch sent and its outcomes handled (the end of a folder, or a clean stop)."""
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
