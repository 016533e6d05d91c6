"""Compact lookups for the NBT and BBT: parallel arrays sorted by key, searched with bisect.

About 18 bytes a block and 24 a node, where dicts of tuples take ten times that, so a file with millions
of blocks is indexed in tens of megabytes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import lt


@dataclass(frozen=True, slots=True)
class Node:
    nid: int
    bid_data: int
    bid_sub: int
    parent: int


class _Sorted:
    """Keys in an array('Q') plus value columns; rows appended in any order, sorted once by seal()."""

    __slots__ = ("keys", "columns")

    def __init__(self, *codes: str) -> None:
        self.keys = array("Q")
        self.columns = tuple(array(code) for code in codes)

    def seal(self) -> None:
        keys = self.keys
        if all(map(lt, keys, keys[1:])):  # already in order (the usual case), checked in C
            return
        order = sorted(range(len(keys)), key=keys.__getitem__)  # damaged or odd trees only
        last = None
        kept = []
        for i in order:  # a key met twice keeps its first entry
            if keys[i] != last:
                kept.append(i)
                last = keys[i]
        self.keys = array("Q", (keys[i] for i in kept))
        self.columns = tuple(array(c.typecode, (c[i] for i in kept)) for c in self.columns)

    def find(self, key: int) -> int:
        keys = self.keys
        i = bisect_left(keys, key)
        return i if i < len(keys) and keys[i] == key else -1

    def __len__(self) -> int:
        return len(self.keys)


class BlockIndex(_Sorted):
    """BBT: bid (low bit cleared) -> (file offset, stored size)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("Q", "H")

    def add_rows(self, rows: Iterable[tuple[int, int, int]]) -> None:
        """Appends (bid, ib, cb) rows (bid with its low bit cleared)."""
        keys, ibs, cbs = self.keys, *self.columns
        for bid, ib, cb in rows:
            keys.append(bid & ~1)
            ibs.append(ib)
            cbs.append(cb)

    def get(self, bid: int) -> tuple[int, int] | None:
        i = self.find(bid & ~1)
        return None if i < 0 else (self.columns[0][i], self.columns[1][i])


class NodeIndex(_Sorted):
    """NBT: nid -> Node(nid, bid_data, bid_sub, parent)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("Q", "Q", "L")

    def add_rows(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Appends (nid, bid_data, bid_sub, parent) rows (nid: its low 32 bits)."""
        keys, data, sub, parents = self.keys, *self.columns
        for nid, bid_data, bid_sub, parent in rows:
            keys.append(nid & 0xFFFFFFFF)
            data.append(bid_data)
            sub.append(bid_sub)
            parents.append(parent)

    def get(self, nid: int) -> Node | None:
        i = self.find(nid)
        if i < 0:
            return None
        data, sub, parent = self.columns
        return Node(nid, data[i], sub[i], parent[i])

    def __contains__(self, nid: object) -> bool:
        return isinstance(nid, int) and self.find(nid) >= 0

    def values(self) -> Iterator[Node]:
        data, sub, parent = self.columns
        for i, nid in enumerate(self.keys):
            yield Node(nid, data[i], sub[i], parent[i])
