"""Counters of a running sandbox (requests per operation, errors per code, schema violations, faults).

Kept in memory and flushed to `stats.json` in the data folder now and then, so `rebuild sandbox stats`
can read them after the server is gone.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

STATS_FILE = "stats.json"


class Stats:
    def __init__(self, data_dir: Path | None) -> None:
        self._lock = threading.Lock()
        self._path = Path(data_dir) / STATS_FILE if data_dir is not None else None
        self._counters: dict[str, int] = {}
        self._started = time.time()
        self._dirty = False
        self._last_flush = 0.0

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + n
            self._dirty = True

    def add_many(self, counters: dict[str, int]) -> None:
        with self._lock:
            for name, n in counters.items():
                self._counters[name] = self._counters.get(name, 0) + n
            self._dirty = True

    def get(self, name: str) -> int:
        with self._lock:
            return self._counters.get(name, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"started": self._started, "counters": dict(sorted(self._counters.items()))}

    def flush(self, force: bool = False) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_flush < 1.0):
            return
        snapshot = self.snapshot()
        with self._lock:
            self._dirty = False
            self._last_flush = now
        tmp = self._path.with_name(f".{STATS_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(snapshot, indent=1), encoding="utf-8")
        os.replace(tmp, self._path)


def read_saved(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(data_dir) / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
