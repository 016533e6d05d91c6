"""Reports for people and machines: the closing summary of a mailbox, JSON reports, the failures CSV.

Subjects appear only here (the admin's own report), never in logs.
"""

from __future__ import annotations

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
    if s.retries or s.in_doubt_found:
        lines.append(f"  retries {s.retries}; items found already stored on retry {s.in_doubt_found}")
    for failure in s.failures[:50]:
        subject = failure["subject"] or "(no subject)"
        lines.append(f"  failed: {failure['folder'] or '(root)'} | {failure['item_class']} | {subject} | "
                     f"{failure['reason']}")
    if len(s.failures) > 50:
        lines.append(f"  ... and {len(s.failures) - 50} more failures (see the JSON report)")
    return "\n".join(lines)
