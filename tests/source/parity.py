"""Helpers of the reader parity tests: the same file through both readers, compared value by value."""

from __future__ import annotations

from typing import Any

from pipeline.model import SourceError, SourceItem


def item_view(item: SourceItem, depth: int = 0) -> dict[str, Any]:
    """Everything a reader hands over for one item, attachment bytes and embedded messages included."""
    attachments = []
    for att in item.attachments:
        entry: dict[str, Any] = {
            "index": att.index,
            "method": att.method,
            "filename": att.filename,
            "mime": att.mime_type,
            "cid": att.content_id,
            "size": att.size,
            "inline": att.is_inline,
            "props": att.properties,
        }
        if att.method == 5:
            inner = att.embedded()
            entry["embedded"] = item_view(inner, depth + 1) if inner is not None and depth < 4 else None
        else:
            entry["data"] = att.read()
        attachments.append(entry)
    return {
        "node_id": item.node_id,
        "class": item.message_class,
        "props": item.properties,
        "named": item.named,
        "codepage": item.codepage,
        "recipients": [
            (r.kind, r.display_name, r.email, r.address_type, r.smtp_address, r.properties) for r in item.recipients
        ],
        "attachments": attachments,
    }


def source_view(source: Any) -> dict[str, Any]:
    folders = []
    items: dict[tuple[Any, ...], Any] = {}
    for folder in source.folders():
        folders.append(
            (
                folder.node_id,
                folder.path,
                folder.display_name,
                folder.container_class,
                folder.role,
                folder.item_count,
                folder.parent_node_id,
                folder.subfolder_count,
                folder.outside_ipm,
            )
        )
        for index, entry in enumerate(source.items(folder)):
            key = (folder.node_id, index)
            if isinstance(entry, SourceError):
                items[key] = ("error",)  # libpff may fail before it knows the node id; native names it
            else:
                items[key] = item_view(entry)
    return {
        "folders": folders,
        "items": items,
        "info": (source.info.kind, source.info.format, source.info.version, source.info.encryption),
    }


def differences(a: dict[str, Any], b: dict[str, Any], limit: int = 20) -> list[str]:
    """Readable differences between two source views (empty when they agree)."""
    out: list[str] = []
    if a["info"] != b["info"]:
        out.append(f"info: {a['info']} != {b['info']}")
    if a["folders"] != b["folders"]:
        for fa, fb in zip(a["folders"], b["folders"], strict=False):
            if fa != fb:
                out.append(f"folder: {fa} != {fb}")
        if len(a["folders"]) != len(b["folders"]):
            out.append(f"folders: {len(a['folders'])} != {len(b['folders'])}")
    for key in sorted(set(a["items"]) | set(b["items"]), key=str):
        ia, ib = a["items"].get(key), b["items"].get(key)
        if ia != ib:
            out.append(f"item {key}: {_diff(ia, ib)}")
        if len(out) >= limit:
            break
    return out


def _diff(x: Any, y: Any, path: str = "") -> str:
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y), key=str):
            if x.get(k) != y.get(k):
                return _diff(x.get(k), y.get(k), f"{path}/{k if not isinstance(k, int) else hex(k)}")
    if isinstance(x, list | tuple) and isinstance(y, list | tuple) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            if u != v:
                return _diff(u, v, f"{path}[{i}]")
    return f"{path}: {str(x)[:150]} != {str(y)[:150]}"
