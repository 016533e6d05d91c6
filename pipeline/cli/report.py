"""The closing summary of a mailbox and the table of many, as the console shows them (the files they are
written to: pipeline/state/reports.py).

Subjects appear only here and in the reports (the admin's own), never in logs.
"""

from __future__ import annotations

from typing import Any

from pipeline.cli.merge_lines import merge_lines
from pipeline.cli.progress import counted
from pipeline.logs.terminal import shown
from pipeline.rebuild.status import RunStatus

#: Items carried with a warning that the console names (all of them are in the JSON report).
WARNINGS_SHOWN = 10


def render_summary(summary: Any) -> str:
    """The closing summary of one mailbox: found, uploaded, already present, skipped, failed (and why)."""
    s = summary
    lines = [f"{shown(s.mailbox)} <- {shown(s.source)}: {s.status} in {s.elapsed:.1f} s"]
    if getattr(s, "usable_after", None) is not None and s.uploaded:
        lines.append(
            f"  usable after {s.usable_after:.1f} s: the folders, contacts, calendar and the last "
            f"days' mail were in place then; the older mail followed"
        )
    if s.fatal:
        lines.append(f"  stopped: {shown(s.fatal)}")
    lines.append(
        f"  found {s.found}, uploaded {s.uploaded}, already present {s.present}, "
        f"skipped {sum(s.skipped.values())}, failed {s.failed_total}"
    )
    if s.uploaded == 0 and not s.restored and s.status == RunStatus.OK:
        lines.append("  nothing new to upload: every item is already in the mailbox (read back from the server)")
    for reason, count in sorted(s.skipped.items()):
        lines.append(f"  skipped {count}: {shown(reason)}")
    folders = s.folders or {}
    if folders:
        made = ", ".join(f"{k} {folders[k]}" for k in ("mapped", "created", "found", "renamed") if k in folders)
        skipped = ", ".join(counted(v, k) for k, v in sorted(folders.get("skipped", {}).items()))
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
        lines.append(f"  carried with a warning {count}: {shown(warning)}")
    items = getattr(s, "warning_items", [])
    for item in items[:WARNINGS_SHOWN]:
        lines.append(
            f"  warning: {shown(item['folder']) or '(root)'} | {shown(item['item_class'])} | "
            f"{shown(item['subject'] or '(no subject)')} | {shown(item['warning'])}"
        )
    if len(items) > WARNINGS_SHOWN:
        lines.append(f"  ... and {len(items) - WARNINGS_SHOWN} more items with warnings (see the JSON report)")
    for setting in getattr(s, "settings", []):  # the user's settings (--settings): what was done, and why
        done = ", ".join(f"{key} {len(setting[key])}" for key in ("added", "kept", "left") if setting.get(key))
        lines.append(
            f"  setting {setting['setting']}"
            + (f" {shown(setting['title'])!r}" if setting.get("title") else "")
            + f": {setting['action']}"
            + (f" ({done})" if done else "")
            + (f"; {shown(setting['reason'])}" if setting.get("reason") else "")
        )
        lines.extend(f"    left: {shown(line)}" for line in (setting.get("left") or [])[:WARNINGS_SHOWN])
    lines.extend(merge_lines(getattr(s, "merge", {}), getattr(s, "updated", 0)))
    if s.duplicates_removed or s.restored:
        lines.append(
            f"  reconciled with the server: {s.duplicates_removed} extra copies removed, {s.restored} items "
            f"that had gone missing sent again"
        )
    if s.retries or s.in_doubt_found:
        lines.append(f"  retries {s.retries}; items found already stored on retry {s.in_doubt_found}")
    for failure in s.failures[:50]:
        subject = shown(failure["subject"] or "(no subject)")
        lines.append(
            f"  failed: {shown(failure['folder']) or '(root)'} | {shown(failure['item_class'])} | "
            f"{subject} | {shown(failure['reason'])}"
        )
    if len(s.failures) > 50:
        lines.append(f"  ... and {len(s.failures) - 50} more failures (see the JSON report)")
    return "\n".join(lines)


def render_table(summaries: list[Any]) -> str:
    """One row per mailbox: found, uploaded, already present, skipped, failed, warnings, status; then the first
    items carried with a warning, by name."""
    header = (
        f"{'mailbox':<36} {'found':>7} {'uploaded':>9} {'present':>8} {'skipped':>8} {'failed':>7} "
        f"{'warned':>7}  status"
    )
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{shown(s.mailbox)[:36]:<36} {s.found:>7} {s.uploaded:>9} {s.present:>8} {sum(s.skipped.values()):>8}"
            f" {s.failed_total:>7} {sum(getattr(s, 'warnings', {}).values()):>7}  {s.status}"
            + (f": {shown(s.fatal)}" if s.fatal else "")
        )
    items = [(s.mailbox, item) for s in summaries for item in getattr(s, "warning_items", [])]
    for mailbox, item in items[:WARNINGS_SHOWN]:
        lines.append(
            f"warning: {shown(mailbox)} | {shown(item['folder']) or '(root)'} | {shown(item['item_class'])} | "
            f"{shown(item['subject'] or '(no subject)')} | {shown(item['warning'])}"
        )
    if len(items) > WARNINGS_SHOWN:
        lines.append(f"... and {len(items) - WARNINGS_SHOWN} more items with warnings (see the JSON report)")
    return "\n".join(lines)
