"""Bounded memory in the native reader (issue 28): inflate bombs, data trees that list a block many times,
declared totals the file cannot hold, LTP structures that name one value many times.

Oracles: blocks and heaps crafted here byte by byte from [MS-PST] (not by the writer the reader is tested
against), Python's zlib, tracemalloc's count of what the reader allocated, and for the hostile fixture file
the fixture manifest (which items are hostile, the sha256 of every intact attachment).
"""

from __future__ import annotations

import hashlib
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

import fixtures
from pipeline.model import SourceError
from pipeline.source.native import DamagedBlock, NativeSource, NdbError
from pipeline.source.native.ltp import Heap, bth_records, property_context
from pipeline.source.native.ndb import UNICODE, UNICODE_4K, DamagedTree, NodeDatabase, inflate

MIB = 1 << 20


def peak_allocated(action: Callable[[], object]) -> int:
    """Bytes at the peak of Python allocations while `action` runs (what it raises is swallowed)."""
    tracemalloc.start()
    try:
        action()
    except Exception:  # noqa: BLE001 - the refusal is checked by the caller; here only memory counts
        pass
    finally:
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# -- inflation --------------------------------------------------------------------------------------------
def test_a_block_inflates_to_exactly_its_declared_size():
    payload = bytes(range(256)) * 200
    assert inflate(zlib.compress(payload), len(payload), 0x10, 0x200) == payload


def test_a_bomb_is_refused_after_its_declared_size_without_inflating_the_rest():
    bomb = zlib.compress(bytes(63 * MIB), 9)
    assert len(bomb) < 65536
    with pytest.raises(DamagedBlock, match=r"inflates past the 65512 bytes it declares \(block 0x10 at 0x200\)"):
        inflate(bomb, 65512, 0x10, 0x200)
    started = time.perf_counter()
    assert peak_allocated(lambda: inflate(bomb, 65512, 0x10, 0x200)) < 1 * MIB
    assert time.perf_counter() - started < 1.0, "the 63 MiB behind the bomb are never inflated"


@pytest.mark.parametrize(
    ("stream", "declared", "words"),
    [
        (zlib.compress(b"x" * 100), 200, "inflates to 100 bytes, not the 200"),
        (zlib.compress(b"x" * 5000)[:-6], 5000, "cut short"),
        (b"\x00not zlib at all", 10, "cannot inflate"),
    ],
)
def test_a_stream_that_holds_less_or_is_broken_is_refused(stream: bytes, declared: int, words: str):
    with pytest.raises(DamagedBlock, match=words):
        inflate(stream, declared, 1, 2)


# -- data trees -------------------------------------------------------------------------------------------
class CraftedBlocks(NodeDatabase):
    """A node database over blocks given as bytes (bid -> payload), for tree() and subnodes(): the block
    B-tree and the file are this dict; `size` is the file's length; every block read is counted."""

    def __init__(self, blocks: dict[int, bytes], size: int = 64 * MIB, geometry=UNICODE_4K) -> None:  # noqa: ANN001
        self._payloads = blocks
        self._trees = {}
        self.size = size
        self.geometry = geometry
        self.reads: list[int] = []

    def block(self, bid: int) -> bytes:
        if bid & ~1 not in self._payloads:
            raise NdbError(f"block {bid:#x} is not in the block B-tree")
        self.reads.append(bid)
        return self._payloads[bid & ~1]

    def declared(self, bid: int) -> tuple[int, int]:
        if bid & ~1 not in self._payloads:
            raise NdbError(f"block {bid:#x} is not in the block B-tree")
        return len(self._payloads[bid & ~1]), len(self._payloads[bid & ~1])


def xblock(ids: list[int], total: int, level: int = 1) -> bytes:
    """[MS-PST] 2.2.2.8.3.2.1: btype 0x01, cLevel, cEnt, lcbTotal, then the 8-byte BIDs."""
    return struct.pack("<BBHI", 1, level, len(ids), total) + b"".join(struct.pack("<Q", i) for i in ids)


LEAVES = {0x10: b"a" * 1000, 0x14: b"b" * 2000, 0x18: b"c" * 500}


def test_an_honest_xblock_and_xxblock_give_their_leaves_in_order():
    db = CraftedBlocks(
        {
            **LEAVES,
            0x22: xblock([0x10, 0x14], 3000),
            0x26: xblock([0x18], 500),
            0x2A: xblock([0x22, 0x26], 3500, level=2),
        }
    )
    assert db.data_blocks(0x22) == [LEAVES[0x10], LEAVES[0x14]]
    assert db.stream(0x2A) == LEAVES[0x10] + LEAVES[0x14] + LEAVES[0x18]
    assert db.stream_size(0x2A) == 3500 and db.stream_size(0x10) == 1000 and db.stream_size(0) == 0


@pytest.mark.parametrize(
    ("blocks", "top", "words"),
    [
        ({0x10: b"a" * 4000, 0x22: xblock([0x10] * 8188, 8188 * 4000)}, 0x22, "lists a block more than once"),
        (
            {**LEAVES, 0x22: xblock([0x10, 0x14], 3000), 0x2A: xblock([0x22] * 8188, 8188 * 3000, level=2)},
            0x2A,
            "lists an XBLOCK more than once",
        ),
        (
            {
                **LEAVES,
                0x22: xblock([0x10, 0x14], 3000),
                0x26: xblock([0x14, 0x18], 2500),
                0x2A: xblock([0x22, 0x26], 5500, level=2),
            },
            0x2A,
            "lists a block more than once",
        ),
        ({**LEAVES, 0x22: xblock([0x10, 0x14], 4000)}, 0x22, "its blocks hold 3,000 bytes, it declares 4,000"),
        ({**LEAVES, 0x22: xblock([0x10, 0x14], 1500)}, 0x22, "its blocks hold 3,000 bytes, it declares 1,500"),
        (
            {**LEAVES, 0x22: xblock([0x10, 0x26], 3000), 0x26: xblock([0x18], 500)},
            0x22,
            "an XBLOCK where a data block belongs",
        ),
        ({**LEAVES, 0x22: xblock([0x10], 1000, level=2)}, 0x2A, "not in the block B-tree"),
        (
            {
                **LEAVES,
                0x22: xblock([0x10], 1000),
                0x26: xblock([0x22], 1000, level=2),
                0x2A: xblock([0x26], 1000, level=2),
            },
            0x2A,
            "not an XBLOCK of the level its XXBLOCK needs",
        ),
        ({**LEAVES, 0x22: xblock([], 0)}, 0x22, "lists no block"),
        ({**LEAVES, 0x22: xblock([0x10, 0x14], 3000)[:12]}, 0x22, "more than it has room for"),
    ],
)
def test_a_data_tree_that_cannot_be_true_is_refused_before_a_leaf_is_read(
    blocks: dict[int, bytes], top: int, words: str
):
    db = CraftedBlocks(blocks)
    with pytest.raises(NdbError, match=words):
        db.data_blocks(top)
    assert all(bid & 2 for bid in db.reads), f"a leaf was read: {db.reads}"
    with pytest.raises(NdbError, match=words):
        db.stream_size(top)


def test_more_leaves_than_the_file_has_room_for_is_damage():
    leaves = {0x10 + 4 * i: b"z" * 64 for i in range(20)}
    tree = {**leaves, 0x102: xblock(sorted(leaves), 20 * 64)}
    assert len(CraftedBlocks(tree, size=20 * 512).data_blocks(0x102)) == 20
    with pytest.raises(DamagedTree, match="more blocks than a file of 9,728 bytes can hold"):
        CraftedBlocks(tree, size=19 * 512).data_blocks(0x102)
    zero_sized = {0x10 + 4 * i: b"" for i in range(20)}  # no bytes to add up: only the count stops them
    tree = {**zero_sized, 0x102: xblock(sorted(zero_sized), 0)}
    with pytest.raises(DamagedTree, match="more blocks than a file of 1,279 bytes can hold"):
        CraftedBlocks(tree, size=20 * 64 - 1, geometry=UNICODE).data_blocks(0x102)


def test_a_stream_larger_than_the_whole_file_is_refused_before_its_leaves_are_listed():
    leaves = {0x10 + 4 * i: b"z" * 1000 for i in range(20)}
    tree = {**leaves, 0x102: xblock(sorted(leaves), 20 * 1000)}
    assert CraftedBlocks(tree, size=20 * 1000, geometry=UNICODE).stream_size(0x102) == 20 * 1000
    db = CraftedBlocks(tree, size=20 * 1000 - 1)
    with pytest.raises(DamagedTree, match="declares 20,000 bytes, more than the whole file \\(19,999 bytes\\)"):
        db.stream_size(0x102)
    assert db.reads == [0x102], "only the XBLOCK itself is read"
    db = CraftedBlocks({**LEAVES, 0x22: xblock([0x10, 0x14], 0xFFFF0000)}, size=16 * MIB)
    with pytest.raises(DamagedTree, match="declares 4,294,901,760 bytes, more than the whole file"):
        db.data_blocks(0x22)


def test_the_damaged_tree_error_carries_its_block_and_reason():
    db = CraftedBlocks({0x10: b"a", 0x22: xblock([0x10, 0x10], 2)})
    with pytest.raises(DamagedTree) as caught:
        db.stream(0x22)
    assert caught.value.bid == 0x22 and "more than once" in caught.value.reason


def test_a_subnode_tree_that_lists_a_block_twice_is_refused():
    sl = struct.pack("<BBHI", 2, 0, 1, 0) + struct.pack("<QQQ", 0x1F, 0x10, 0)
    si_twice = struct.pack("<BBHI", 2, 1, 2, 0) + struct.pack("<QQ", 0x1F, 0x32) * 2
    si_once = struct.pack("<BBHI", 2, 1, 1, 0) + struct.pack("<QQ", 0x1F, 0x32)
    db = CraftedBlocks({0x32: sl, 0x36: si_twice, 0x3A: si_once})
    assert db.subnodes(0x3A) == {0x1F: (0x10, 0)}
    with pytest.raises(NdbError, match="listed more than once"):
        db.subnodes(0x36)


# -- LTP: heaps whose records share one value ------------------------------------------------------------
def heap(items: list[bytes], client_sig: int, root: int) -> bytes:
    """[MS-PST] 2.3.1: a one-block heap-on-node (HNHDR, the items, HNPAGEMAP); item i has HID i << 5."""
    body = b"".join(items)
    ib_map = 12 + len(body) + (len(body) & 1)
    offsets = [12]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    head = struct.pack("<HBBII", ib_map, 0xEC, client_sig, root, 0)
    page_map = struct.pack("<HH", len(items), 0) + b"".join(struct.pack("<H", o) for o in offsets)
    return head + body + b"\0" * (ib_map - 12 - len(body)) + page_map


def bth(key_size: int, data_size: int, levels: int, root: int) -> bytes:
    return struct.pack("<BBBBI", 0xB5, key_size, data_size, levels, root)


def test_a_bth_index_that_lists_one_leaf_many_times_is_refused():
    leaf = struct.pack("<HI", 0x0037, 7)
    honest = heap([bth(2, 4, 1, 2 << 5), struct.pack("<HI", 0x0037, 3 << 5), leaf], 0xB5, 1 << 5)
    assert bth_records(Heap([honest], 11), 1 << 5)[2] == [(0x0037, struct.pack("<I", 7))]
    looping = heap([bth(2, 4, 1, 2 << 5), struct.pack("<HI", 0x0037, 3 << 5) * 5000, leaf], 0xB5, 1 << 5)
    with pytest.raises(NdbError, match="listed more than once"):
        bth_records(Heap([looping], 11), 1 << 5)


def test_a_property_context_whose_records_share_one_value_is_refused():
    big = b"v" * 30000
    records = [struct.pack("<HHI", 0x1000 + i, 0x0102, 3 << 5) for i in range(2)]  # PT_BINARY, same HID
    shared = heap([bth(2, 6, 0, 2 << 5), b"".join(records), big], 0xBC, 1 << 5)
    with pytest.raises(NdbError, match="more bytes than its heap"):
        property_context([shared], 11, lambda nid: b"")
    honest = heap(
        [bth(2, 6, 0, 2 << 5), records[0] + struct.pack("<HHI", 0x1001, 0x0102, 4 << 5), big, big], 0xBC, 1 << 5
    )
    assert property_context([honest], 11, lambda nid: b"") == {0x1000: (0x0102, big), 0x1001: (0x0102, big)}


def test_a_property_context_that_names_one_subnode_twice_is_refused():
    records = [struct.pack("<HHI", 0x1000 + i, 0x0102, 0x3F) for i in range(2)]  # subnode 0x3F, twice
    reads: list[int] = []
    pc = heap([bth(2, 6, 0, 2 << 5), b"".join(records)], 0xBC, 1 << 5)
    with pytest.raises(NdbError, match="subnode 0x3f named by more than one property"):
        property_context([pc], 11, lambda nid: reads.append(nid) or b"x" * 1000)
    assert reads == [0x3F], "the subnode is read once, not once per record"


# -- the hostile fixture file, through NativeSource -----------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, fixtures.Manifest]:
    path = tmp_path_factory.mktemp("hostile") / "hostile.ost"
    return path, fixtures.build_hostile(path, bombs=6, clean=6)


def test_every_hostile_item_fails_alone_and_every_other_reads_intact(hostile: tuple[Path, fixtures.Manifest]):
    path, manifest = hostile
    expected_hostile = set(fixtures.hostile_subjects(manifest))
    assert len(expected_hostile) == 6 + 6
    digests = {(i.subject, a.name): a.sha256 for i in manifest.items for a in i.attachments}
    refused: dict[str, str] = {}
    intact: set[str] = set()

    def walk() -> None:
        with NativeSource(path) as source:
            assert source.errors == []
            for folder in source.folders():
                for entry in source.items(folder):
                    assert not isinstance(entry, SourceError), entry  # the damage is in attachments
                    try:
                        for attachment in entry.attachments:
                            data = attachment.read()
                            if entry.subject not in expected_hostile:
                                sha = digests[(entry.subject, attachment.filename)]
                                assert hashlib.sha256(data).hexdigest() == sha
                    except NdbError as exc:
                        refused[entry.subject] = str(exc)
                    else:
                        intact.add(entry.subject)

    peak = peak_allocated(walk)
    assert set(refused) == expected_hostile
    assert intact == {i.subject for i in manifest.items} - expected_hostile
    assert all(reason.startswith("damaged") for reason in refused.values()), refused
    assert "lists a block more than once" in refused["xblock repeats one block 200 times"]
    assert "add up to more than the whole file" in refused["attachments share one data tree"]
    assert peak < 16 * MIB, f"the walk allocated {peak / MIB:.0f} MiB at its peak"


def test_the_libpff_reader_refuses_attachments_past_what_the_file_holds(hostile: tuple[Path, fixtures.Manifest]):
    from pipeline.source.pff import PffSource

    path, manifest = hostile
    with PffSource(path) as source:
        [inbox] = [f for f in source.folders() if f.path == ("Inbox",)]
        # Only that item: libpff takes seconds over the XBLOCK items (their own refusals are the native reader's).
        at = [i.subject for i in manifest.items if i.folder.endswith("/Inbox")].index("attachments share one data tree")
        [item] = list(source.items(inbox, at, at + 1))
        assert item.subject == "attachments share one data tree"
        read, refused = 0, []
        for attachment in item.attachments:
            try:
                read += len(attachment.read())
            except ValueError as exc:
                refused.append(str(exc))
    assert 0 < read <= manifest.size and len(refused) == len(item.attachments) - 4, (read, refused)
    assert all(r.startswith("damaged attachment") for r in refused)


def table(row_index: list[tuple[int, int]], cells: list[int], items: list[bytes]) -> bytes:
    """[MS-PST] 2.3.4: a one-block table context: TCINFO with two columns (the row id, 4 bytes at 0; a
    PT_BINARY HNID, 4 bytes at 4; the cell-existence byte at 8: rows of 9 bytes), its row index (a BTH of
    row id -> row number), its row matrix (one heap item, a row per HNID in `cells`) and `items` (HIDs 5...)."""
    columns = struct.pack("<IHBB", 0x67F20003, 0, 4, 0) + struct.pack("<IHBB", 0x10000102, 4, 4, 1)
    tcinfo = struct.pack("<BB4HIII", 0x7C, 2, 8, 8, 8, 9, 2 << 5, 4 << 5, 0) + columns
    index = b"".join(struct.pack("<II", row_id, number) for row_id, number in row_index)
    matrix = b"".join(struct.pack("<IIB", 0x100 + i, hnid, 0xC0) for i, hnid in enumerate(cells))
    return heap([tcinfo, bth(4, 4, 0, 3 << 5), index, matrix, *items], 0x7C, 1 << 5)


def read_table(block: bytes) -> list[dict]:
    from pipeline.source.native.ltp import Table

    return list(Table([block], 11, lambda nid: b"", lambda nid: [], ansi=False).rows())


def test_a_table_whose_row_index_lists_one_row_twice_is_refused():
    honest = table([(0x100, 0), (0x101, 1)], [5 << 5, 6 << 5], [b"x" * 100, b"y" * 100])
    assert [row[0x1000] for row in read_table(honest)] == [(0x0102, b"x" * 100), (0x0102, b"y" * 100)]
    twice = table([(0x100, 0), (0x101, 0)], [5 << 5, 6 << 5], [b"x" * 100, b"y" * 100])
    with pytest.raises(NdbError, match="a row of the row matrix is listed more than once"):
        read_table(twice)


def test_a_table_whose_cells_share_one_value_is_refused():
    shared = table([(0x100, 0), (0x101, 1)], [5 << 5, 5 << 5], [b"x" * 30000])
    with pytest.raises(NdbError, match="heap item or subnode 0xa0 named by two cells"):
        read_table(shared)
