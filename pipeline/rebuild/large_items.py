"""Items over the server's size limit: reported and skipped, or sent without their largest attachments.

Exchange refuses an item over its limit (35 MB by default) however often it is sent; MailboxImportRequest's
LargeItemLimit skips such an item whole. `--large-items=strip` keeps the item: its largest attachments are
left out until it fits, saved beside the reports, and the item says so in a note appended to its body.
Saved files are named by pipeline/state/filenames.py: two attachments of one name both kept ('scan (2).pdf'),
names capped in bytes, owner-only, never written through a link.
"""

from __future__ import annotations

import dataclasses
import enum
import html
from pathlib import Path

from pipeline import mapi
from pipeline.model import Attachment, SourceItem
from pipeline.state.filenames import Folder, descend, safe_name

MIB = 1024 * 1024
#: Attachment bytes on the wire: base64 with line breaks.
WIRE_FACTOR = 1.37
#: The folder below the reports where left-out attachments are saved, one folder per mailbox.
SAVED_FOLDER = "large-attachments"


class LargeItems(enum.StrEnum):
    SKIP = "skip"
    STRIP = "strip"


def declared_size(item: SourceItem) -> int:
    """The bytes an item's attachments declare before any is read (the native reader checks each declared
    size against the file): a lower bound of the item's size on the wire, where attachments grow by a third.
    An item whose attachments alone exceed the limit is over it whatever its body."""
    return sum(a.size for a in item.attachments if a.size > 0)


def strip_largest(item: SourceItem, size: int, limit: int) -> tuple[SourceItem, list[Attachment]] | None:
    """A copy of item without its largest attachments, dropped until its estimated size fits under limit,
    and the attachments dropped; None when dropping every attachment would not be enough."""
    candidates = sorted((a for a in item.attachments if a.size > 0), key=lambda a: a.size, reverse=True)
    dropped: list[Attachment] = []
    estimate = size
    for attachment in candidates:
        if estimate <= limit:
            break
        dropped.append(attachment)
        estimate -= int(attachment.size * WIRE_FACTOR)
    if estimate > limit or not dropped:
        return None
    kept = [a for a in item.attachments if all(a is not d for d in dropped)]
    return dataclasses.replace(item, attachments=kept), dropped


def with_note(item: SourceItem, note: str) -> SourceItem:
    """The item with `note` appended to its text and HTML bodies (an RTF-only body gets a text one)."""
    properties = dict(item.properties)
    text = properties.get(mapi.PR_BODY)
    properties[mapi.PR_BODY] = f"{text.rstrip()}\n\n{note}\n" if isinstance(text, str) and text else note
    markup = properties.get(mapi.PR_HTML)
    if isinstance(markup, bytes):
        markup = markup.decode("utf-8", "replace")
    if isinstance(markup, str) and markup:
        addition = f"<p><i>{html.escape(note)}</i></p>"
        at = markup.lower().rfind("</body>")
        properties[mapi.PR_HTML] = markup[:at] + addition + markup[at:] if at >= 0 else markup + addition
    return dataclasses.replace(item, properties=properties)


def note_for(saved: list[tuple[Attachment, str]]) -> str:
    """What the stripped item tells its reader."""
    names = "; ".join(
        f"'{a.filename or f'attachment {a.index}'}' ({a.size / MIB:.1f} MB) saved as {where}" for a, where in saved
    )
    return f"[Mailbox rebuild: attachments too large for the server were left out: {names}. Ask your administrator.]"


def save_left_out(
    reports: Path, mailbox: str, identity: str, attachments: list[Attachment]
) -> list[tuple[Attachment, str]]:
    """Each attachment saved owner-only as <reports>/large-attachments/<mailbox>/<identity>-<name>, with where
    (relative to the reports folder). A name already taken by other bytes gets ' (2)', ' (3)'...; the same
    bytes saved by an earlier run are reused. OSError (filenames.UnsafePath for a planted link) when one
    cannot be saved; those this call wrote are removed again."""
    reports.mkdir(parents=True, exist_ok=True, mode=0o700)
    mailbox_folder = safe_name(mailbox, file=False)
    saved: list[tuple[Attachment, str]] = []
    with Folder.open(reports) as top, descend(top, (SAVED_FOLDER, mailbox_folder), 0o700) as folder:
        written: list[str] = []
        try:
            for attachment in attachments:
                name = safe_name(f"{identity[:16]}-{attachment.filename or f'attachment-{attachment.index}'}")
                added = folder.add(name, attachment.read(), 0o600)
                if added.new:
                    written.append(added.name)
                saved.append((attachment, str(Path(SAVED_FOLDER, mailbox_folder, added.name))))
        except BaseException:
            for name in written:
                folder.remove(name)
            raise
    return saved
