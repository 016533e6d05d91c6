"""Benchmark: the two readers side by side (issue 17): native vs libpff vs `readpst -e`, in one run.

Read-only items/s (every property, recipient and attachment byte, no conversion) in a child process per
reader, then `rebuild export` wall time with each reader, beside `readpst -e -o DIR` on the same file.
Prints figures; never asserts on timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from tests.bench.common import PYTHON, Results, mb, run_timed


def read_all(path: str, reader: str) -> dict[str, float]:
    """Every item of every folder with its recipients and attachment bytes (embedded messages opened)."""
    from pipeline.model import SourceError
    from pipeline.source import open_source

    start = time.perf_counter()
    items = errors = attachment_bytes = 0
    digest = hashlib.sha256()
    with open_source(path, reader=reader) as source:
        for folder in source.folders():
            for entry in source.items(folder):
                if isinstance(entry, SourceError):
                    errors += 1
                    continue
                items += 1
                digest.update(entry.subject.encode())
                for attachment in entry.attachments:
                    if attachment.method == 5:
                        attachment.embedded()
                    else:
                        attachment_bytes += len(attachment.read())
    return {
        "items": items,
        "errors": errors,
        "attachment_bytes": attachment_bytes,
        "wall": time.perf_counter() - start,
        "digest": digest.hexdigest(),
    }


def run(results: Results, ost: Path, work: Path) -> None:
    size = mb(ost)
    print(f"\n== readers: {ost.name}, {size:.0f} MB (native vs libpff vs readpst -e)", flush=True)
    out = work / "readers"
    shutil.rmtree(out, ignore_errors=True)
    (out / "readpst").mkdir(parents=True)
    readpst = run_timed(["readpst", "-q", "-e", "-o", str(out / "readpst"), str(ost)])
    shutil.rmtree(out / "readpst", ignore_errors=True)
    print(f"  readpst -e: {readpst.wall:.1f}s (rc {readpst.returncode}, peak {readpst.peak_rss_mb:.0f} MB)", flush=True)
    read: dict[str, dict[str, float]] = {}
    for reader in ("native", "libpff"):
        measured = run_timed([PYTHON, "-m", "tests.bench.readers", "--worker", str(ost), "--reader", reader])
        if measured.returncode != 0:
            results.note(f"read-only walk with {reader} failed: {measured.stderr[-500:]}")
            continue
        data = json.loads(measured.stdout.strip().splitlines()[-1])
        data["peak"] = measured.peak_rss_mb
        data["process_wall"] = measured.wall
        read[reader] = data
    items = read.get("native", read.get("libpff", {})).get("items", 0)
    base_rate = items / readpst.wall if readpst.wall else 0
    for reader, data in read.items():
        results.add(
            "readers",
            f"read-only items/s, {reader}",
            data["items"] / data["process_wall"],
            "items/s",
            "readpst -e",
            base_rate,
            ">= 1.0" if reader == "native" else "",
            f"{data['errors']:.0f} errors, peak RSS {data['peak']:.0f} MB",
        )
    if len(read) == 2:
        same = read["native"]["digest"] == read["libpff"]["digest"]
        results.add(
            "readers",
            "native vs libpff, read-only items/s",
            read["native"]["items"] / read["native"]["wall"],
            "items/s",
            "libpff",
            read["libpff"]["items"] / read["libpff"]["wall"],
            "",
            "same items" if same else "ITEMS DIFFER",
        )
    for reader in ("native", "libpff"):
        target = out / f"export-{reader}"
        export = run_timed(
            [PYTHON, "-m", "pipeline", "export", "--ost", str(ost), "--out", str(target), "--reader", reader]
        )
        shutil.rmtree(target, ignore_errors=True)
        results.add(
            "readers",
            f"`rebuild export` wall, --reader {reader}",
            export.wall,
            "s",
            "readpst -e",
            readpst.wall,
            "<= 1.0" if reader == "native" else "",
            f"rc {export.returncode}, peak RSS {export.peak_rss_mb:.0f} MB",
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", metavar="OST")
    parser.add_argument("--reader", default="native")
    parser.add_argument("--items", type=int, default=1000, help="standalone: items of the bulk OST")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(read_all(args.worker, args.reader)))
        return
    import tempfile

    from tests.bench.data import built, bulk_spec

    results = Results()
    run(
        results,
        built(bulk_spec(args.items), label=f"bulk{args.items}"),
        Path(tempfile.gettempdir()) / "rebuild-bench-work",
    )
    print(results.table())


if __name__ == "__main__":
    sys.exit(main())
