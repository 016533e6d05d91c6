"""`rebuild inspect`: what an OST/PST holds, folder by folder, before anything is uploaded.

Reads only each item's class and size, so it runs at the speed of the file's B-trees.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.convert.user_settings.documents import settings_of
from pipeline.errors import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from pipeline.logs.terminal import json_for_terminal, shown
from pipeline.model import FolderRole, SourceError
from pipeline.source import SourceOpenError
from pipeline.source.gate import open_checked


def build_report(path: str | Path, recover: bool = False) -> dict[str, Any]:
    """The inspect report as a plain dict (the JSON shape documented in README.md)."""
    with open_checked(path, recover=recover) as source:
        info = source.info
        folders = []
        errors = [_error(e) for e in source.errors]
        totals: Counter[str] = Counter()
        total_items = total_bytes = total_settings = 0
        for folder in source.folders():
            classes: Counter[str] = Counter()
            size = read = 0
            folder_errors = 0
            for entry in source.summaries(folder):
                if isinstance(entry, SourceError):
                    errors.append(_error(entry))
                    folder_errors += 1
                    continue
                _nid, message_class, item_size = entry
                classes[message_class] += 1
                size += item_size
                read += 1
            settings = settings_of(source, folder, lambda e: errors.append(_error(e)))
            totals.update(classes)
            total_settings += len(settings)
            total_items += read
            total_bytes += size
            folders.append(
                {
                    "path": folder.path_str,
                    "name": folder.display_name,
                    "node_id": folder.node_id,
                    "role": folder.role.value,
                    "role_evidence": source.role_evidence.get(folder.node_id, ""),
                    "container_class": folder.container_class,
                    "system": folder.role in (FolderRole.SYSTEM, FolderRole.SEARCH, FolderRole.ROOT),
                    "outside_ipm": folder.outside_ipm,
                    "item_count": folder.item_count,
                    "items_read": read,
                    "classes": dict(sorted(classes.items())),
                    "bytes": size,
                    "errors": folder_errors,
                    "settings": settings,
                }
            )
        recovered = None
        if recover:
            recovered_classes: Counter[str] = Counter()
            for item in source.recovered():
                if isinstance(item, SourceError):
                    errors.append(_error(item))
                else:
                    recovered_classes[item.message_class] += 1
            recovered = {"items": sum(recovered_classes.values()), "classes": dict(recovered_classes)}
        return {
            "file": str(info.path),
            "kind": info.kind,
            "format": info.format,
            "version": info.version,
            "encryption": info.encryption,
            "codepage": info.codepage,
            "codepage_source": info.codepage_source,
            "size": info.size,
            "orphan_items": info.orphan_items,
            "recovered": recovered,
            "totals": {
                "folders": len(folders),
                "items": total_items,
                "bytes": total_bytes,
                "classes": dict(sorted(totals.items())),
                "errors": len(errors),
                "settings": total_settings,
            },
            "folders": folders,
            "errors": errors,
        }


def _error(error: SourceError) -> dict[str, Any]:
    return {"folder": "/".join(error.folder_path), "node_id": error.node_id, "what": error.what, "reason": error.reason}


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"{shown(report['file'])}: {report['kind'].upper()} ({report['format']}, wVer {report['version']}, "
        f"encryption {report['encryption']}, code page {report['codepage']}"
        + (f" ({report['codepage_source']})" if report["codepage_source"] != "unicode" else "")
        + f"), {report['size']:,} bytes"
    ]
    lines.append(f"{'folder':<48} {'role':<15} {'class':<24} {'items':>6} {'bytes':>12}")
    for folder in report["folders"]:
        label = shown(folder["path"]) or ("(root)" if folder["role"] == "root" else "(IPM subtree)")
        if folder["outside_ipm"] and folder["role"] != "root":
            label = "~ " + label
        classes = ", ".join(f"{shown(k)} {v}" for k, v in folder["classes"].items())
        if len(label) > 48:  # never cut: the whole path on a line of its own, its columns below
            lines.append(label)
            label = ""
        lines.append(
            f"{label:<48} {folder['role']:<15} {shown(folder['container_class'])[:24]:<24} "
            f"{folder['items_read']:>6} {folder['bytes']:>12,}" + (f"  [{classes}]" if classes else "")
        )
        for setting in folder["settings"]:
            lines.append(f"    setting {setting['kind']}: {shown(setting['summary'])}")
    totals = report["totals"]
    lines.append(
        f"{totals['folders']} folders, {totals['items']} items, {totals['bytes']:,} bytes, "
        f"{totals['errors']} errors, {totals['settings']} settings, "
        f"{report['orphan_items']} recoverable orphan items"
        + ("" if report["recovered"] is None else f" ({report['recovered']['items']} recovered)")
    )
    for error in report["errors"]:
        lines.append(
            f"error: {error['what']} {shown(error['folder']) or '(root)'} node {error['node_id']}: "
            f"{shown(error['reason'])}"
        )
    lines.append("(~ marks folders outside the IPM subtree: Outlook's own, never uploaded)")
    return "\n".join(lines)


def run_inspect(path: str, as_json: bool = False, recover: bool = False) -> int:
    return answer(lambda: build_report(path, recover=recover), render_text, as_json)


def answer(build: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str], as_json: bool) -> int:
    """Build a report and print it (as JSON or as text); a file that cannot be opened is one line and
    EXIT_USAGE, a report with errors EXIT_FAILURES (inspect_set.py answers the same way)."""
    try:
        report = build()
    except SourceOpenError as exc:
        print(f"rebuild: error: {shown(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        sys.stdout.write(json_for_terminal(json.dumps(report, indent=2, ensure_ascii=False)) + "\n")
    else:
        print(render(report))
    return EXIT_FAILURES if report["errors"] else EXIT_OK
