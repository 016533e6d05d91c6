"""Entry point: `python -m tests.bench [--quick] [--only NAME ...]` runs the benchmarks and prints a table.

Full mode: 20,000-item bulk OST, 250/500/1000 MB memory runs, 8 x 250-item mailboxes; quick mode: small sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import concurrency, extract, memory, mime_upload, readers, temporal_engine, upload
from tests.bench.common import Results
from tests.bench.data import built, bulk_spec

BENCHES = (
    "extract",
    "readers",
    "mime-upload",
    "upload",
    "memory",
    "concurrency",
    "graph",
    "temporal",
    "usable",
    "usable-site",
)  # upload includes the rerun figure
FULL = {"items": 20000, "memory_mb": (250, 500, 1000), "mailbox_items": 250, "profile_items": 1000}
QUICK = {"items": 1000, "memory_mb": (25, 50, 100), "mailbox_items": 60, "profile_items": 300}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole suite in a few minutes")
    parser.add_argument("--only", action="append", choices=BENCHES, help="run only these (repeatable)")
    parser.add_argument("--items", type=int, help="items of the bulk OST for extract and upload")
    parser.add_argument("--memory-mb", type=int, action="append", help="OST sizes for the memory bench")
    parser.add_argument("--mailbox-items", type=int, help="items per mailbox for the concurrency bench")
    parser.add_argument("--workers", default="1,2,4,8", help="worker counts for the concurrency bench")
    parser.add_argument(
        "--cprofile",
        type=int,
        metavar="ITEMS",
        default=0,
        help="also cProfile a pipeline upload of a bulk OST of ITEMS items (e.g. 1000)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "rebuild-bench-work",
        help="scratch folder (sandboxes, exports, profiles, results.json)",
    )
    args = parser.parse_args(argv)
    mode = dict(QUICK if args.quick else FULL)
    items = args.items or mode["items"]
    wanted = args.only or list(BENCHES)
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"rebuild benchmarks ({'quick' if args.quick else 'full'} mode): {os.cpu_count()} CPUs, "
        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}; work {args.work}",
        flush=True,
    )
    results = Results()
    started = time.perf_counter()
    bulk = None
    if {"extract", "upload", "readers", "mime-upload"} & set(wanted):
        bulk = built(bulk_spec(items), label=f"bulk{items}")
    if "extract" in wanted:
        extract.run(results, bulk, args.work, profile_items=mode["profile_items"], with_export=args.quick)
    if "readers" in wanted:
        readers.run(results, bulk, args.work)
    if "mime-upload" in wanted:
        mime_upload.run(results, built(bulk_spec(3000), label="bulk3000") if not args.quick else bulk, args.work)
    if "upload" in wanted:
        profile_ost = built(bulk_spec(args.cprofile), label=f"bulk{args.cprofile}") if args.cprofile else None
        upload.run(results, bulk, args.work, items, cprofile=profile_ost)
    if "memory" in wanted:
        memory.run(results, args.work, tuple(args.memory_mb or mode["memory_mb"]))
    if "concurrency" in wanted:
        workers = tuple(int(n) for n in args.workers.split(","))
        concurrency.run(results, args.work, args.mailbox_items or mode["mailbox_items"], workers)
    if "temporal" in wanted:
        temporal_engine.run(results, args.work, args.mailbox_items or mode["mailbox_items"])
    if "graph" in wanted:  # Graph vs EWS on one sandbox (needs the graph extra: msal, httpx)
        from tests.bench import graph

        graph.run(results, args.work / "graph", min(items, 1000))
    if "usable" in wanted or "usable-site" in wanted:  # usable first (issue 25): one mailbox over Graph, a site
        from tests.bench import usable

        for which, name in (("single", "usable"), ("site", "usable-site")):
            if name in wanted:
                usable.run(results, args.work, args.quick, which)
    print(f"\n== results ({time.perf_counter() - started:.0f}s; ratio = value / baseline measured in the same run)")
    print(results.table())
    results.dump(args.work / "results.json")
    print(f"(also in {args.work / 'results.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
