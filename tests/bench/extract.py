"""Benchmark 1: read + convert a fixture OST (pipeline.source + pipeline.convert) beside readpst and pffexport.

Our path runs in a child process like the tools do: serially, and as a process pool over folders (--jobs).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tests.bench.common import PYTHON, Results, dir_mb, mb, run_timed

_SOURCE: Any = None


def _open(path: str) -> None:
    global _SOURCE
    from pipeline.source import open_source

    _SOURCE = open_source(path)


def exported_folders(source: Any) -> list[Any]:
    """The folders `rebuild export` and `rebuild run` read: user content inside the IPM subtree."""
    return [f for f in source.folders() if f.role.is_uploadable and not f.outside_ipm and f.item_count]


def convert_folder(node_id: int, limit: int | None = None) -> tuple[int, int, float, float]:
    """(items, output bytes, read seconds, convert seconds) for one folder of the process's open source."""
    from pipeline.convert import convert_item
    from pipeline.model import SourceError

    folder = next(f for f in _SOURCE.folders() if f.node_id == node_id)
    items = out = 0
    read = conv = 0.0
    entries = _SOURCE.items(folder)
    while limit is None or items < limit:
        t0 = time.perf_counter()
        entry = next(entries, None)
        t1 = time.perf_counter()
        read += t1 - t0
        if entry is None:
            break
        if isinstance(entry, SourceError):
            continue
        upload = convert_item(entry, folder.path)
        conv += time.perf_counter() - t1
        items += 1
        out += len(upload.mime or b"")
    return items, out, read, conv


def convert_all(path: str, jobs: int) -> dict[str, Any]:
    """Every exported folder converted in memory, by `jobs` processes (1: this process, no pool)."""
    start = time.perf_counter()
    _open(path)
    folders = sorted(exported_folders(_SOURCE), key=lambda f: -f.item_count)
    totals = [0, 0, 0.0, 0.0]
    if jobs <= 1:
        results = [convert_folder(f.node_id) for f in folders]
    else:
        with ProcessPoolExecutor(jobs, initializer=_open, initargs=(path,)) as pool:
            results = list(pool.map(convert_folder, [f.node_id for f in folders]))
    for result in results:
        totals = [a + b for a, b in zip(totals, result, strict=True)]
    return {
        "items": totals[0],
        "out_bytes": totals[1],
        "read_s": totals[2],
        "convert_s": totals[3],
        "wall": time.perf_counter() - start,
    }


def profile(path: Path, items: int, top: int = 18) -> str:
    """cProfile of the serial path on the first `items` items: the pipeline's stages, then the top callees."""
    _open(str(path))
    folders = exported_folders(_SOURCE)
    prof = cProfile.Profile()
    prof.enable()
    done = 0
    for folder in folders:
        if done >= items:
            break
        done += convert_folder(folder.node_id, items - done)[0]
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    stages = {
        "read (read_message: the reader's node access + decoding)": ("source/messaging.py", "read_message"),
        "  get_sub_message (libpff item lookup)": ("~", "<method 'get_sub_message' of 'pypff.folder' objects>"),
        "  of which decode_value": ("values.py", "decode_value"),
        "convert_item (all conversion)": ("convert/__init__.py", "convert_item"),
        "  fingerprint": ("fingerprint.py", "fingerprint"),
        "  mime.build (the MIME byte writer)": ("mime.py", "build"),
        "    top_headers (header objects, fold checks)": ("headers.py", "top_headers"),
        "    bodies.extract": ("bodies.py", "extract"),
    }
    lines = [f"profile of {done} items, {total:.2f}s under cProfile (cumulative, share of total):"]
    for label, (file_part, func) in stages.items():
        cum = sum(
            v[3]
            for k, v in stats.stats.items()  # type: ignore[attr-defined]
            if k[0].endswith(file_part) and k[2] == func
        )
        lines.append(f"  {label:<52} {cum:7.2f}s {100 * cum / total:5.1f}%")
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    body = buf.getvalue()
    lines.append("top functions by own time:")
    lines += ["  " + ln for ln in body[body.find("ncalls") :].splitlines() if ln.strip()]
    return "\n".join(lines)


def run(
    results: Results,
    ost: Path,
    work: Path,
    jobs: tuple[int, ...] = (1, 2),
    profile_items: int = 1000,
    with_export: bool = True,
) -> None:
    size = mb(ost)
    print(f"\n== extraction + conversion: {ost.name}, {size:.0f} MB", flush=True)
    out = work / "extract"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "readpst").mkdir()
    readpst = run_timed(["readpst", "-q", "-e", "-o", str(out / "readpst"), str(ost)])
    pff = run_timed(["pffexport", "-q", "-t", str(out / "pffexport"), str(ost)])
    print(
        f"  readpst -e: {readpst.wall:.1f}s (rc {readpst.returncode}, {dir_mb(out / 'readpst'):.0f} MB written); "
        f"pffexport: {pff.wall:.1f}s (rc {pff.returncode})",
        flush=True,
    )
    shutil.rmtree(out / "readpst", ignore_errors=True)
    shutil.rmtree(out / "pffexport.export", ignore_errors=True)
    base = readpst.wall
    items = 0
    for n in jobs:
        ours = run_timed([PYTHON, "-m", "tests.bench.extract", "--worker", str(ost), "--jobs", str(n)])
        if ours.returncode != 0:
            results.note(f"our path --jobs {n} failed: {ours.stderr[-500:]}")
            continue
        data = json.loads(ours.stdout.strip().splitlines()[-1])
        items = data["items"]
        label = "serial" if n == 1 else f"{n} processes over folders"
        results.add(
            "extract",
            f"read+convert wall, {label}",
            ours.wall,
            "s",
            "readpst -e",
            base,
            "<= 1.0",
            note=f"pffexport {pff.wall:.1f}s; read {data['read_s']:.1f}s + convert {data['convert_s']:.1f}s "
            f"(CPU-side sums); out {data['out_bytes'] / 1e6:.0f} MB",
        )
        results.add("extract", f"items/s, {label}", items / ours.wall, "items/s", "readpst -e", items / base, ">= 1.0")
        results.add("extract", f"MB/s of OST, {label}", size / ours.wall, "MB/s", "readpst -e", size / base)
        results.add("extract", f"peak RSS, {label}", ours.peak_rss_mb, "MB", "readpst -e", readpst.peak_rss_mb)
    results.add("extract", "pffexport wall", pff.wall, "s", "readpst -e", base)
    if with_export:
        export = run_timed([PYTHON, "-m", "pipeline", "export", "--ost", str(ost), "--out", str(out / "export")])
        results.add(
            "extract", "`rebuild export` wall (serial, writes files)", export.wall, "s", "readpst -e", base, "<= 1.0"
        )
        shutil.rmtree(out / "export", ignore_errors=True)
    if profile_items:
        text = profile(ost, profile_items)
        print(text, flush=True)
        (work / "profile-extract.txt").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", metavar="OST", help="internal: convert OST in memory, print JSON totals")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(convert_all(args.worker, args.jobs)))
        return
    parser.print_help()
    sys.exit(2)


if __name__ == "__main__":
    main()
