"""The OST/PST walk with pypff: folders with roles, then items one at a time, damage contained.

A folder or item libpff cannot read becomes a SourceError in the stream; the walk always goes on.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pypff

from pipeline import mapi
from pipeline.model import Attachment, Recipient, SourceError, SourceFolder, SourceItem
from pipeline.source import codepages, embedded
from pipeline.source.namemap import NameMap, parse_name_map
from pipeline.source.roles import PR_LTID, ROOT_NID, FolderFacts, folder_tree
from pipeline.source.values import (
    attachment_record,
    decode_value,
    python_codepage,
    recipient_record,
    strip_subject_prefix_marker,
)

_ROLE_PROPS = frozenset({
    mapi.PR_IPM_APPOINTMENT_ENTRYID, mapi.PR_IPM_CONTACT_ENTRYID, mapi.PR_IPM_JOURNAL_ENTRYID,
    mapi.PR_IPM_NOTE_ENTRYID, mapi.PR_IPM_TASK_ENTRYID, mapi.PR_REM_ONLINE_ENTRYID,
    mapi.PR_IPM_DRAFTS_ENTRYID, mapi.PR_ADDITIONAL_REN_ENTRYIDS, mapi.PR_ADDITIONAL_REN_ENTRYIDS_EX,
    mapi.PR_FREEBUSY_ENTRYIDS,
})
#: Attachment properties whose value is the content itself: read on demand, never up front.
_LAZY_ATTACHMENT_PROPS = frozenset({mapi.PR_ATTACH_DATA_BIN})
#: What the address book reads of an item (parties()): sender, represented party, class, code pages.
_PARTY_PROPS = frozenset({
    mapi.PR_MESSAGE_CLASS, mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID,
    mapi.PR_SENDER_NAME, mapi.PR_SENDER_ADDRTYPE, mapi.PR_SENDER_EMAIL_ADDRESS, mapi.PR_SENDER_SMTP_ADDRESS,
    mapi.PR_SENT_REPRESENTING_NAME, mapi.PR_SENT_REPRESENTING_ADDRTYPE, mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
    mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
})
#: Upper bound of the embedded-message depth we follow (Outlook itself stops far below this).
MAX_EMBED_DEPTH = 32


class SourceOpenError(Exception):
    """The file cannot be read as an OST/PST at all: one line naming the file, exit code 2.

    `detail` keeps libpff's own error chain (for the log file only, never the console)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: Path
    kind: str  # 'ost' or 'pst', from the header, whatever the file name says
    format: str  # 'ansi', 'unicode', 'unicode-4k'
    version: int  # wVer
    encryption: str  # 'none', 'permute', 'cyclic'
    codepage: str  # Python codec for 8-bit strings
    size: int
    orphan_items: int
    #: How the store's code page was chosen (ANSI stores): 'override', 'dominant' (most items name it),
    #: or 'default' (no item names one: cp1252 guessed); Unicode stores: 'unicode'.
    codepage_source: str = "unicode"


_ENCRYPTIONS = {0: "none", 1: "permute", 2: "cyclic"}
T = TypeVar("T")


def read_header(path: Path) -> tuple[str, str, int, int, int]:
    """Check the file header before libpff sees it: (kind, format, version, crypt method, declared EOF)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(0x210)
    except OSError as exc:
        raise SourceOpenError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(head) == 0:
        raise SourceOpenError(f"{path}: empty file, not an OST/PST")
    if len(head) < 0x200 or head[:4] != b"!BDN":
        raise SourceOpenError(f"{path}: not an OST/PST file (no '!BDN' signature)")
    client = head[8:10]
    kinds = {b"SM": "pst", b"SO": "ost", b"AB": "pab"}
    if client not in kinds or kinds[client] == "pab":
        raise SourceOpenError(f"{path}: unsupported client magic {client!r} (not an OST/PST)")
    if _header_crc(head[8:8 + 471]) != struct.unpack_from("<I", head, 4)[0]:
        raise SourceOpenError(f"{path}: the file header is damaged (header checksum mismatch)")
    (version,) = struct.unpack_from("<H", head, 10)
    if version in (14, 15):
        fmt, crypt, eof = "ansi", head[0x1CD], struct.unpack_from("<I", head, 0xA8 + 4)[0]
    elif version >= 23:
        fmt = "unicode-4k" if version >= 36 else "unicode"
        crypt, eof = head[0x201], struct.unpack_from("<Q", head, 0xB4 + 4)[0]
    else:
        raise SourceOpenError(f"{path}: unsupported format version {version}")
    if fmt != "ansi" and _header_crc(head[8:8 + 516]) != struct.unpack_from("<I", head, 0x20C)[0]:
        raise SourceOpenError(f"{path}: the file header is damaged (header checksum mismatch)")
    if crypt not in _ENCRYPTIONS:
        raise SourceOpenError(f"{path}: unsupported encryption method {crypt:#04x}")
    return kinds[client], fmt, version, crypt, eof


def _header_crc(data: bytes) -> int:
    """[MS-PST] 5.3 CRC: CRC-32 without the initial and final inversion."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


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
    return {entry.entry_type: decode_value(entry.value_type, entry.data, codepage)
            for record_set in record_sets for entry in record_set.entries}


class PffSource:
    """An open OST/PST: folder tree with roles up front (small), items streamed on demand."""

    def __init__(self, path: str | Path, recover: bool = False, codepage: int | None = None) -> None:
        self.path = Path(path)
        self._override = codepages.ansi_codepage(codepage)  # the admin's --codepage beats what items say
        kind, fmt, version, crypt, eof = read_header(self.path)
        size = self.path.stat().st_size
        if eof and size < eof:
            raise SourceOpenError(f"{self.path}: truncated: {size} bytes of the {eof} its header declares")
        self._file = pypff.file()
        try:
            self._file.open(str(self.path))
        except Exception as exc:  # noqa: BLE001 - libpff raises OSError, ValueError, MemoryError...
            chain = _one_line(exc, limit=None)
            raise SourceOpenError(f"{self.path}: {libpff_reason(chain)}", detail=chain) from None
        try:
            codepage = python_codepage(None, (self._file.ascii_codepage or b"cp1252").decode())
        except Exception:
            codepage = "cp1252"
        try:
            orphans = self._file.number_of_orphan_items
        except Exception:  # noqa: BLE001 - the recovery scan is optional
            orphans = 0
        self.info = SourceInfo(self.path, kind, fmt, version, _ENCRYPTIONS[crypt], codepage, size, orphans)
        if fmt == "ansi":
            store_cp, how = codepages.store_codepage(self._override, sampled_codepages(self._file))
            self.info = dataclasses.replace(self.info, codepage=codepages.codec(store_cp) or "cp1252",
                                            codepage_source=how)
        self.recover = recover
        self.errors: list[SourceError] = []
        self._names = self._load_name_map()
        self._folders: list[SourceFolder] = []
        self._handles: dict[int, Any] = {}
        try:
            self._load_tree()
        except BaseException:
            self.close()
            raise

    # -- life cycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._handles.clear()
        try:
            self._file.close()
        except Exception:  # noqa: BLE001 - closing a damaged file must not raise
            pass

    def __enter__(self) -> PffSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- folders ----------------------------------------------------------------------------------
    def _load_name_map(self) -> NameMap:
        try:
            item = self._file.name_to_id_map
            if item is None:
                return NameMap()
            streams = {}
            for record_set in item.record_sets:
                for entry in record_set.entries:
                    if entry.entry_type in (2, 3, 4):
                        streams[entry.entry_type] = entry.data or b""
            return parse_name_map(streams)
        except Exception as exc:  # noqa: BLE001 - damage here is reported, never fatal
            self.errors.append(SourceError((), 0x61, "namemap", _one_line(exc)))
            return NameMap()

    def _load_tree(self) -> None:
        try:
            store = self._file.message_store
            store_props = _props(store.record_sets, self.info.codepage) if store is not None else {}
        except Exception as exc:  # noqa: BLE001 - damage here is reported, never fatal
            self.errors.append(SourceError((), 0x21, "store", _one_line(exc)))
            store_props = {}
        try:
            root = self._file.root_folder
            if root is None:
                raise OSError("no root folder")
        except Exception as exc:  # noqa: BLE001 - a damaged root raises OSError or MemoryError in pypff
            raise SourceOpenError(f"{self.path}: the root folder cannot be read (the folder tree is damaged)",
                                  detail=_one_line(exc, limit=None)) from None
        facts: dict[int, FolderFacts] = {}
        raw: dict[int, tuple[str, str, int, int | None, int]] = {}
        stack: list[tuple[Any, int | None, tuple[str, ...]]] = [(root, None, ())]
        while stack:
            folder, parent, chain = stack.pop()
            nid = folder.identifier
            try:
                props = _props(folder.record_sets, self.info.codepage)
            except Exception as exc:  # noqa: BLE001 - one unreadable folder is reported, the walk goes on
                self.errors.append(SourceError(chain, nid, "folder", _one_line(exc)))
                props = {}
            name = props.get(mapi.PR_DISPLAY_NAME) or ("" if nid == ROOT_NID else f"(folder {nid})")
            container_class = props.get(mapi.PR_CONTAINER_CLASS) or ""
            folder_type = props.get(mapi.PR_FOLDER_TYPE)
            try:
                count = folder.number_of_sub_messages
            except Exception:  # noqa: BLE001
                count = 0  # items() and summaries() report the unreadable contents table
            self._handles[nid] = folder
            ltid = props.get(PR_LTID)
            facts[nid] = FolderFacts(nid, parent, container_class, folder_type,
                                     {k: v for k, v in props.items() if k in _ROLE_PROPS},
                                     ltid.to_bytes(8, "little", signed=True)[2:] if isinstance(ltid, int) else None)
            try:
                children = [folder.get_sub_folder(i) for i in range(folder.number_of_sub_folders)]
            except Exception as exc:  # noqa: BLE001 - libpff raises OSError or MemoryError
                self.errors.append(SourceError((*chain, name), nid, "folder",
                                               f"subfolders unreadable: {_one_line(exc)}"))
                children = []
            raw[nid] = (name, container_class, count, parent, len(children))
            here = (*chain, name) if nid != ROOT_NID else ()
            for child in reversed(children):
                stack.append((child, nid, here))
        self._folders, self.role_evidence = folder_tree(raw, store_props, facts)

    def folders(self) -> list[SourceFolder]:
        """Every folder, parents before children, system and search folders included."""
        return list(self._folders)

    # -- items ------------------------------------------------------------------------------------
    def _walk(self, folder: SourceFolder, read: Callable[[Any], T], start: int = 0,
              stop: int | None = None) -> Iterator[T | SourceError]:
        """read(message) for each message of the folder (or of the index range [start, stop)); what libpff
        cannot read becomes a SourceError."""
        handle = self._handles.get(folder.node_id)
        if handle is None:
            return
        try:
            count = handle.number_of_sub_messages
        except Exception as exc:  # noqa: BLE001 - reported as the folder's error
            if start == 0:
                yield SourceError(folder.path, folder.node_id, "folder", _one_line(exc))
            return
        for index in range(start, count if stop is None else min(stop, count)):
            node_id = None
            try:
                message = handle.get_sub_message(index)
                node_id = message.identifier
                yield read(message)
            except Exception as exc:  # noqa: BLE001 - whatever breaks on one item, the walk goes on
                yield SourceError(folder.path, node_id, "item", f"item #{index}: {_one_line(exc)}")

    def items(self, folder: SourceFolder, start: int = 0, stop: int | None = None) -> Iterator[SourceItem | SourceError]:
        """The folder's messages one at a time (optionally the index range [start, stop), so that workers can
        share a large folder); unreadable ones come out as SourceError."""
        return self._walk(folder, lambda message: self.read_message(message, folder.path), start, stop)

    def parties(self, folder: SourceFolder) -> Iterator[SourceItem | SourceError]:
        """The folder's items with only what names people (sender, represented and recipient addresses,
        contact e-mail entries, class, code pages) and no attachments: the cheap walk behind the address
        book (about twice as fast as items())."""
        return self._walk(folder, lambda message: self._parties(message, folder.path))

    def _parties(self, message: Any, folder_path: tuple[str, ...]) -> SourceItem:
        raw = [entry for record_set in message.record_sets for entry in record_set.entries
               if entry.entry_type in _PARTY_PROPS or entry.entry_type >= 0x8000]
        codepage = self.info.codepage
        if self.info.format == "ansi":
            found = {e.entry_type: decode_value(e.value_type, e.data) for e in raw
                     if e.entry_type in (mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID)}
            codepage = codepages.item_codec(found, codepage, self._override)
        props: dict[int, Any] = {}
        named: dict[tuple[str, int | str], Any] = {}
        for entry in raw:
            if entry.entry_type >= 0x8000:
                key = self._names.resolve(entry.entry_type)
                if key is not None and key[0] == mapi.PSETID_ADDRESS:
                    named[key] = decode_value(entry.value_type, entry.data, codepage)
                continue
            props[entry.entry_type] = decode_value(entry.value_type, entry.data, codepage)
        return SourceItem(message.identifier, folder_path, props.get(mapi.PR_MESSAGE_CLASS) or "IPM.Note", props,
                          named, self._recipients(message, codepage), [])

    def summaries(self, folder: SourceFolder) -> Iterator[tuple[int, str, int] | SourceError]:
        """(node id, message class, size) per item: the cheap walk behind `inspect`."""
        return self._walk(folder, self._summary)

    def _summary(self, message: Any) -> tuple[int, str, int]:
        message_class, size = "IPM.Note", 0
        for record_set in message.record_sets:
            for entry in record_set.entries:
                if entry.entry_type == mapi.PR_MESSAGE_CLASS:
                    message_class = decode_value(entry.value_type, entry.data, self.info.codepage) or message_class
                elif entry.entry_type == mapi.PR_MESSAGE_SIZE:
                    size = decode_value(entry.value_type, entry.data) or 0
        return message.identifier, message_class, size

    def recovered(self) -> Iterator[SourceItem | SourceError]:
        """Orphan items libpff recovers from the file's free space (offered by --recover)."""
        path = ("Recovered items",)
        for index in range(self.info.orphan_items):
            node_id = None
            try:
                item = self._file.get_orphan_item(index)
                node_id = item.identifier
                if not isinstance(item, pypff.message):
                    continue
                source = self.read_message(item, path)
                source.recovered = True
                yield source
            except Exception as exc:  # noqa: BLE001 - whatever breaks on one item, the walk goes on
                yield SourceError(path, node_id, "recovered", _one_line(exc))

    def read_message(self, message: Any, folder_path: tuple[str, ...], depth: int = 0) -> SourceItem:
        codepage = self.info.codepage
        props, named = self._item_props(message.record_sets, codepage)
        cpid = props.get(mapi.PR_MESSAGE_CODEPAGE) or props.get(mapi.PR_INTERNET_CPID)
        if self.info.format == "ansi":
            own = codepages.item_codec(props, codepage, self._override)
            if own != codepage:
                codepage = own
                props, named = self._item_props(message.record_sets, codepage)
        subject = props.get(mapi.PR_SUBJECT)
        if isinstance(subject, str):
            props[mapi.PR_SUBJECT] = strip_subject_prefix_marker(subject)
        message_class = props.get(mapi.PR_MESSAGE_CLASS) or "IPM.Note"
        return SourceItem(
            node_id=message.identifier,
            folder_path=folder_path,
            message_class=message_class,
            properties=props,
            named=named,
            recipients=self._recipients(message, codepage),
            attachments=self._attachments(message, folder_path, codepage, depth),
            codepage=cpid if isinstance(cpid, int) else None,
        )

    def _item_props(self, record_sets: Any, codepage: str) -> tuple[dict[int, Any], dict]:
        props: dict[int, Any] = {}
        named: dict[tuple[str, int | str], Any] = {}
        for record_set in record_sets:
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

    def _attachments(self, message: Any, folder_path: tuple[str, ...], codepage: str,
                     depth: int) -> list[Attachment]:
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
                        if entry.entry_type in _LAZY_ATTACHMENT_PROPS:
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
                    message = embedded.open_embedded(handle)
                    result = self.read_message(message, folder_path, depth + 1)
                except (OSError, embedded.EmbeddedMessageError, ValueError):
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
                found = {entry.entry_type: decode_value(entry.value_type, entry.data)
                         for record_set in folder.get_sub_message(index).record_sets for entry in record_set.entries
                         if entry.entry_type in (mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID)}
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
            raise ValueError(f"damaged attachment: with the item's other attachments, {size:,} bytes are more than "
                             "the whole file holds")
        handle.seek_offset(0)
        return handle.read_buffer(size)
    return read


def _one_line(exc: BaseException, limit: int | None = 300) -> str:
    """The exception's text on one line, cut at a word boundary when longer than limit."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if limit is not None and len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return text
