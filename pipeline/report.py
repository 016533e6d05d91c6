"""Reports for people and machines: the closing summary of a mailbox, JSON reports, the failures CSV.

Subjects appear only here (the admin's own report), never in logs.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def render_summary(summary: Any) -> str:
    """The closing summary of one mailbox: found, uploaded, already present, skipped, failed (and why)."""
    s = summary
    lines = [f"{s.mailbox} <- {s.source}: {s.status} in {s.elapsed:.1f} s"]
    if s.fatal:
        lines.append(f"  stopped: {s.fatal}")
    lines.append(f"  found {s.found}, uploaded {s.uploaded}, already present {s.present}, "
                 f"skipped {sum(s.skipped.values())}, failed {s.failed_total}")
    if s.uploaded == 0 and s.status == "ok":
        lines.append("  nothing new to upload: every item is already in the mailbox")
    for reason, count in sorted(s.skipped.items()):
        lines.append(f"  skipped {count}: {reason}")
    folders = s.folders or {}
    if folders:
        made = ", ".join(f"{k} {folders[k]}" for k in ("mapped", "created", "found", "renamed") if k in folders)
        skipped = ", ".join(f"{v} {k}" for k, v in sorted(folders.get("skipped", {}).items()))
        lines.append(f"  folders: {made or 'none touched'}" + (f"; skipped {skipped}" if skipped else ""))
    if getattr(s, "codepage", None):
        lines.append(f"  8-bit strings decoded as {s.codepage}")
    drafts = getattr(s, "drafts", [])
    if drafts:
        lines.append(f"  unsent mail restored as drafts {len(drafts)} (tell their authors; nothing was sent):")
        lines.extend(f"    {d['folder'] or '(root)'} | {d['subject'] or '(no subject)'}" for d in drafts[:50])
    addresses = getattr(s, "addresses", {})
    if addresses:
        lines.append("  Exchange addresses: " + ", ".join(f"{k} {v}" for k, v in sorted(addresses.items())))
    for warning, count in sorted(getattr(s, "warnings", {}).items()):
        lines.append(f"  carried with a warning {count}: {warning}")
    if s.retries or s.in_doubt_found:
        lines.append(f"  retries {s.retries}; items found already stored on retry {s.in_doubt_found}")
    for failure in s.failures[:50]:
        subject = failure["subject"] or "(no subject)"
        lines.append(f"  failed: {failure['folder'] or '(root)'} | {failure['item_class']} | {subject} | "
                     f"{failure['reason']}")
    if len(s.failures) > 50:
        lines.append(f"  ... and {len(s.failures) - 50} more failures (see the JSON report)")
    return "\n".join(lines)


def render_table(summaries: list[Any]) -> str:
    """One row per mailbox: found, uploaded, already present, skipped, failed, status."""
    header = f"{'mailbox':<36} {'found':>7} {'uploaded':>9} {'present':>8} {'skipped':>8} {'failed':>7}  status"
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(f"{s.mailbox[:36]:<36} {s.found:>7} {s.uploaded:>9} {s.present:>8} {sum(s.skipped.values()):>8}"
                     f" {s.failed_total:>7}  {s.status}" + (f": {s.fatal}" if s.fatal else ""))
    return "\n".join(lines)


def write_reports(folder: Path, summaries: list[Any]) -> list[Path]:
    """A JSON report of every mailbox, and a CSV of failed items readable by the owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = folder / f"run-{stamp}.json"
    json_path.write_text(json.dumps([s.as_dict() for s in summaries], indent=2, default=str))
    csv_path = folder / f"failed-{stamp}.csv"
    fd = os.open(csv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["mailbox", "folder", "item_class", "subject", "reason"])
        for s in summaries:
            if s.fatal:
                writer.writerow([s.mailbox, "", "", "", f"mailbox stopped: {s.fatal}"])
            for failure in s.failures:
                writer.writerow([s.mailbox, failure["folder"], failure["item_class"], failure["subject"],
                                 failure["reason"]])
    return [json_path, csv_path]
