"""Batches in flight over EWS: up to N CreateItem requests at once while the run reads and converts
(destination/inflight.py holds the mechanism; the Uploader sends one batch)."""

from __future__ import annotations

from typing import Any

from pipeline.destination.base import ServerFolder
from pipeline.destination.ews.upload import Uploader
from pipeline.destination.inflight import InFlight
from pipeline.model import UploadItem


class Sender(InFlight):
    """Sends batches on `depth` threads; `drain()` hands their outcomes to `handle` in the caller's thread."""

    def __init__(self, account: Any, policy: Any, handle: Any, depth: int = 2, finish: Any = None) -> None:
        super().__init__(handle, depth, "ews-send", finish)
        self.uploader = Uploader(account, self.outcomes.put, policy)

    @property
    def stats(self) -> Any:
        return self.uploader.stats

    def _deliver(self, folder: ServerFolder, batch: list[UploadItem]) -> None:
        self.uploader.send(folder.handle, batch)
