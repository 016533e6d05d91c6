"""Benchmark of the fixture writer: MB/s, items/s and peak RSS for a bulk build (prints, never asserts).

Run as a script (`python tests/bench/bench_fixtures.py [--count N ...]`) or via `pytest -m bench`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import fixtures  # noqa: E402


def run(
    count: int, size_min: int, size_max: int, folders: int, fmt: str, encryption: str, out: Path | None = None
) -> dict[str, float]:
    spec = {
        "name": "Bench",
        "seed": 1,
        "folders": [{"name": "Inbox", "role": "inbox"}],
        "bulk": [
            {
                "count": count,
                "size_min": size_min,
                "size_max": size_max,
                "folders": folders,
                "seed": 1,
                "parent": "Inbox",
            }
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = out or Path(tmp) / f"bench.{'pst' if fmt == 'pst' else 'ost'}"
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        manifest = fixtures.build(spec, path, format=fmt, encryption=encryption, item_details=False)
        elapsed = time.perf_counter() - start
        size = path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "items": manifest.item_count,
        "seconds": elapsed,
        "mb": size / 1e6,
        "mb_per_s": size / 1e6 / elapsed,
        "items_per_s": manifest.item_count / elapsed,
        "peak_rss_mb": peak / 1024,
        "rss_before_mb": rss_before / 1024,
        "blocks": manifest.stats["blocks"],
    }
    print(
        f"{fmt}/{encryption}: {result['items']} items, {result['mb']:.0f} MB in {elapsed:.1f}s -> "
        f"{result['mb_per_s']:.1f} MB/s, {result['items_per_s']:.0f} items/s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB (before {result['rss_before_mb']:.0f} MB)"
    )
    return result


@pytest.mark.bench
def test_bench_bulk_build() -> None:
    run(2000, 5000, 200000, 20, "pst", "permute")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--size-min", type=int, default=5000)
    p.add_argument("--size-max", type=int, default=200000)
    p.add_argument("--folders", type=int, default=50)
    p.add_argument("--format", default="pst")
    p.add_argument("--encryption", default="permute")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    run(a.count, a.size_min, a.size_max, a.folders, a.format, a.encryption, a.out)


if __name__ == "__main__":
    main()
