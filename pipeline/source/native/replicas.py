"""The OST's REPLID -> REPLGUID mapping, read from its internal node 0x801 (not in [MS-PST]; found in
../shared/samples/SampleOstFile.ost and described here from what that file holds).

The node is a heap-on-node whose client signature is 0x6C (bTypeReserved1 in [MS-PST] 2.3.1.2). Its user
root holds two HIDs: a BTH keyed by the 16-byte replica GUID whose 2-byte data is the REPLID, then an array
of GUIDs indexed by REPLID (an all-zero GUID: no replica of that id). Both are read and must agree; PSTs have no such node (an empty map).
"""

from __future__ import annotations

import struct

from pipeline.source.cache_identity import ReplicaMap
from pipeline.source.native.ltp import Heap
from pipeline.source.native.ndb import NdbError

NID_REPLICA_MAP = 0x801
CLIENT_SIG = 0x6C
_BTH_TYPE = 0xB5
_GUID = 16


def parse_replica_heap(heap: Heap) -> dict[int, bytes]:
    """REPLID -> GUID from the node's heap; NdbError when its shape is not the one described above."""
    if heap.client_sig != CLIENT_SIG:
        raise NdbError(f"replica map: client signature {heap.client_sig:#x}, not {CLIENT_SIG:#x}")
    root = heap.item(heap.root)
    if len(root) < 8:
        raise NdbError("replica map: short user root")
    bth_hid, array_hid = struct.unpack_from("<II", root, 0)
    header = heap.item(bth_hid)
    if len(header) < 8 or header[0] != _BTH_TYPE or header[1] != _GUID or header[2] != 2:
        raise NdbError("replica map: its index is not a GUID -> REPLID BTH")
    levels, top = header[3], struct.unpack_from("<I", header, 4)[0]
    pairs: dict[int, bytes] = {}
    if top:
        _walk(heap, top, levels, pairs, 0)
    array = heap.item(array_hid) if array_hid else b""
    listed = {index: array[index * _GUID : (index + 1) * _GUID] for index in range(len(array) // _GUID)}
    listed = {index: guid for index, guid in listed.items() if any(guid)}  # an unused REPLID: all zeros
    if listed and listed != pairs:
        raise NdbError("replica map: its index and its array disagree")
    return pairs


def _walk(heap: Heap, hid: int, level: int, out: dict[int, bytes], depth: int) -> None:
    if depth > 8:
        raise NdbError("replica map: index too deep")
    data = heap.item(hid)
    size = _GUID + (4 if level else 2)
    for offset in range(0, len(data) - size + 1, size):
        guid = data[offset : offset + _GUID]
        if level:
            _walk(heap, struct.unpack_from("<I", data, offset + _GUID)[0], level - 1, out, depth + 1)
        else:
            replid = struct.unpack_from("<H", data, offset + _GUID)[0]
            if replid in out and out[replid] != guid:
                raise NdbError(f"replica map: REPLID {replid} names two GUIDs")
            out[replid] = bytes(guid)


def replica_map(blocks: list[bytes] | None, index_bits: int) -> ReplicaMap:
    """The map from node 0x801's data blocks (None: the file has no such node)."""
    if blocks is None:
        return ReplicaMap({}, "none")
    try:
        return ReplicaMap(parse_replica_heap(Heap(blocks, index_bits)), f"node {NID_REPLICA_MAP:#x}")
    except (NdbError, struct.error, IndexError, ValueError) as exc:
        return ReplicaMap({}, f"unreadable: node {NID_REPLICA_MAP:#x}: {' '.join(str(exc).split())}")
