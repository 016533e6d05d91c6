"""The libpff reader: node access through pypff under the shared messaging layer (messaging.py).

A folder or item libpff cannot read becomes a SourceError in the stream; the walk always goes on.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pypff

from pipeline import mapi
from pipeline.model import Attachment, NamedKey, Recipient, SourceError, SourceFolder, SourceItem
from pipeline.source import codepages, pff_associated, pff_embedded
from pipeline.source.base import ItemSummary, Moment, SourceInfo, SourceOpenError
from pipeline.source.cache_identity import ReplicaMap
from pipeline.source.header import whole_file
from pipeline.source.messaging import (
    LAZY_ATTACHMENT_PROPS,
    MAX_EMBED_DEPTH,
    MOMENT_NAMES,
    MOMENT_PROPS,
    PARTY_PROPS,
    MessageStore,
    Orphan,
    moment_of,
    parties_of,
)
from pipeline.source.values import attachment_record, decode_value, python_codepage, recipient_record

T = TypeVar("T")

#: [MS-PST] 2.2.2.1: a search folder's node id type. A search folder has no associated contents table
#: (2.4.8.6 lists its nodes); libpff hands out the rows of its search contents table (0x10) instead, or fails.
NID_TYPE_SEARCH_FOLDER = 0x03


def libpff_reason(chain: str) -> str:
    """libpff's error chain put in words for the one console line (the chain itself goes to the log)."""
    text = chain.lower()
    if "checksum" in text and "header" in text:
        return "the file header is damaged (header checksum mismatch)"
    if "encryption" in text:
        return "unsupported encryption"
    if any(word in text for word in ("index", "block tree", "back pointer", "seek offset", "descriptor")):
        return "its index (B-trees) is damaged; libpff cannot open it"
    if "table" in text:
        return "its store tables are damaged; libpff cannot open it"
    return "libpff cannot open it (the file is damaged)"


def _props(record_sets: Any, codepage: str) -> dict[int, Any]:
    """Decode every entry of a folder's or store's record set(s), by property id."""
    return {
        entry.entry_type: decode_value(entry.value_type, entry.data, codepage)
        for record_set in record_sets
        for entry in record_set.entries
    }


class PffSource(MessageStore[Any, Any, Any]):
    """An open OST/PST read through libpff: folder tree with roles up front (small), items streamed on demand.
    Folder and message handles are pypff objects; a message's undecoded properties are the message itself
    (pypff hands its record sets out afresh on each read)."""

    def __init__(self, path: str | Path, recover: bool = False, codepage: int | None = None) -> None:
        self.path = Path(path)
        self._override = codepages.ansi_codepage(codepage)  # the admin's --codepage beats what items say
        header, size = whole_file(self.path)
        self._file = pypff.file()
        try:
            self._file.open(str(self.path))
        except Exception as exc:  # noqa: BLE001 - libpff raises OSError, ValueError, MemoryError...
            chain = _one_line(exc, limit=None)
            raise SourceOpenError(f"{self.path}: {libpff_reason(chain)}", detail=chain) from None
        try:
            codec = python_codepage(None, (self._file.ascii_codepage or b"cp1252").decode())
        except Exception:
            codec = "cp1252"
        try:
            orphans = self._file.number_of_orphan_items
        except Exception:  # noqa: BLE001 - the recovery scan is optional
            orphans = 0
        self.info = SourceInfo(
            self.path, header.kind, header.format, header.version, header.encryption, codec, size, orphans
        )
        if header.format == "ansi":
            store_cp, how = codepages.store_codepage(self._override, sampled_codepages(self._file))
            self.info = dataclasses.replace(
                self.info, codepage=codepages.codec(store_cp) or "cp1252", codepage_source=how
            )
        self.recover = recover
        self.errors: list[SourceError] = []
        self._associated_reported = False  # the unreachable C API is reported once
        self._names, _damaged = self._load_name_map()
        try:
            self._load_tree()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._folder_handles = {}
        try:
            self._file.close()
        except Exception:  # noqa: BLE001 - closing a damaged file must not raise
            pass

    def replica_map(self) -> ReplicaMap:
        """The store's REPLID -> REPLGUID mapping. pypff has no call for internal nodes, so node 0x801 is read
        through the node database of the native package (only that node); a file it cannot open (cyclic
        encryption, damaged B-trees) gives an empty map saying why."""
        from pipeline.source.native.ndb import NodeDatabase, UnsupportedFile
        from pipeline.source.native.store import read_replica_map

        header, _size = whole_file(self.path)
        try:
            db = NodeDatabase(self.path, header.version, header.crypt)
        except UnsupportedFile as exc:
            return ReplicaMap({}, f"unavailable: {_one_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - whatever stops the node database, the map is only missing
            return ReplicaMap({}, f"unreadable: {_one_line(exc)}")
        try:
            return read_replica_map(db)
        finally:
            db.close()

    @staticmethod
    def _reason(exc: BaseException) -> str:
        return _one_line(exc)

    # -- folders: node access -----------------------------------------------------------------------
    def _name_map_streams(self) -> dict[int, bytes] | None:
        item = self._file.name_to_id_map
        if item is None:
            return None
        streams = {}
        for record_set in item.record_sets:
            for entry in record_set.entries:
                if entry.entry_type in (2, 3, 4):
                    streams[entry.entry_type] = entry.data or b""
        return streams

    def _store_props(self) -> dict[int, Any]:
        store = self._file.message_store
        return _props(store.record_sets, self.info.codepage) if store is not None else {}

    def _root(self) -> Any:
        try:
            root = self._file.root_folder
            if root is None:
                raise OSError("no root folder")
        except Exception as exc:  # noqa: BLE001 - a damaged root raises OSError or MemoryError in pypff
            raise SourceOpenError(
                f"{self.path}: the root folder cannot be read (the folder tree is damaged)",
                detail=_one_line(exc, limit=None),
            ) from None
        return root

    def _folder_id(self, folder: Any) -> int:
        return folder.identifier

    def _folder_props(self, folder: Any) -> dict[int, Any]:
        return _props(folder.record_sets, self.info.codepage)

    def _item_count(self, folder: Any) -> int:
        try:
            return folder.number_of_sub_messages
        except Exception:  # noqa: BLE001
            return 0  # items() and summaries() report the unreadable contents table

    def _subfolders(self, folder: Any) -> list[Any]:
        return [folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders)]

    # -- items: node access -------------------------------------------------------------------------
    def _walk(
        self, folder: SourceFolder, read: Callable[[Any, int], T], start: int = 0, stop: int | None = None
    ) -> Iterator[T | SourceError]:
        return self._rows(
            folder, read, lambda count: range(start, count if stop is None else min(stop, count)), report=start == 0
        )

    def _walk_at(
        self, folder: SourceFolder, read: Callable[[Any, int], T], indexes: Sequence[int]
    ) -> Iterator[T | SourceError]:
        return self._rows(folder, read, lambda count: [i for i in indexes if 0 <= i < count], report=True)

    def _rows(
        self, folder: SourceFolder, read: Callable[[Any, int], T], pick: Callable[[int], Iterable[int]], report: bool
    ) -> Iterator[T | SourceError]:
        """read() of the rows pick() chooses among the folder's count; an unreadable count is the folder's
        error (once: report)."""
        handle = self._folder_handles.get(folder.node_id)
        if handle is None:
            return
        try:
            count = handle.number_of_sub_messages
        except Exception as exc:  # noqa: BLE001 - reported as the folder's error
            if report:
                yield SourceError(folder.path, folder.node_id, "folder", _one_line(exc))
            return
        for index in pick(count):
            yield self._row(folder, handle, index, read)

    @staticmethod
    def _row(folder: SourceFolder, handle: Any, index: int, read: Callable[[Any, int], T]) -> T | SourceError:
        node_id = None
        try:
            message = handle.get_sub_message(index)
            node_id = message.identifier
            return read(message, node_id)
        except Exception as exc:  # noqa: BLE001 - whatever breaks on one item, the walk goes on
            return SourceError(folder.path, node_id, "item", f"item #{index}: {_one_line(exc)}")

    def _walk_associated(self, folder: SourceFolder, read: Callable[[Any, int], T]) -> Iterator[T | SourceError]:
        """read() of each of the folder's associated messages, through libpff's C API (pff_associated.py).
        Where that API is not reachable the reason is one SourceError, on the first folder asked, never
        an empty answer that looks like a store without settings."""
        handle = self._folder_handles.get(folder.node_id)
        if handle is None or folder.node_id & 0x1F == NID_TYPE_SEARCH_FOLDER:
            return  # a search folder has no associated contents table; libpff would list its search results
        reason = pff_associated.unavailable()
        if reason is not None:
            if not self._associated_reported:
                self._associated_reported = True
                yield SourceError(
                    folder.path,
                    None,
                    "associated contents",
                    "the libpff reader cannot read associated contents (settings) here, the native reader can: "
                    + reason,
                )
            return
        try:
            count = pff_associated.count(handle)
        except Exception as exc:  # noqa: BLE001 - reported as the folder's error
            yield SourceError(folder.path, folder.node_id, "associated contents", _one_line(exc))
            return
        for index in range(count):
            yield self._associated_row(folder, handle, index, read)

    @staticmethod
    def _associated_row(
        folder: SourceFolder, handle: Any, index: int, read: Callable[[Any, int], T]
    ) -> T | SourceError:
        node_id = None
        try:
            message = pff_associated.entry(handle, index)
            node_id = message.identifier
            return read(message, node_id)
        except Exception as exc:  # noqa: BLE001 - whatever breaks on one entry, the walk goes on
            return SourceError(folder.path, node_id, "item", f"associated #{index}: {_one_line(exc)}")

    def _orphans(self) -> Iterator[Orphan]:
        """The orphan items libpff recovers from the file's free space."""
        for index in range(self.info.orphan_items):
            yield None, functools.partial(self._orphan, index)

    def _orphan(self, index: int) -> tuple[Any, int] | None:
        item = self._file.get_orphan_item(index)
        node_id = item.identifier
        return (item, node_id) if isinstance(item, pypff.message) else None

    def _parties(self, message: Any, nid: int, folder_path: tuple[str, ...]) -> SourceItem:
        raw = [
            entry
            for record_set in message.record_sets
            for entry in record_set.entries
            if entry.entry_type in PARTY_PROPS or entry.entry_type >= 0x8000
        ]
        codepage = self.info.codepage
        if self.info.format == "ansi":
            found = {
                e.entry_type: decode_value(e.value_type, e.data)
                for e in raw
                if e.entry_type in (mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID)
            }
            codepage = codepages.item_codec(found, codepage, self._override)
        props: dict[int, Any] = {}
        named: dict[NamedKey, Any] = {}
        for entry in raw:
            if entry.entry_type >= 0x8000:
                key = self._names.resolve(entry.entry_type)
                if key is not None and key[0] == mapi.PSETID_ADDRESS:
                    named[key] = decode_value(entry.value_type, entry.data, codepage)
                continue
            props[entry.entry_type] = decode_value(entry.value_type, entry.data, codepage)
        return parties_of(nid, folder_path, props, named, self._recipients(message, codepage))

    def _moment(self, message: Any, nid: int) -> Moment:
        props: dict[int, Any] = {}
        named: dict[NamedKey, Any] = {}
        for record_set in message.record_sets:
            for entry in record_set.entries:
                prop_id = entry.entry_type
                if prop_id in MOMENT_PROPS:
                    props[prop_id] = decode_value(entry.value_type, entry.data, self.info.codepage)
                elif prop_id >= 0x8000 and (key := self._names.resolve(prop_id)) in MOMENT_NAMES:
                    named[key] = decode_value(entry.value_type, entry.data)
        return moment_of(nid, props, named)

    def _summary(self, message: Any, nid: int) -> ItemSummary:
        message_class, size = "IPM.Note", 0
        for record_set in message.record_sets:
            for entry in record_set.entries:
                if entry.entry_type == mapi.PR_MESSAGE_CLASS:
                    message_class = decode_value(entry.value_type, entry.data, self.info.codepage) or message_class
                elif entry.entry_type == mapi.PR_MESSAGE_SIZE:
                    size = decode_value(entry.value_type, entry.data) or 0
        return ItemSummary(nid, message_class, size)

    # -- a message: node access ---------------------------------------------------------------------
    def _message_raw(self, message: Any) -> Any:
        return message

    def _item_props(self, message: Any, codepage: str) -> tuple[dict[int, Any], dict[NamedKey, Any]]:
        props: dict[int, Any] = {}
        named: dict[NamedKey, Any] = {}
        for record_set in message.record_sets:
            for entry in record_set.entries:
                prop_id = entry.entry_type
                value = decode_value(entry.value_type, entry.data, codepage)
                if prop_id >= 0x8000:
                    key = self._names.resolve(prop_id)
                    if key is not None:
                        named[key] = value
                        continue
                props[prop_id] = value
        return props, named

    def _recipients(self, message: Any, codepage: str) -> list[Recipient]:
        try:
            table = getattr(message, "recipients", None)
        except OSError:
            return []
        if table is None:
            return []
        result = []
        for record_set in table.record_sets:
            props = {}
            for entry in record_set.entries:
                props[entry.entry_type] = decode_value(entry.value_type, entry.data, codepage)
            result.append(recipient_record(props))
        return result

    def _attachments(self, message: Any, folder_path: tuple[str, ...], codepage: str, depth: int) -> list[Attachment]:
        try:
            count = getattr(message, "number_of_attachments", 0)
        except OSError:
            return []
        result = []
        room = self.info.size  # an item's attachments hold no more than the whole file, as in the native reader
        for index in range(count):
            try:
                handle = message.get_attachment(index)
                props: dict[int, Any] = {}
                for record_set in handle.record_sets:
                    for entry in record_set.entries:
                        if entry.entry_type in LAZY_ATTACHMENT_PROPS:
                            continue
                        props[entry.entry_type] = decode_value(entry.value_type, entry.data, codepage)
                size = handle.size or 0
            except OSError:
                continue  # reported by the caller through a missing attachment count mismatch
            opener = self._embedded_opener(handle, folder_path, depth)  # used for method 5 only
            result.append(attachment_record(index, props, size, _reader(handle, room), opener))
            room -= min(size, room)
        return result

    def _embedded_opener(self, handle: Any, folder_path: tuple[str, ...], depth: int) -> Any:
        """Opens the embedded message once: libpff hands an attachment's sub-item out a single time, so a
        second libpff_attachment_get_item() on the same attachment fails; the first result is kept."""
        opened: list[SourceItem | None] = []

        def open_it() -> SourceItem | None:
            if opened:
                return opened[0]
            result = None
            if depth < MAX_EMBED_DEPTH:
                try:
                    message = pff_embedded.open_embedded(handle)
                    result = self.read_message(message, message.identifier, folder_path, depth + 1)
                except (OSError, pff_embedded.EmbeddedMessageError, ValueError):
                    result = None
            opened.append(result)
            return result

        return open_it


def sampled_codepages(file: Any) -> Iterator[int | None]:
    """The code page each item names (PR_MESSAGE_CODEPAGE, then PR_INTERNET_CPID), folder by folder."""
    try:
        stack = [file.root_folder]
    except OSError:
        stack = []
    while stack:
        folder = stack.pop()
        try:
            stack.extend(folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders))
            count = folder.number_of_sub_messages
        except OSError:
            continue
        for index in range(count):
            try:
                found = {
                    entry.entry_type: decode_value(entry.value_type, entry.data)
                    for record_set in folder.get_sub_message(index).record_sets
                    for entry in record_set.entries
                    if entry.entry_type in (mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID)
                }
            except OSError:
                continue
            yield codepages.item_codepage(found.get(mapi.PR_MESSAGE_CODEPAGE), found.get(mapi.PR_INTERNET_CPID))


def _reader(handle: Any, room: int) -> Any:
    """Reads the attachment's bytes, unless it declares more than `room`: what the file holds beside the
    item's earlier attachments (libpff would read it; README: "Files built to explode memory")."""

    def read() -> bytes:
        size = handle.size or 0
        if size == 0:
            return b""
        if size > room:
            raise ValueError(
                f"damaged attachment: with the item's other attachments, {size:,} bytes are more than "
                "the whole file holds"
            )
        handle.seek_offset(0)
        return handle.read_buffer(size)

    return read


def _one_line(exc: BaseException, limit: int | None = 300) -> str:
    """The exception's text on one line, cut at a word boundary when longer than limit."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if limit is not None and len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return text
