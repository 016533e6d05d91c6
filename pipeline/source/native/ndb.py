"""Node database ([MS-PST] 2.2): header, NBT and BBT, blocks checked by CRC, signature and back pointer.

The file is memory-mapped; both B-trees are loaded once into plain dicts of tuples. Every block read is
checked before its bytes are used: a mismatch raises DamagedBlock naming the block, never returns bytes.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pipeline.source.native.index import BlockIndex, NodeIndex

#: [MS-PST] 5.1 mpbbCrypt, first third: the byte substitution NDB_CRYPT_PERMUTE encodes with.
_PERMUTE_ENCODE = bytes((
    65, 54, 19, 98, 168, 33, 110, 187, 244, 22, 204, 4, 127, 100, 232, 93,
    30, 242, 203, 42, 116, 197, 94, 53, 210, 149, 71, 158, 150, 45, 154, 136,
    76, 125, 132, 63, 219, 172, 49, 182, 72, 95, 246, 196, 216, 57, 139, 231,
    35, 59, 56, 142, 200, 193, 223, 37, 177, 32, 165, 70, 96, 78, 156, 251,
    170, 211, 86, 81, 69, 124, 85, 0, 7, 201, 43, 157, 133, 155, 9, 160,
    143, 173, 179, 15, 99, 171, 137, 75, 215, 167, 21, 90, 113, 102, 66, 191,
    38, 74, 107, 152, 250, 234, 119, 83, 178, 112, 5, 44, 253, 89, 58, 134,
    126, 206, 6, 235, 130, 120, 87, 199, 141, 67, 175, 180, 28, 212, 91, 205,
    226, 233, 39, 79, 195, 8, 114, 128, 207, 176, 239, 245, 40, 109, 190, 48,
    77, 52, 146, 213, 14, 60, 34, 50, 229, 228, 249, 159, 194, 209, 10, 129,
    18, 225, 238, 145, 131, 118, 227, 151, 230, 97, 138, 23, 121, 164, 183, 220,
    144, 122, 92, 140, 2, 166, 202, 105, 222, 80, 26, 17, 147, 185, 82, 135,
    88, 252, 237, 29, 55, 73, 27, 106, 224, 41, 51, 153, 189, 108, 217, 148,
    243, 64, 84, 111, 240, 198, 115, 184, 214, 62, 101, 24, 68, 31, 221, 103,
    16, 241, 12, 25, 236, 174, 3, 161, 20, 123, 169, 11, 255, 248, 163, 192,
    162, 1, 247, 46, 188, 36, 104, 117, 13, 254, 186, 47, 181, 208, 218, 61,
))  # fmt: skip
_PERMUTE_DECODE = bytes(_PERMUTE_ENCODE.index(i) for i in range(256))

CRYPT_NONE, CRYPT_PERMUTE, CRYPT_CYCLIC = 0, 1, 2
PTYPE_BBT, PTYPE_NBT = 0x80, 0x81
_BTYPE_XBLOCK, _BTYPE_SLBLOCK = 0x01, 0x02
#: Bytes read through the map after which its pages are given back, so RSS does not grow with the file.
_RELEASE_EVERY = 64 << 20
#: What one small read through the map leaves mapped (the page, its neighbours and readahead): measured
#: about 256 KiB on this project's Linux machines. Counted so, the 2.2 GB bulk OST opens with a peak RSS of
#: 60 MB instead of 142 MB, and a walk of its 20,000 items peaks at 62 MB instead of 203 MB.
_FAULT_AROUND = 256 << 10
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
#: Checked data trees kept (by XBLOCK id), so that an attachment's size and then its bytes check it once.
_TREES_KEPT = 256
#: Deeper B-trees than this are damage, not data (Outlook's are 2-4 levels deep).
_MAX_LEVELS = 16


class NdbError(ValueError):
    """The node database is inconsistent where this item needs it (missing node or block, bad layout)."""


class DamagedBlock(NdbError):
    """A block or page failed its CRC, signature or back-pointer check: its bytes are not used."""


class UnsupportedFile(NdbError):
    """A valid file this reader does not handle (e.g. cyclic encryption); libpff may."""


class DamagedTree(NdbError):
    """A data tree (XBLOCK/XXBLOCK) whose shape cannot be true: a block listed twice, more blocks than the
    file has room for, a declared total its blocks do not add up to. Refused before its data is read."""

    def __init__(self, bid: int, reason: str) -> None:
        self.bid, self.reason = bid, reason
        super().__init__(f"damaged data tree {bid:#x}: {reason}")


@dataclass(frozen=True, slots=True)
class DataTree:
    """A checked data tree: its leaf block ids in order and the bytes they hold."""

    bid: int
    leaves: tuple[int, ...]
    size: int


class Allowance:
    """The bytes one item may still read: no more than the whole file, however its nodes, subnodes and
    attachments share data trees (a thousand attachments, or properties, naming one big stream would read
    it a thousand times). Charged with a data tree's declared size before any of its blocks is read."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.left = self.limit = limit

    def take(self, size: int, bid: int) -> None:
        if size > self.left:
            raise DamagedTree(bid, f"the item's data trees add up to more than the whole file ({self.limit:,} bytes)")
        self.left -= size


def inflate(raw: bytes, size: int, bid: int, ib: int) -> bytes:
    """A compressed block's payload, inflated to the `size` bytes its trailer declares and never further:
    a stream that holds more (a "bomb": a few KiB that inflate to megabytes), less, or is cut short is
    refused as DamagedBlock after at most size + 1 bytes of output."""
    where = f"(block {bid:#x} at {ib:#x})"
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, size)
        if not inflater.eof and inflater.decompress(inflater.unconsumed_tail, 1):
            raise DamagedBlock(f"damaged block, inflates past the {size} bytes it declares {where}")
    except zlib.error:
        raise DamagedBlock(f"damaged block, cannot inflate {where}") from None
    if not inflater.eof:
        raise DamagedBlock(f"damaged block, cannot inflate: its stream is cut short {where}")
    if len(out) != size:
        raise DamagedBlock(f"damaged block, inflates to {len(out)} bytes, not the {size} it declares {where}")
    return out


def _once(bid: int, ids: tuple[int, ...], what: str) -> None:
    if len(set(i & ~1 for i in ids)) != len(ids):
        raise DamagedTree(bid, f"lists an {what} more than once")


def weak_crc32(data: bytes | memoryview) -> int:
    """[MS-PST] 5.3: the reflected CRC-32 register started at 0 and never inverted (zlib's, undone)."""
    return ~zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


def compute_sig(ib: int, bid: int) -> int:
    """[MS-PST] 5.5 ComputeSig."""
    value = (ib ^ bid) & 0xFFFFFFFF
    return ((value >> 16) ^ value) & 0xFFFF


@dataclass(frozen=True, slots=True)
class Geometry:
    """Sizes of one file variant: 512-byte pages (ANSI or Unicode) or 4 KiB pages (Outlook 2013+ OST)."""

    ansi: bool
    four_k: bool
    page_size: int
    page_trailer: int
    entries_area: int
    block_align: int
    block_trailer: int
    id_size: int
    hid_index_bits: int

    @property
    def page_data(self) -> int:
        return self.page_size - self.page_trailer


ANSI = Geometry(True, False, 512, 12, 496, 64, 12, 4, 11)
UNICODE = Geometry(False, False, 512, 16, 488, 64, 16, 8, 11)
UNICODE_4K = Geometry(False, True, 4096, 24, 4056, 512, 24, 8, 14)


#: Block trailers: (cb, wSig, CRC, BID) in Unicode files, then the inflated size in 4 KiB-page ones;
#: (cb, wSig, BID, CRC) in ANSI files.
_UNICODE_TRAILER = struct.Struct("<HHIQ")
_4K_TRAILER = struct.Struct("<HHIQ2xH")
_ANSI_TRAILER = struct.Struct("<HHII")


class NodeDatabase:
    """The open file: header fields, the NBT (nid -> Node) and the BBT (bid -> (ib, cb)), and block access."""

    def __init__(self, path: Path, version: int, crypt: int) -> None:
        self.path = path
        self.geometry = ANSI if version in (14, 15) else (UNICODE_4K if version >= 36 else UNICODE)
        if crypt not in (CRYPT_NONE, CRYPT_PERMUTE):
            raise UnsupportedFile("cyclic encryption is not read natively")
        self.crypt = crypt
        self._fh = path.open("rb")
        try:
            self.data = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            self._fh.close()
            raise
        self.size = len(self.data)
        g = self.geometry
        self._four_k, self._ansi = g.four_k, g.ansi
        self._trailer = (_ANSI_TRAILER if g.ansi else _4K_TRAILER if g.four_k else _UNICODE_TRAILER).unpack_from
        self._trailer_size, self._trailer_pad = g.block_trailer, g.block_trailer + g.block_align - 1
        self._align_mask = -g.block_align
        self._mapped = 0  # bytes read through the map since its pages were last given back
        self._trees: dict[int, DataTree] = {}
        #: Pages of the B-trees that failed their checks (their entries are left out), as (tree, ib, reason).
        self.bad_pages: list[tuple[str, int, str]] = []
        nbt_ref, bbt_ref = self._roots()
        self.blocks = BlockIndex()
        self.nodes = NodeIndex()
        self._load_tree(bbt_ref, PTYPE_BBT, self._bbt_leaf)
        self._load_tree(nbt_ref, PTYPE_NBT, self._nbt_leaf)
        self.blocks.seal()
        self.nodes.seal()
        #: The BBT's columns, for block() to search without a call per lookup.
        self._block_keys, (self._block_ibs, self._block_cbs) = self.blocks.keys, self.blocks.columns
        self._release()

    def close(self) -> None:
        try:
            self.data.close()
        except BufferError:  # a memoryview still points into the map; the OS unmaps at exit
            pass
        self._fh.close()

    def _release(self) -> None:
        """Give the map's resident pages back (they stay in the OS page cache): the process's RSS stays flat
        however big the file. Without madvise (Windows) the OS trims a mapped view's working set itself."""
        self._mapped = 0
        if _MADV_DONTNEED is not None:
            try:
                self.data.madvise(_MADV_DONTNEED)
            except (OSError, ValueError):
                pass

    # -- header and B-trees -------------------------------------------------------------------------
    def _roots(self) -> tuple[tuple[int, int], tuple[int, int]]:
        h = self.data
        if self.geometry.ansi:
            crc = struct.unpack_from("<I", h, 4)[0]
            if crc != weak_crc32(h[8 : 8 + 471]):
                raise DamagedBlock("damaged header, CRC mismatch")
            nbt_bid, nbt_ib, bbt_bid, bbt_ib = struct.unpack_from("<IIII", h, 184)
        else:
            crc, crc_full = struct.unpack_from("<I", h, 4)[0], struct.unpack_from("<I", h, 524)[0]
            if crc != weak_crc32(h[8 : 8 + 471]) or crc_full != weak_crc32(h[8 : 8 + 516]):
                raise DamagedBlock("damaged header, CRC mismatch")
            nbt_bid, nbt_ib, bbt_bid, bbt_ib = struct.unpack_from("<QQQQ", h, 216)
        return (nbt_bid, nbt_ib), (bbt_bid, bbt_ib)

    def _page(self, ib: int, bid: int, ptype: int) -> tuple[int, int, int, int]:
        """Checks one B-tree page; returns (entry count, entry size, level, ib)."""
        g = self.geometry
        if ib < 0 or ib + g.page_size > self.size:
            raise DamagedBlock(f"page at {ib:#x} lies outside the file")
        d = self.data
        t = ib + g.page_data
        if g.ansi:
            p1, p2, sig, tbid, crc = struct.unpack_from("<BBHII", d, t)
        elif g.four_k:
            p1, p2, sig, crc, tbid = struct.unpack_from("<BBHIQ", d, t)
        else:
            p1, p2, sig, crc, tbid = struct.unpack_from("<BBHIQ", d, t)
        # A page read maps its neighbours too (_FAULT_AROUND): counted, a big file's B-tree pages are given
        # back while they load.
        self._mapped += _FAULT_AROUND
        if self._mapped > _RELEASE_EVERY:
            self._release()
        if crc != weak_crc32(d[ib:t]):
            raise DamagedBlock(f"damaged page, CRC mismatch at {ib:#x}")
        if p1 != ptype or p2 != ptype or tbid != bid or sig != compute_sig(ib, bid):
            raise DamagedBlock(f"damaged page, bad trailer at {ib:#x}")
        if g.four_k:
            count, _max, cb, level = struct.unpack_from("<HHBB", d, ib + g.entries_area)
        else:
            count, _max, cb, level = struct.unpack_from("<BBBB", d, ib + g.entries_area)
        if cb == 0 or count * cb > g.entries_area:
            raise DamagedBlock(f"damaged page, bad entry count at {ib:#x}")
        return count, cb, level, ib

    def _load_tree(self, root: tuple[int, int], ptype: int, leaf: object) -> None:
        g = self.geometry
        tree = "NBT" if ptype == PTYPE_NBT else "BBT"
        fmt = "<III" if g.ansi else "<QQQ"
        stack = [(root[0], root[1], _MAX_LEVELS)]
        while stack:
            bid, ib, budget = stack.pop()
            try:
                count, cb, level, _ = self._page(ib, bid, ptype)
            except DamagedBlock as exc:
                if (bid, ib) == root:
                    raise
                self.bad_pages.append((tree, ib, str(exc)))
                continue
            if level == 0:
                leaf(ib, count, cb)  # type: ignore[operator]
            elif budget > 0:
                children = [struct.unpack_from(fmt, self.data, ib + i * cb) for i in range(count)]
                stack.extend((cbid, cib, budget - 1) for _key, cbid, cib in reversed(children))

    def _bbt_leaf(self, ib: int, count: int, cb: int) -> None:
        rows = self._leaf_entries("<IIH" if self.geometry.ansi else "<QQH", ib, count, cb)
        self.blocks.add_rows(cast("Iterator[tuple[int, int, int]]", rows))  # three fields per the format

    def _nbt_leaf(self, ib: int, count: int, cb: int) -> None:
        rows = self._leaf_entries("<IIII" if self.geometry.ansi else "<QQQI", ib, count, cb)
        self.nodes.add_rows(cast("Iterator[tuple[int, int, int, int]]", rows))  # four fields per the format

    def _leaf_entries(self, fields: str, ib: int, count: int, cb: int) -> Iterator[tuple[int, ...]]:
        """The leading `fields` of each of a leaf page's `count` entries of `cb` bytes."""
        pad = cb - struct.calcsize(fields)
        if pad >= 0:  # one unpack call per page, not per entry: with seal() checking in C, opening the
            # 2.2 GB bulk OST takes a quarter fewer instructions
            return struct.iter_unpack(f"{fields}{pad}x", self.data[ib : ib + count * cb])
        return (struct.unpack_from(fields, self.data, off) for off in range(ib, ib + count * cb, cb))

    # -- blocks ---------------------------------------------------------------------------------------
    def block(self, bid: int) -> bytes:
        """One block's payload, checked, inflated (4 KiB-page files) and decrypted."""
        # The BBT lookup, trailer read and ComputeSig are written inline: they were a call each per block,
        # a fifth of block()'s time under cProfile on the 3,000-item bulk OST.
        key = bid & ~1
        keys = self._block_keys
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            raise NdbError(f"block {bid:#x} is not in the block B-tree")
        ib, cb = self._block_ibs[i], self._block_cbs[i]
        t = ib + ((cb + self._trailer_pad) & self._align_mask) - self._trailer_size
        if ib < 0 or t + self._trailer_size > self.size:
            raise DamagedBlock(f"damaged block, {bid:#x} lies outside the file")
        d = self.data
        inflated = 0
        if self._four_k:
            tcb, sig, crc, tbid, inflated = self._trailer(d, t)
        elif self._ansi:
            tcb, sig, tbid, crc = self._trailer(d, t)
        else:
            tcb, sig, crc, tbid = self._trailer(d, t)
        raw = d[ib : ib + cb]
        self._mapped += cb if cb > _FAULT_AROUND else _FAULT_AROUND  # a small block maps its neighbours too
        if self._mapped > _RELEASE_EVERY:
            self._release()
        if crc != ~zlib.crc32(raw, 0xFFFFFFFF) & 0xFFFFFFFF:
            raise DamagedBlock(f"damaged block, CRC mismatch (block {bid:#x} at {ib:#x})")
        sig_value = (ib ^ tbid) & 0xFFFFFFFF  # [MS-PST] 5.5 ComputeSig, as compute_sig()
        if tcb != cb or (tbid ^ bid) & ~1 or sig != ((sig_value >> 16) ^ sig_value) & 0xFFFF:
            raise DamagedBlock(f"damaged block, bad trailer (block {bid:#x} at {ib:#x})")
        if inflated and inflated != cb:
            raw = inflate(raw, inflated, bid, ib)
        if self.crypt == CRYPT_PERMUTE and not bid & 2:
            return raw.translate(_PERMUTE_DECODE)
        return raw

    def declared(self, bid: int) -> tuple[int, int]:
        """(stored size, payload size) of one block, from the BBT (and, in 4 KiB-page files, the inflated size
        its trailer declares) without reading or checking its bytes; block() checks them when it reads it."""
        key = bid & ~1
        keys = self._block_keys
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            raise NdbError(f"block {bid:#x} is not in the block B-tree")
        ib, cb = self._block_ibs[i], self._block_cbs[i]
        if self._four_k:
            t = ib + ((cb + self._trailer_pad) & self._align_mask) - self._trailer_size
            if ib < 0 or t + self._trailer_size > self.size:
                raise DamagedBlock(f"damaged block, {bid:#x} lies outside the file")
            return cb, struct.unpack_from("<H", self.data, t + 18)[0] or cb
        return cb, cb

    def tree(self, bid: int) -> DataTree:
        """The leaves of a data tree, checked before any of them is read ([MS-PST] 2.2.2.8.3.2: XBLOCK,
        XXBLOCK): a declared total (lcbTotal) no larger than the whole file, each block listed once in the
        whole tree, no more leaves than the file has room for, and each XBLOCK's and the XXBLOCK's total
        equal to the sum of its leaves' sizes. What fails raises DamagedTree; no leaf has been read.

        No larger than the file: honest compression could in theory make a stream inflate past the file
        that holds it (4 KiB-page files), but an item bigger than its whole OST is damage in practice, and
        the rule makes a file's streams no larger than the file itself: no amplification."""
        if bid == 0:
            return DataTree(bid, (), 0)
        if not bid & 2:
            return DataTree(bid, (bid,), self.declared(bid)[1])
        found = self._trees.get(bid)
        if found is None:
            found = self._check_tree(bid)
            if len(self._trees) >= _TREES_KEPT:
                self._trees.clear()
            self._trees[bid] = found
        return found

    def _check_tree(self, bid: int) -> DataTree:
        level, ids, total = self._xblock(bid, (1, 2))
        if total > self.size:
            raise DamagedTree(bid, f"declares {total:,} bytes, more than the whole file ({self.size:,} bytes)")
        capacity = self.size // self.geometry.block_align  # blocks of the smallest size the file could hold
        if level == 2:
            _once(bid, ids, "XBLOCK")
            if len(ids) > capacity:
                raise DamagedTree(bid, f"lists {len(ids):,} XBLOCKs, more blocks than the file can hold")
        leaves: list[int] = []
        seen: set[int] = set()
        size = 0
        # Child by child (an XXBLOCK's XBLOCKs read one at a time): a tree listing too much is refused as soon
        # as it does, with no more block ids held than the file has room for.
        for child in ids if level == 2 else (bid,):
            if level == 2:
                _level, child_ids, child_total = self._xblock(child, (1,))
            else:
                child_ids, child_total = ids, total
            seen.update([leaf & ~1 for leaf in child_ids])
            leaves.extend(child_ids)
            if len(seen) != len(leaves):
                raise DamagedTree(bid, "lists a block more than once")
            if len(leaves) > capacity:
                raise DamagedTree(bid, f"lists more blocks than a file of {self.size:,} bytes can hold")
            if any(leaf & 2 for leaf in child_ids):
                raise DamagedTree(bid, "lists an XBLOCK where a data block belongs")
            declared = self.declared
            child_size = sum([declared(leaf)[1] for leaf in child_ids])
            if child_size != child_total:
                raise DamagedTree(child, f"its blocks hold {child_size:,} bytes, it declares {child_total:,}")
            size += child_size
        if size != total:
            raise DamagedTree(bid, f"its blocks hold {size:,} bytes, it declares {total:,}")
        return DataTree(bid, tuple(leaves), total)

    def _xblock(self, bid: int, levels: tuple[int, ...]) -> tuple[int, tuple[int, ...], int]:
        """(level, child block ids, declared total) of one XBLOCK or XXBLOCK, its shape checked."""
        if not bid & 2:
            raise DamagedTree(bid, "a data block where an XBLOCK belongs")
        head = self.block(bid)
        if len(head) < 8 or head[0] != _BTYPE_XBLOCK or head[1] not in levels:
            raise DamagedTree(
                bid, "not an XBLOCK" if 1 in levels and 2 in levels else "not an XBLOCK of the level its XXBLOCK needs"
            )
        level, (count, total) = head[1], struct.unpack_from("<HI", head, 2)
        if count == 0:
            raise DamagedTree(bid, "lists no block")
        try:
            ids = self._ids(head, 8, count)
        except NdbError:
            raise DamagedTree(bid, f"lists {count} blocks, more than it has room for") from None
        return level, ids, total

    def data_blocks(self, bid: int, allowance: Allowance | None = None) -> list[bytes]:
        """The blocks of a data tree in order: one data block, or the leaves of an XBLOCK/XXBLOCK (checked
        by tree() before the first is read; block() then checks each leaf's bytes and inflated size). With
        `allowance`, the tree's size is charged to it first."""
        if bid == 0:
            return []
        if not bid & 2:
            block = self.block(bid)  # at most 64 KiB: charged once read
            if allowance is not None:
                allowance.take(len(block), bid)
            return [block]
        tree = self.tree(bid)
        if allowance is not None:
            allowance.take(tree.size, bid)
        return [self.block(leaf) for leaf in tree.leaves]

    def stream(self, bid: int, allowance: Allowance | None = None) -> bytes:
        blocks = self.data_blocks(bid, allowance)
        return blocks[0] if len(blocks) == 1 else b"".join(blocks)

    def stream_size(self, bid: int) -> int:
        """Bytes in a data tree, from the BBT and the XBLOCK headers (checked by tree()) without reading its
        data blocks."""
        return self.tree(bid).size

    def _ids(self, data: bytes, offset: int, count: int) -> tuple[int, ...]:
        fmt = f"<{count}{'I' if self.geometry.ansi else 'Q'}"
        if offset + struct.calcsize(fmt) > len(data):
            raise NdbError("block id array runs past its block")
        return struct.unpack_from(fmt, data, offset)

    def subnodes(self, bid: int) -> dict[int, tuple[int, int]]:
        """A node's subnode tree (SLBLOCK, or SIBLOCK over SLBLOCKs): nid -> (bid_data, bid_sub). A block the
        tree lists twice is damage (read again, a SIBLOCK of one SLBLOCK listed 8,000 times would be read
        8,000 times)."""
        result: dict[int, tuple[int, int]] = {}
        if bid:
            self._subnodes(bid, result, 4, set())
        return result

    def _subnodes(self, bid: int, result: dict[int, tuple[int, int]], budget: int, seen: set[int]) -> None:
        if bid & ~1 in seen:
            raise NdbError(f"block {bid:#x}: a subnode block listed more than once")
        seen.add(bid & ~1)
        data = self.block(bid)
        ansi = self.geometry.ansi
        head = 4 if ansi else 8
        if len(data) < head or data[0] != _BTYPE_SLBLOCK or budget <= 0:
            raise NdbError(f"block {bid:#x}: not a subnode block")
        level, count = data[1], struct.unpack_from("<H", data, 2)[0]
        if level == 0:
            fmt, size = ("<III", 12) if ansi else ("<QQQ", 24)
            if head + count * size > len(data):
                raise NdbError(f"block {bid:#x}: subnode entries run past the block")
            for off in range(head, head + count * size, size):
                nid, bid_data, bid_sub = struct.unpack_from(fmt, data, off)
                result[nid & 0xFFFFFFFF] = (bid_data, bid_sub)
        else:
            fmt, size = ("<II", 8) if ansi else ("<QQ", 16)
            if head + count * size > len(data):
                raise NdbError(f"block {bid:#x}: subnode entries run past the block")
            for off in range(head, head + count * size, size):
                _nid, child = struct.unpack_from(fmt, data, off)
                self._subnodes(child, result, budget - 1, seen)
