"""Reading helpers for the fixture-builder tests: a pypff walk that tolerates per-item failures.

Returns plain dicts so assertions compare them against the builder's manifest directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pypff


@dataclass
class ReadAttachment:
    size: int
    method: int | None
    sha256: str
    name: str


@dataclass
class ReadItem:
    subject: str
    message_class: str
    props: dict[str, bytes]
    recipients: int
    attachments: list[ReadAttachment] = field(default_factory=list)


@dataclass
class ReadFolder:
    name: str
    items: list[ReadItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def escape(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2F")


def _props(item: pypff.item) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    rs = item.record_sets[0]
    for e in rs.entries:
        try:
            data = e.data
        except OSError:
            data = None
        out[f"{e.entry_type:04X}{e.value_type:04X}"] = data or b""
    return out


def read_item(m: pypff.message) -> ReadItem:
    props = _props(m)
    cls = props.get("001A001F", props.get("001A001E", b""))
    cls_text = cls.decode("utf-16-le") if props.get("001A001F") is not None else cls.decode("cp1252")
    item = ReadItem(
        subject=m.subject or "",
        message_class=cls_text,
        props=props,
        recipients=m.recipients.number_of_recipients if m.recipients else 0,
    )
    for a in m.attachments:
        aprops = _props(a)
        method = aprops.get("37050003")
        size = a.size
        data = a.read_buffer(size) if size and method != b"\x05\x00\x00\x00" else b""
        item.attachments.append(
            ReadAttachment(
                size=size,
                method=int.from_bytes(method, "little") if method else None,
                sha256=hashlib.sha256(data).hexdigest(),
                name=a.long_filename or "",
            )
        )
    return item


def read_store(path: Path) -> dict[str, ReadFolder]:
    """Folder path (escaped names joined by '/', root = '') -> folder with its readable items and errors."""
    f = pypff.file()
    f.open(str(path))
    out: dict[str, ReadFolder] = {}

    def walk(folder: pypff.folder, path: str) -> None:
        try:
            name = folder.name or ""
        except OSError as exc:
            name = ""
            out.setdefault("!errors", ReadFolder("!errors")).errors.append(str(exc))
        rf = ReadFolder(name=name)
        out[path] = rf
        try:
            count = folder.number_of_sub_messages
        except OSError as exc:
            rf.errors.append(str(exc))
            count = 0
        for i in range(count):
            try:
                rf.items.append(read_item(folder.get_sub_message(i)))
            except OSError as exc:
                rf.errors.append(str(exc))
        for n, sub in enumerate(folder.sub_folders):
            try:
                sub_name = escape(sub.name)
            except OSError:
                sub_name = f"!unreadable-{n}"
            walk(sub, f"{path}/{sub_name}" if path else sub_name)

    walk(f.get_root_folder(), "")
    f.close()
    return out
