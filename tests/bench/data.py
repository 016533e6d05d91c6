"""Benchmark inputs: fixture OSTs built once into a cache of the benchmarks' own, keyed by spec and format.

The key ignores the builder's code version (fixtures.cached includes it), so edits elsewhere in fixtures/
do not force a multi-minute rebuild of a 1 GB file between benchmark runs; BENCH_CACHE moves the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import fixtures


def cache_dir() -> Path:
    env = os.environ.get("BENCH_CACHE")
    folder = Path(env) if env else Path(tempfile.gettempdir()) / "rebuild-bench-cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bulk_spec(
    items: int, size_min: int = 5000, size_max: int = 200000, folders: int = 50, seed: int = 1, name: str = "Bulk Store"
) -> dict[str, Any]:
    """The shape of fixtures/specs/bulk.toml with the count and sizes as parameters."""
    return {
        "store": {"name": name, "seed": seed},
        "folders": [{"name": "Inbox", "role": "inbox"}],
        "bulk": [
            {
                "count": items,
                "size_min": size_min,
                "size_max": size_max,
                "folders": max(1, min(folders, items)),
                "seed": seed,
                "parent": "Inbox",
            }
        ],
    }


def built(spec: dict[str, Any], fmt: str = "ost", label: str = "bench") -> Path:
    """Path of the OST for spec, building it (atomically, with its build time printed) if not cached."""
    key = hashlib.sha256(json.dumps([spec, fmt], sort_keys=True).encode()).hexdigest()[:16]
    target = cache_dir() / f"{label}-{key}.{'pst' if fmt in ('pst', 'ansi') else 'ost'}"
    if target.exists():
        return target
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    start = time.perf_counter()
    manifest = fixtures.build(spec, tmp, format=fmt, encryption="permute", item_details=False)
    os.replace(tmp, target)
    print(
        f"  (built {target.name}: {manifest.item_count} items, {target.stat().st_size / 1e6:.0f} MB "
        f"in {time.perf_counter() - start:.0f}s)",
        flush=True,
    )
    return target
