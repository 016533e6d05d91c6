"""`rebuild inspect --ost A --ost B …`: a mailbox's set of files (desktop OST, laptop OST, archive PSTs), each
file as `inspect` shows it, then the merged view a run would make of them: the items per folder after the
merge (each item once, in the folder of its newest copy), the items only one file holds, and the coverage
per file and folder, the same figures the run's closing lines and JSON report give (rebuild/merge.py's
index and merge_report, over the folders a run carries). Nothing is written but a private temporary index.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.cli.inspect import answer, build_report, render_text
from pipeline.cli.merge_lines import coverage_lines
from pipeline.errors import EXIT_USAGE
from pipeline.logs.terminal import shown
from pipeline.rebuild.merge import build_plan, merge_report
from pipeline.selection import Selection
from pipeline.source import Source
from pipeline.source.gate import open_checked
from pipeline.state.merge_index import MergeIndex


def merged_view(paths: list[Path], recover: bool = False) -> dict[str, Any]:
    """The merge of the set as a run with the default selection would make it."""

    def open_file(path: Path) -> Source:
        return open_checked(path, recover=recover)

    with tempfile.TemporaryDirectory(prefix="rebuild-inspect-") as folder:
        index = MergeIndex(Path(folder) / "merge.sqlite")
        try:
            plan = build_plan(tuple(paths), index, open_file, lambda s: Selection().bind(s.folders()), recover)
            copies, identities = index.counts()
            report = merge_report(plan, copies - identities, 0)
            per_folder = Counter(winner.folder for winner in index.winners())
        finally:
            index.close()
    only: Counter[str] = Counter()
    for c in report["coverage"]:
        only[c["file"]] += c["only_here"]
    return {
        "files": report["files"],
        "copies": copies,
        "identities": identities,
        "passed_over": report["passed_over"],  # copies another file holds newer: what a run passes over
        "folders": [{"folder": name, "items": count} for name, count in sorted(per_folder.items())],
        "only_in": [{"file": path, "items": only[path]} for path in report["files"]],
        "coverage": report["coverage"],
        "absent_from_newer": report["absent_from_newer"],
        "absent_items": report["absent_items"],
    }


def build_set_report(paths: list[Path], recover: bool = False) -> dict[str, Any]:
    """Each file's inspect report (in the order given), and the set's merged view."""
    files = [build_report(path, recover=recover) for path in paths]
    errors = sum(f["totals"]["errors"] for f in files)
    return {"files": files, "merged": merged_view(paths, recover), "errors": errors}


def render_set_text(report: dict[str, Any]) -> str:
    lines = []
    for one in report["files"]:
        lines += [render_text(one), ""]
    merged = report["merged"]
    lines.append(
        f"merged view of {len(merged['files'])} files: {merged['copies']} copies of {merged['identities']} items "
        f"({merged['passed_over']} copies another file holds newer)"
    )
    width = max([len("folder"), *(len(shown(f["folder"])) for f in merged["folders"])])
    lines.append(f"  {'folder':<{width}} {'items':>6}")
    for f in merged["folders"]:
        lines.append(f"  {shown(f['folder']):<{width}} {f['items']:>6}")
    lines.append(
        "  only in one file: " + ", ".join(f"{shown(Path(o['file']).name)} {o['items']}" for o in merged["only_in"])
    )
    lines.append("  coverage:")
    lines += coverage_lines(merged)
    return "\n".join(lines)


def run_inspect_set(paths: list[str], as_json: bool = False, recover: bool = False) -> int:
    given = [Path(p) for p in paths]
    resolved = [p.resolve() for p in given]
    twice = next((str(p) for p, r in zip(given, resolved, strict=True) if resolved.count(r) > 1), None)
    if twice:
        print(f"rebuild: error: --ost {shown(twice)} is given twice", file=sys.stderr)
        return EXIT_USAGE
    return answer(lambda: build_set_report(given, recover=recover), render_set_text, as_json)
