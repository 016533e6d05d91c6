"""Lists, tables and properties ([MS-PST] 2.3): heap-on-node, BTH, property and table contexts.

Values come out raw, as (property type, bytes or None), in the shape libpff hands them to the pff reader,
so that both readers decode with the same functions (pipeline/source/values.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Container, Iterator
from functools import lru_cache

from pipeline.source.native.ndb import NdbError

_HN_SIG = 0xEC
_BTH_TYPE = 0xB5
_PC_SIG = 0xBC
_TC_SIG = 0x7C
_PC_RECORD = struct.Struct("<HHI")
_TC_COLUMN = struct.Struct("<IHBB")
_U32 = struct.Struct("<I")
#: Types whose value sits in the PC record itself, and the number of bytes libpff hands out for them.
_PC_INLINE = {0x0002: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x000B: 1}
#: Types stored in the row of a table (the cell width says how many bytes).
_TC_INLINE = frozenset({0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x000A, 0x000B, 0x0014, 0x0040})

#: Resolves a subnode id (an HNID whose type bits are set) to that subnode's whole data stream.
SubnodeReader = Callable[[int], bytes]
RawValue = tuple[int, bytes | None]


class Heap:
    """A heap-on-node over the node's data blocks; items are addressed by HID."""

    __slots__ = ("_blocks", "_maps", "_mask", "_shift", "_sizes", "client_sig", "root")

    def __init__(self, blocks: list[bytes], index_bits: int) -> None:
        if not blocks or len(blocks[0]) < 12:
            raise NdbError("heap-on-node: no data")
        first = blocks[0]
        if first[2] != _HN_SIG:
            raise NdbError("heap-on-node: bad signature")
        self._blocks = blocks
        self._sizes = [len(b) for b in blocks]
        self._shift = 5 + index_bits
        self._mask = (1 << index_bits) - 1
        self._maps: dict[int, tuple[int, ...]] = {}
        self.client_sig = first[3]
        self.root = struct.unpack_from("<I", first, 4)[0]

    def loaded_map(self, index: int) -> tuple[int, ...]:
        """The allocation offsets of block `index` (HID index i spans offsets[i - 1]:offsets[i]) once an item
        of that block has been read, else ()."""
        return self._maps.get(index, ())

    def _map(self, index: int) -> tuple[int, ...]:
        offsets = self._maps.get(index)
        if offsets is None:
            block = self._blocks[index]
            (ib,) = struct.unpack_from("<H", block, 0)
            if ib + 4 > len(block):
                raise NdbError("heap-on-node: page map outside its block")
            (count,) = struct.unpack_from("<H", block, ib)
            if ib + 4 + 2 * (count + 1) > len(block):
                raise NdbError("heap-on-node: page map runs past its block")
            offsets = self._maps[index] = struct.unpack_from(f"<{count + 1}H", block, ib + 4)
        return offsets

    def item(self, hid: int) -> bytes:
        block_index = hid >> self._shift
        offsets = self._maps.get(block_index)
        if offsets is None:
            if hid & 0x1F or block_index >= len(self._blocks):
                raise NdbError(f"heap-on-node: {hid:#x} is not a HID of this heap")
            offsets = self._map(block_index)
        index = (hid >> 5) & self._mask
        if not 0 < index < len(offsets) or hid & 0x1F:
            raise NdbError(f"heap-on-node: HID {hid:#x} names a missing item")
        start, end = offsets[index - 1], offsets[index]
        if start > end or end > self._sizes[block_index]:
            raise NdbError(f"heap-on-node: HID {hid:#x} runs past its block")
        return self._blocks[block_index][start:end]


def bth_leaves(heap: Heap, header_hid: int) -> tuple[int, int, list[bytes]]:
    """(key size, data size, leaf heap items) of a BTH, in key order; every leaf holds whole records."""
    header = heap.item(header_hid)
    if len(header) < 8 or header[0] != _BTH_TYPE:
        raise NdbError("BTH: bad header")
    key_size, data_size, levels, root = header[1], header[2], header[3], struct.unpack_from("<I", header, 4)[0]
    if key_size not in (2, 4, 8) or data_size == 0 or levels > 8:
        raise NdbError("BTH: bad header")
    out: list[bytes] = []
    if root:
        _bth_walk(heap, root, levels, key_size, data_size, out, set())
    return key_size, data_size, out


def _bth_walk(
    heap: Heap, hid: int, level: int, key_size: int, data_size: int, out: list[bytes], seen: set[int]
) -> None:
    if hid in seen:  # read again, an index listing one leaf thousands of times would multiply it
        raise NdbError(f"BTH: heap item {hid:#x} listed more than once")
    seen.add(hid)
    data = heap.item(hid)
    size = key_size + (4 if level else data_size)
    if len(data) % size:
        raise NdbError("BTH: records do not fill their heap item")
    if not level:
        out.append(data)
        return
    for off in range(key_size, len(data), size):
        (child,) = struct.unpack_from("<I", data, off)
        _bth_walk(heap, child, level - 1, key_size, data_size, out, seen)


def bth_records(heap: Heap, header_hid: int) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(key size, data size, [(key, data)]) of a BTH, in key order."""
    key_size, data_size, leaves = bth_leaves(heap, header_hid)
    kfmt = {2: "<H", 4: "<I", 8: "<Q"}[key_size]
    size = key_size + data_size
    out = [
        (struct.unpack_from(kfmt, leaf, off)[0], leaf[off + key_size : off + size])
        for leaf in leaves
        for off in range(0, len(leaf), size)
    ]
    return key_size, data_size, out


def _hnid_value(heap: Heap, hnid: int, subnode: SubnodeReader) -> bytes | None:
    if hnid == 0:
        return None
    if hnid & 0x1F:
        return subnode(hnid)
    return heap.item(hnid)


def property_context(
    blocks: list[bytes],
    index_bits: int,
    subnode: SubnodeReader,
    deferred: dict[int, tuple[int, int]] | None = None,
    wanted: Container[int] | None = None,
) -> dict[int, RawValue]:
    """Every property of a PC: prop id -> (type, raw value bytes or None).

    With `deferred`, the values kept in subnodes of the properties already in it (by prop id) are not
    read: their entry becomes (type, subnode id) for the caller to read when asked. With `wanted`, only
    the properties it holds are read (the others, and their subnodes, are not even looked at).
    """
    heap = Heap(blocks, index_bits)
    if heap.client_sig != _PC_SIG:
        raise NdbError("property context: bad client signature")
    key_size, data_size, leaves = bth_leaves(heap, heap.root)
    if key_size != 2 or data_size != 6:
        raise NdbError("property context: bad BTH shape")
    props: dict[int, RawValue] = {}
    item = heap.item
    # Each value is its own heap item or subnode: values adding up to more bytes than the heap holds, or a
    # subnode named twice, mean records that share one value (thousands of copies of one big item).
    budget = sum(len(b) for b in blocks)
    taken = 0
    subnodes: set[int] = set()
    # The items of the heap's first block are cut here without a call to Heap.item (which stays the path of
    # any other HID, and of its errors): most values of a message are there (a sixth of the PC's time).
    first, offsets = blocks[0], heap.loaded_map(0)
    count, size, limit = len(offsets), len(first), 1 << (5 + index_bits)
    for leaf in leaves:
        for pid, ptype, slot in _PC_RECORD.iter_unpack(leaf):
            if wanted is not None and pid not in wanted:
                continue
            width = _PC_INLINE.get(ptype)
            if width is not None:
                props[pid] = (ptype, slot.to_bytes(4, "little")[:width])
            elif slot == 0:
                props[pid] = (ptype, None)
            elif not slot & 0x1F:
                index = slot >> 5
                if slot < limit and 0 < index < count and offsets[index - 1] <= offsets[index] <= size:
                    value = first[offsets[index - 1] : offsets[index]]
                else:
                    value = item(slot)
                taken += len(value)
                if taken > budget:
                    raise NdbError("property context: its values hold more bytes than its heap")
                props[pid] = (ptype, value)
            elif slot in subnodes:
                raise NdbError(f"property context: subnode {slot:#x} named by more than one property")
            else:
                subnodes.add(slot)
                if deferred is not None and pid in deferred:
                    deferred[pid] = (ptype, slot)
                else:
                    props[pid] = (ptype, subnode(slot))
    if deferred is not None:
        for pid in [p for p, (_t, nid) in deferred.items() if nid == 0]:
            del deferred[pid]
    return props


@lru_cache(maxsize=256)
def _layout(
    descriptors: bytes, row_size: int, ceb: int
) -> tuple[tuple[tuple[int, int, int, int, int], ...], tuple[tuple[int, int, int, int, int, int, bool], ...]]:
    """A table's columns (prop id, type, offset, width, cell-existence bit) from its TCOLDESCs, and per column
    what Table.row() needs: (prop id, type, start, end, its cell-existence byte and bit mask, held in the row
    itself). Kept by descriptors: the tables of one kind (every message's recipient table) share one layout,
    worked out once (it was a third of Table's time)."""
    columns, cells = [], []
    for tag, ib, cb, bit in _TC_COLUMN.iter_unpack(descriptors):
        if ib + cb > row_size:
            raise NdbError("table context: a column lies outside the row")
        pid, ptype = tag >> 16, tag & 0xFFFF
        columns.append((pid, ptype, ib, cb, bit))
        cells.append((pid, ptype, ib, ib + cb, ceb + (bit >> 3), 0x80 >> (bit & 7), ptype in _TC_INLINE))
    return tuple(columns), tuple(cells)


class Table:
    """A table context: column descriptions and rows (in row-matrix order), cells resolved on demand."""

    __slots__ = ("_heap", "_subnode", "columns", "row_ids", "_rows", "_ceb", "_cells")

    def __init__(
        self,
        blocks: list[bytes],
        index_bits: int,
        subnode: SubnodeReader,
        subnode_blocks: Callable[[int], list[bytes]],
        ansi: bool,
    ) -> None:
        heap = self._heap = Heap(blocks, index_bits)
        self._subnode = subnode
        if heap.client_sig != _TC_SIG:
            raise NdbError("table context: bad client signature")
        info = heap.item(heap.root)
        if len(info) < 22 or info[0] != _TC_SIG:
            raise NdbError("table context: bad TCINFO")
        count = info[1]
        _ib4, _ib2, _ib1, row_size, row_index_hid, rows_hnid = struct.unpack_from("<4HII", info, 2)
        if len(info) < 22 + 8 * count:
            raise NdbError("table context: column descriptions run past TCINFO")
        #: (prop id, type, offset in the row, width, cell-existence bit)
        self.columns, self._cells = _layout(info[22 : 22 + 8 * count], row_size, _ib1)
        self._ceb = _ib1
        _k, _d, index = bth_records(heap, row_index_hid) if row_index_hid else (4, 4, [])
        fmt = "<H" if ansi else "<I"
        # Rows in row-id order (the row index's own order), as libpff lists them.
        by_row = [(struct.unpack_from(fmt, v)[0], key) for key, v in index]
        if rows_hnid == 0:
            matrix: list[bytes] = []
        elif rows_hnid & 0x1F:
            matrix = subnode_blocks(rows_hnid)
        else:
            matrix = [heap.item(rows_hnid)]
        per_block = len(matrix[0]) // row_size if matrix and row_size else 0
        if by_row and per_block == 0:
            raise NdbError("table context: row index entries but no row matrix")
        if len({row_index for row_index, _ in by_row}) != len(by_row):
            raise NdbError("table context: a row of the row matrix is listed more than once")
        self.row_ids: list[int] = []
        self._rows: list[bytes] = []
        for row_index, row_id in by_row:
            block, slot = divmod(row_index, per_block)
            if block >= len(matrix) or (slot + 1) * row_size > len(matrix[block]):
                raise NdbError(f"table context: row {row_index} is missing from the row matrix")
            self.row_ids.append(row_id)
            self._rows.append(matrix[block][slot * row_size : (slot + 1) * row_size])

    def __len__(self) -> int:
        return len(self._rows)

    def row(
        self, index: int, wanted: Container[int] | None = None, seen: set[int] | None = None
    ) -> dict[int, RawValue]:
        """Every column of one row (or those `wanted` holds), as libpff reads it (cells marked absent hold
        no value). With `seen`, the heap items and subnodes its cells name are added to it, and one already
        there is damage (cells of many rows sharing one big value)."""
        data = self._rows[index]
        size = len(data)
        heap, subnode = self._heap, self._subnode
        out: dict[int, RawValue] = {}
        for pid, ptype, start, end, ceb_byte, ceb_mask, inline in self._cells:
            if wanted is not None and pid not in wanted:
                continue
            if inline:
                out[pid] = (ptype, data[start:end])
            elif ceb_byte >= size or not data[ceb_byte] & ceb_mask:
                out[pid] = (ptype, None)
            else:
                (hnid,) = _U32.unpack_from(data, start)
                if seen is not None and hnid:
                    if hnid in seen:
                        raise NdbError(f"table context: heap item or subnode {hnid:#x} named by two cells")
                    seen.add(hnid)
                out[pid] = (ptype, _hnid_value(heap, hnid, subnode))
        return out

    def rows(self, wanted: Container[int] | None = None) -> Iterator[dict[int, RawValue]]:
        seen: set[int] = set()
        for index in range(len(self._rows)):
            yield self.row(index, wanted, seen)
