"""Conversion in worker processes: items go out materialized, UploadItems come back in order.

Conversion is the CPU-heavy stage (MIME building); a bounded window keeps memory flat while the main
thread uploads, so reading, converting and uploading overlap on every core.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from pipeline.convert import ConvertOptions, convert_item
from pipeline.model import SourceItem, UploadItem


@dataclass(slots=True)
class Converted:
    """One item's conversion: the upload, or why it failed (as text: exceptions may not pickle)."""

    item: SourceItem
    upload: UploadItem | None
    error: str | None


def _convert(
    item: SourceItem, folder_path: tuple[str, ...], identity: str = "", options: ConvertOptions | None = None
) -> tuple[UploadItem | None, str | None]:
    try:
        return convert_item(item, folder_path, options, identity=identity), None
    except Exception as exc:  # noqa: BLE001 - a conversion bug is one item's failure, never the run's
        text = " ".join(str(exc).split())[:300]
        return None, f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def default_workers() -> int:
    """Processes for conversion. Measured on 2 cores, in-process conversion wins: the second core is busy
    with the upload (and the sandbox), and pickling items costs more than it frees. From 4 cores on,
    conversion moves to cores - 1 worker processes (at most 4; beyond that EWS is the bottleneck)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if cores < 4 else min(4, cores - 1)


_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    """One pool per process, shared by every mailbox thread, started on first use ('spawn': the reader
    and exchangelib hold threads and open files that a fork would copy)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            _pool_size = workers
        return _pool


@atexit.register
def _shutdown() -> None:
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)


class ConvertQueue:
    """Submit items in source order, take results in the same order; at most `window` in flight.

    The first `warmup` items convert in-process: a small mailbox never pays for starting the pool.
    """

    def __init__(
        self, workers: int, window: int = 64, warmup: int = 100, options: ConvertOptions | None = None
    ) -> None:
        self.workers = workers
        self.options = options
        self.window = max(1, window)
        self.warmup = warmup
        self.submitted = 0
        self._pending: deque[tuple[SourceItem, Future | tuple[UploadItem | None, str | None]]] = deque()

    def submit(self, item: SourceItem, folder_path: tuple[str, ...], identity: str = "") -> None:
        """Queue a materialized item (SourceItem.materialize(): conversion never reads the file)."""
        self.submitted += 1
        if self.workers <= 1 or self.submitted <= self.warmup:
            self._pending.append((item, _convert(item, folder_path, identity, self.options)))
        else:
            future = _shared_pool(self.workers).submit(_convert, item, folder_path, identity, self.options)
            self._pending.append((item, future))

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.window

    def __len__(self) -> int:
        return len(self._pending)

    def ready(self) -> Iterator[Converted]:
        """Results at the head of the queue that are done (all of them, blocking, while over the window)."""
        while self._pending:
            item, result = self._pending[0]
            if isinstance(result, Future) and not result.done() and not self.full:
                return
            self._pending.popleft()
            yield self._result(item, result)

    def drain(self) -> Iterator[Converted]:
        while self._pending:
            item, result = self._pending.popleft()
            yield self._result(item, result)

    @staticmethod
    def _result(item: SourceItem, result: Any) -> Converted:
        if isinstance(result, Future):
            try:
                upload, error = result.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died takes only its item with it
                upload, error = None, f"worker: {type(exc).__name__}: {exc}"
        else:
            upload, error = result
        return Converted(item, upload, error)
