"""The native reader's node access ([MS-PST] 2.4 over the NDB/LTP layers) under the shared messaging layer.

MessageStore (pipeline/source/messaging.py) does the folder walk and turns messages into SourceItems; this
module reaches the nodes: folders and messages by node id, property contexts, hierarchy, contents,
recipient and attachment tables. What cannot be read, or fails a block check, becomes a SourceError.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Container, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipeline import mapi
from pipeline.model import Attachment, NamedKey, Recipient, SourceError, SourceFolder, SourceItem
from pipeline.source import codepages
from pipeline.source.base import ItemSummary, Moment, SourceInfo, SourceOpenError
from pipeline.source.cache_identity import ReplicaMap
from pipeline.source.header import whole_file
from pipeline.source.messaging import (
    LAZY_ATTACHMENT_PROPS,
    MAX_EMBED_DEPTH,
    MOMENT_NAMES,
    MOMENT_PROPS,
    NID_MESSAGE_STORE,
    NID_NAME_TO_ID_MAP,
    PARTY_PROPS,
    MessageStore,
    Orphan,
    moment_of,
    parties_of,
)
from pipeline.source.native.ltp import RawValue, Table, property_context
from pipeline.source.native.ndb import Allowance, DamagedBlock, NdbError, NodeDatabase, UnsupportedFile
from pipeline.source.native.replicas import NID_REPLICA_MAP, replica_map
from pipeline.source.roles import ROOT_NID
from pipeline.source.values import attachment_record, decode_value, decode_values, recipient_record

NID_RECIPIENT_TABLE = 0x692
NID_ATTACHMENT_TABLE = 0x671
_NID_TYPE_HIERARCHY, _NID_TYPE_CONTENTS, _NID_TYPE_ASSOC_CONTENTS = 0x0D, 0x0E, 0x0F
_NID_TYPE_FOLDER, _NID_TYPE_MESSAGE = 0x02, 0x04
#: libpff's ANSI code page when the file names none; the pff reader ends up with the same.
_DEFAULT_CODEPAGE = "cp1252"
#: What the address book reads of a recipient (parties()): what a Recipient is made of.
_PARTY_RECIPIENT_PROPS = frozenset(
    {mapi.PR_RECIPIENT_TYPE, mapi.PR_DISPLAY_NAME, mapi.PR_EMAIL_ADDRESS, mapi.PR_ADDRTYPE, mapi.PR_SMTP_ADDRESS}
)
#: What the address book reads of a contact (parties()): its three e-mail entries (PSETID_ADDRESS LIDs).
_PARTY_LIDS = frozenset(lid for entry in mapi.CONTACT_EMAILS for lid in entry)
T = TypeVar("T")
#: What node access raises for a damaged part of the file (reported, and the walk goes on).
_DAMAGE = (NdbError, struct.error, ValueError, IndexError)


class _Node:
    """A node's data (PC or TC blocks) and its subnode tree, loaded on first use. A node and the subnodes
    reached from it (attachments, embedded messages) read no more bytes in all than the file holds: they
    share one Allowance."""

    __slots__ = ("_db", "bid_data", "bid_sub", "_subs", "allowance")

    def __init__(self, db: NodeDatabase, bid_data: int, bid_sub: int, allowance: Allowance | None = None) -> None:
        self._db = db
        self.bid_data = bid_data
        self.bid_sub = bid_sub
        self._subs: dict[int, tuple[int, int]] | None = None
        self.allowance = allowance or Allowance(db.size)

    def subnodes(self) -> dict[int, tuple[int, int]]:
        if self._subs is None:
            self._subs = self._db.subnodes(self.bid_sub)
        return self._subs

    def sub(self, nid: int) -> _Node:
        entry = self.subnodes().get(nid)
        if entry is None:
            raise NdbError(f"subnode {nid:#x} is missing")
        return _Node(self._db, *entry, self.allowance)

    def _sub_data(self, nid: int) -> int:
        entry = self.subnodes().get(nid)
        if entry is None:
            raise NdbError(f"subnode {nid:#x} is missing")
        return entry[0]

    def sub_stream(self, nid: int) -> bytes:
        return self._db.stream(self._sub_data(nid), self.allowance)

    def sub_blocks(self, nid: int) -> list[bytes]:
        return self._db.data_blocks(self._sub_data(nid), self.allowance)

    def props(
        self, deferred: dict[int, tuple[int, int]] | None = None, wanted: Container[int] | None = None
    ) -> dict[int, RawValue]:
        db = self._db
        return property_context(
            db.data_blocks(self.bid_data, self.allowance), db.geometry.hid_index_bits, self.sub_stream, deferred, wanted
        )

    def sub_size(self, nid: int) -> int:
        return self._db.stream_size(self._sub_data(nid))

    def table(self) -> Table:
        db = self._db
        return Table(
            db.data_blocks(self.bid_data, self.allowance),
            db.geometry.hid_index_bits,
            self.sub_stream,
            self.sub_blocks,
            db.geometry.ansi,
        )


def read_replica_map(db: NodeDatabase) -> ReplicaMap:
    """Node 0x801 of an open node database as a ReplicaMap (its damage is the map's `where`, never raised)."""
    node = db.nodes.get(NID_REPLICA_MAP)
    if node is None:
        return replica_map(None, db.geometry.hid_index_bits)
    try:
        blocks = db.data_blocks(node.bid_data, Allowance(db.size))
    except _DAMAGE as exc:
        return ReplicaMap({}, f"unreadable: node {NID_REPLICA_MAP:#x}: {_one_line(exc)}")
    return replica_map(blocks, db.geometry.hid_index_bits)


class NativeSource(MessageStore[int, _Node, dict[int, RawValue]]):
    """An open OST/PST read by this package's own NDB/LTP code (no libpff). Folders are reached by node id,
    messages as _Nodes; a message's undecoded properties are its property context's raw values."""

    damage = _DAMAGE

    def __init__(self, path: str | Path, recover: bool = False, codepage: int | None = None) -> None:
        self.path = Path(path)
        self._override = codepages.ansi_codepage(codepage)  # the admin's --codepage beats what items say
        header, size = whole_file(self.path)
        try:
            self._db = NodeDatabase(self.path, header.version, header.crypt)
        except UnsupportedFile:
            raise
        except (NdbError, OSError, ValueError, struct.error) as exc:
            raise SourceOpenError(f"{self.path}: cannot read its B-trees: {_one_line(exc)}") from None
        self.recover = recover
        self.errors: list[SourceError] = []
        for tree, ib, reason in self._db.bad_pages:
            self.errors.append(SourceError((), None, "btree", f"{tree} page at {ib:#x}: {reason}"))
        codec, how = _DEFAULT_CODEPAGE, "unicode"
        if header.format == "ansi":  # folder names and items that name no code page: the store's own (as PffSource)
            store_cp, how = codepages.store_codepage(self._override, self._sampled_codepages())
            codec = codepages.codec(store_cp) or _DEFAULT_CODEPAGE
        self._orphan_ids = self._orphan_nids()
        self.info = SourceInfo(
            self.path,
            header.kind,
            header.format,
            header.version,
            header.encryption,
            codec,
            size,
            len(self._orphan_ids),
            how,
        )
        self._names, self._names_damaged = self._load_name_map()  # damaged: why it could not be read, or ''
        self._party_ids = self._party_prop_ids()
        self._moment_ids = MOMENT_PROPS | frozenset(
            pid for pid, key in self._names.names.items() if key in MOMENT_NAMES
        )
        self._contents: dict[int, Table | Exception | None] = {}
        self._load_tree()

    def close(self) -> None:
        self._contents.clear()
        self._db.close()

    @staticmethod
    def _reason(exc: BaseException) -> str:
        return _one_line(exc)

    def _node(self, nid: int) -> _Node:
        node = self._db.nodes.get(nid)
        if node is None:
            raise NdbError(f"node {nid:#x} is not in the node B-tree")
        return _Node(self._db, node.bid_data, node.bid_sub)

    # -- the store ----------------------------------------------------------------------------------
    def _party_prop_ids(self) -> frozenset[int]:
        """The prop ids parties() reads: PARTY_PROPS and the ids the name map gives the contact e-mail
        entries. With the map unreadable every named id is read, so that an item items() refuses for its
        named properties is refused by parties() as well."""
        if self._names_damaged:
            return PARTY_PROPS | frozenset(range(0x8000, 0x10000))
        return PARTY_PROPS | frozenset(
            pid
            for pid, (guid, name) in self._names.names.items()
            if guid == mapi.PSETID_ADDRESS and name in _PARTY_LIDS
        )

    def _sampled_codepages(self) -> Iterator[int | None]:
        """The code page each message node names (PR_MESSAGE_CODEPAGE, then PR_INTERNET_CPID), in NBT order."""
        wanted = frozenset({mapi.PR_MESSAGE_CODEPAGE, mapi.PR_INTERNET_CPID})
        for node in self._db.nodes.values():
            if node.nid & 0x1F != _NID_TYPE_MESSAGE:
                continue
            try:
                raw = _Node(self._db, node.bid_data, node.bid_sub).props(wanted=wanted)
            except _DAMAGE:
                continue  # the item's own read reports it
            found = {pid: decode_value(ptype, data) for pid, (ptype, data) in raw.items()}
            yield codepages.item_codepage(found.get(mapi.PR_MESSAGE_CODEPAGE), found.get(mapi.PR_INTERNET_CPID))

    def _name_map_streams(self) -> dict[int, bytes] | None:
        if NID_NAME_TO_ID_MAP not in self._db.nodes:
            return None
        raw = self._node(NID_NAME_TO_ID_MAP).props()
        return {pid: raw[pid][1] or b"" for pid in (2, 3, 4) if pid in raw}

    def _store_props(self) -> dict[int, Any]:
        return decode_values(self._node(NID_MESSAGE_STORE).props(), self.info.codepage)

    def _orphan_nids(self) -> list[int]:
        """Message nodes whose parent folder is not in the NBT: no folder lists them."""
        nodes = self._db.nodes
        return [
            n.nid for n in nodes.values() if n.nid & 0x1F == _NID_TYPE_MESSAGE and n.parent and n.parent not in nodes
        ]

    def replica_map(self) -> ReplicaMap:
        """The store's REPLID -> REPLGUID mapping (an OST's node 0x801; empty for a PST)."""
        return read_replica_map(self._db)

    # -- folders: node access -----------------------------------------------------------------------
    def _root(self) -> int:
        if ROOT_NID not in self._db.nodes:
            raise SourceOpenError(f"{self.path}: the root folder cannot be read: node {ROOT_NID:#x} is missing")
        return ROOT_NID

    def _folder_id(self, folder: int) -> int:
        return folder

    def _folder_props(self, folder: int) -> dict[int, Any]:
        return decode_values(self._node(folder).props(), self.info.codepage)

    def _table(self, nid: int) -> Table | None:
        if nid not in self._db.nodes:
            return None
        return self._node(nid).table()

    def _subfolders(self, folder: int) -> list[int]:
        table = self._table((folder & ~0x1F) | _NID_TYPE_HIERARCHY)
        if table is None:
            return []
        for row_id in table.row_ids:
            node = self._db.nodes.get(row_id)
            if node is None or node.parent != folder:
                raise NdbError(f"subfolder {row_id:#x} is not in the node B-tree under this folder")
        return list(table.row_ids)

    def _contents_table(self, nid: int) -> Table | None:
        """The folder's contents table, read once (its failure is kept and reported by items())."""
        if nid not in self._contents:
            try:
                self._contents[nid] = self._table((nid & ~0x1F) | _NID_TYPE_CONTENTS)
            except _DAMAGE as exc:
                self._contents[nid] = exc
        found = self._contents[nid]
        if isinstance(found, Exception):
            raise found
        return found

    def _item_count(self, folder: int) -> int:
        try:
            table = self._contents_table(folder)
        except _DAMAGE:
            return 0  # items() and summaries() report the unreadable contents table
        return len(table.row_ids) if table is not None else 0

    # -- items: node access -------------------------------------------------------------------------
    def _walk(
        self, folder: SourceFolder, read: Callable[[_Node, int], T], start: int = 0, stop: int | None = None
    ) -> Iterator[T | SourceError]:
        try:
            table = self._contents_table(folder.node_id)
        except _DAMAGE as exc:
            if start == 0:
                yield SourceError(folder.path, folder.node_id, "folder", _one_line(exc))
            return
        yield from self._rows(folder, table, read, start, stop)

    def _walk_associated(self, folder: SourceFolder, read: Callable[[_Node, int], T]) -> Iterator[T | SourceError]:
        try:
            table = self._table((folder.node_id & ~0x1F) | _NID_TYPE_ASSOC_CONTENTS)
        except _DAMAGE as exc:
            yield SourceError(folder.path, folder.node_id, "associated contents", _one_line(exc))
            return
        yield from self._rows(folder, table, read)

    def _rows(
        self,
        folder: SourceFolder,
        table: Table | None,
        read: Callable[[_Node, int], T],
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[T | SourceError]:
        """read() of each message a folder's table lists, from start to stop; a row that fails is a SourceError."""
        if table is None:
            return
        ids = table.row_ids
        for index in range(start, len(ids) if stop is None else min(stop, len(ids))):
            yield self._row(folder, ids, index, read)

    def _walk_at(
        self, folder: SourceFolder, read: Callable[[_Node, int], T], indexes: Sequence[int]
    ) -> Iterator[T | SourceError]:
        try:
            table = self._contents_table(folder.node_id)
        except _DAMAGE as exc:
            yield SourceError(folder.path, folder.node_id, "folder", _one_line(exc))
            return
        ids = table.row_ids if table is not None else []
        for index in indexes:
            if 0 <= index < len(ids):
                yield self._row(folder, ids, index, read)

    def _row(
        self, folder: SourceFolder, ids: Sequence[int], index: int, read: Callable[[_Node, int], T]
    ) -> T | SourceError:
        """read() of one row of a folder's table; a row that fails is a SourceError."""
        node_id = ids[index]
        try:
            node = self._db.nodes.get(node_id)
            if node is None or node.parent != folder.node_id:
                raise NdbError(f"node {node_id:#x} is not in the node B-tree under this folder")
            return read(_Node(self._db, node.bid_data, node.bid_sub), node_id)
        except Exception as exc:  # noqa: BLE001 - whatever breaks on one item, the walk goes on
            return SourceError(folder.path, node_id, "item", f"item #{index}: {_one_line(exc)}")

    def _orphans(self) -> Iterator[Orphan]:
        """Message nodes no folder lists (their parent folder is gone from the NBT)."""
        for nid in self._orphan_ids:
            yield nid, functools.partial(self._opened, nid)

    def _opened(self, nid: int) -> tuple[_Node, int]:
        return self._node(nid), nid

    def _parties(self, node: _Node, nid: int, folder_path: tuple[str, ...]) -> SourceItem:
        """Only the message's property context (without the subnodes of unwanted values, such as bodies) and
        the columns of its recipient table a Recipient is made of are read; their values are those items()
        gives."""
        props, named, codepage, cpid = self._message_props(node.props(wanted=self._party_ids))
        return parties_of(
            nid, folder_path, props, named, self._recipients(node, codepage, _PARTY_RECIPIENT_PROPS), cpid
        )

    def _moment(self, node: _Node, nid: int) -> Moment:
        """Only the property context's values a moment is made of (no body, no subnode of other values)."""
        props, named = self._item_props(node.props(wanted=self._moment_ids), self.info.codepage)
        return moment_of(nid, props, named)

    def _summary(self, node: _Node, nid: int) -> ItemSummary:
        raw = node.props()
        message_class, size = "IPM.Note", 0
        if mapi.PR_MESSAGE_CLASS in raw:
            ptype, data = raw[mapi.PR_MESSAGE_CLASS]
            message_class = decode_value(ptype, data, self.info.codepage) or message_class
        if mapi.PR_MESSAGE_SIZE in raw:
            ptype, data = raw[mapi.PR_MESSAGE_SIZE]
            size = decode_value(ptype, data) or 0
        return ItemSummary(nid, message_class, size)

    # -- a message: node access ---------------------------------------------------------------------
    def _message_raw(self, node: _Node) -> dict[int, RawValue]:
        return node.props()

    def _item_props(self, raw: dict[int, RawValue], codepage: str) -> tuple[dict[int, Any], dict[NamedKey, Any]]:
        props: dict[int, Any] = {}
        named: dict[NamedKey, Any] = {}
        if self._names_damaged:  # decoded in order up to the first named property, which fails the item
            for prop_id, (ptype, data) in raw.items():
                value = decode_value(ptype, data, codepage)
                if prop_id >= 0x8000:
                    raise NdbError(f"named properties unresolved: name-to-id map {self._names_damaged}")
                props[prop_id] = value
            return props, named
        names = self._names.names
        for prop_id, value in decode_values(raw, codepage).items():
            key = names.get(prop_id) if prop_id >= 0x8000 else None
            if key is not None:
                named[key] = value
            else:
                props[prop_id] = value
        return props, named

    def _recipients(self, node: _Node, codepage: str, wanted: Container[int] | None = None) -> list[Recipient]:
        if NID_RECIPIENT_TABLE not in node.subnodes():
            return []
        table = node.sub(NID_RECIPIENT_TABLE).table()
        result = []
        for row in table.rows(wanted):
            result.append(recipient_record(decode_values(row, codepage)))
        return result

    def _attachments(self, node: _Node, folder_path: tuple[str, ...], codepage: str, depth: int) -> list[Attachment]:
        if NID_ATTACHMENT_TABLE not in node.subnodes():
            return []
        table = node.sub(NID_ATTACHMENT_TABLE).table()
        result = []
        for index, att_nid in enumerate(table.row_ids):
            try:
                handle = node.sub(att_nid)
                deferred = {pid: (0, 0) for pid in LAZY_ATTACHMENT_PROPS}
                raw = handle.props(deferred)
                props = decode_values(raw, codepage, LAZY_ATTACHMENT_PROPS)
                _type, size, read = self._data(handle, raw, deferred)
            except _DAMAGE as exc:
                result.append(_unreadable(index, exc))  # this attachment fails, not the item
                continue
            opener = self._embedded_opener(handle, raw, folder_path, depth)  # used for method 5 only
            result.append(attachment_record(index, props, size, read, opener))
        return result

    @staticmethod
    def _data(
        handle: _Node, raw: dict[int, RawValue], deferred: dict[int, tuple[int, int]]
    ) -> tuple[int | None, int, Callable[[], bytes]]:
        """PR_ATTACH_DATA_BIN/OBJ: (type, size, read); data kept in a subnode is read (and checked) on demand."""
        if mapi.PR_ATTACH_DATA_BIN in deferred:
            sub_type, nid = deferred[mapi.PR_ATTACH_DATA_BIN]
            return sub_type, handle.sub_size(nid), lambda: handle.sub_stream(nid)
        ptype, data = raw.get(mapi.PR_ATTACH_DATA_BIN, (None, None))
        data = data or b""
        if ptype == mapi.PT_OBJECT and len(data) >= 4:
            # An object (OLE storage, embedded message) lives in a subnode named by the value's first 4 bytes;
            # like libpff, its size and bytes are that subnode's data.
            (obj,) = struct.unpack_from("<I", data)
            return ptype, handle.sub_size(obj), lambda: handle.sub_stream(obj)
        return ptype, len(data), lambda: data

    def _embedded_opener(
        self, handle: _Node, raw: dict[int, RawValue], folder_path: tuple[str, ...], depth: int
    ) -> Callable[[], SourceItem | None]:
        ptype, data = raw.get(mapi.PR_ATTACH_DATA_BIN, (None, None))

        def open_it() -> SourceItem | None:
            if depth >= MAX_EMBED_DEPTH or ptype != mapi.PT_OBJECT or not data or len(data) < 4:
                return None
            (nid,) = struct.unpack_from("<I", data)
            return self.read_message(handle.sub(nid), nid, folder_path, depth + 1)

        return open_it


def _unreadable(index: int, error: Exception) -> Attachment:
    """An attachment whose own nodes cannot be read: listed, and reading it raises what went wrong."""

    def fail() -> bytes:
        raise error

    return Attachment(
        index=index,
        method=mapi.ATTACH_BY_VALUE,
        filename=None,
        mime_type=None,
        content_id=None,
        size=0,
        is_inline=False,
        _read=fail,
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, DamagedBlock) and not text.startswith("damaged"):
        text = f"damaged block: {text}"
    return text[:300] or type(exc).__name__
