"""Issue 24, the reading side: message ids, change numbers, the replica map and one identity across caches.

On the real OST (../shared/samples/SampleOstFile.ost) the values the readers give are judged against pffexport's
dump of every item (`pffexport -d`: ItemValues.txt, the raw bytes of each property), and against what the
issue measured: 92 items, 22 of them in an OST-local replica (Sync Issues, Sent, Deleted, Inbox), 5
PR_SEARCH_KEYs found in two folders. The pure functions are judged with hand-made values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import mapi
from pipeline.source import open_source
from pipeline.source.cache_identity import (
    PR_MID,
    PR_OST_CHANGE_NUMBER,
    PR_SOURCE_KEY,
    CacheKeys,
    ReplicaMap,
    cache_identity,
    cache_keys,
    identities,
    make_id,
    newness,
    source_key,
    split_id,
)
from pipeline.source.fake import FakeSource, message

SERVER_GUID = uuid.UUID("7a2da66a-3a1b-44c5-9d53-431fbea29402")  # the GUID of the sample's server folders' change keys


# -- pure functions, hand-made values --------------------------------------------------------------------------
def test_message_id_splits_as_ms_oxcdata_lays_it_out() -> None:
    # bytes on disk: 01 00 | 00 00 19 82 1a 8a -> REPLID 1 (little-endian), GLOBCNT 0x000019821a8a (big-endian)
    value = int.from_bytes(bytes.fromhex("0100000019821a8a"), "little", signed=True)
    assert split_id(value) == (1, 0x000019821A8A)
    assert make_id(1, 0x000019821A8A) == value
    assert split_id(make_id(0xFFFF, 0xFFFFFFFFFFFF)) == (0xFFFF, 0xFFFFFFFFFFFF)
    guid = bytes(range(16))
    assert source_key(guid, 0x0102030405) == guid + bytes.fromhex("000102030405")
    assert len(source_key(guid, 1)) == 22


def _item(subject: str, props: dict[int, object] | None = None):  # noqa: ANN202
    item = message(subject)
    item.properties.update(props or {})
    return item


def test_source_key_derived_through_each_files_own_replica_id() -> None:
    """One server item, replica GUID G: REPLID 1 in one cache, REPLID 5 in another: one identity."""
    guid = uuid.uuid4().bytes_le
    a = _item("x", {PR_MID: make_id(1, 77), PR_OST_CHANGE_NUMBER: 10})
    b = _item("x", {PR_MID: make_id(5, 77), PR_OST_CHANGE_NUMBER: 12})
    ka, kb = cache_keys(a, ReplicaMap({1: guid})), cache_keys(b, ReplicaMap({5: guid, 1: uuid.uuid4().bytes_le}))
    assert ka.source_key == kb.source_key == guid + (77).to_bytes(6, "big")
    assert cache_identity(a, ka, "") == cache_identity(b, kb, "")
    # without the map there is nothing to derive from: the content identity stands in
    kc = cache_keys(a, ReplicaMap())
    assert kc.source_key is None and cache_identity(a, kc, "c").kind == "content"


def test_pr_source_key_wins_and_matches_a_derived_one() -> None:
    guid = uuid.uuid4().bytes_le
    exported = _item("x", {PR_SOURCE_KEY: guid + (9).to_bytes(6, "big")})  # a PST exported from Exchange
    cached = _item("x", {PR_MID: make_id(1, 9), PR_OST_CHANGE_NUMBER: 3})
    ke, kc = cache_keys(exported, ReplicaMap()), cache_keys(cached, ReplicaMap({1: guid}))
    assert ke.source_key_origin == "property" and kc.source_key_origin == "derived"
    assert cache_identity(exported, ke, "") == cache_identity(cached, kc, "")


def test_local_never_synchronized_item_gets_a_content_identity() -> None:
    local = _item("draft", {PR_MID: make_id(2, 5)})
    keys = cache_keys(local, ReplicaMap({1: b"s" * 16, 2: b"l" * 16}))
    assert keys.local and not keys.synchronized
    assert cache_identity(local, keys, "c").kind == "content"


def test_genuine_copies_stay_apart_and_meet_their_copies_in_another_file() -> None:
    same = b"\x11" * 16
    one = _item("copy", {mapi.PR_SEARCH_KEY: same})
    two = _item("copy", {mapi.PR_SEARCH_KEY: same})  # the same content twice in one file
    first = [found.identity for found in identities([one, two], ReplicaMap())]
    again = [found.identity for found in identities([two, one], ReplicaMap())]
    assert first[0] != first[1] and first == again
    other = _item("other", {mapi.PR_SEARCH_KEY: same})  # same search key, other content: not merged
    assert identities([other], ReplicaMap())[0].identity != first[0]


def _keys(change: int | None, modified: datetime | None) -> CacheKeys:
    return CacheKeys(None, None, None, change, None, "", None, None, None, modified)


def test_newest_state_is_the_higher_change_number_then_the_later_modification() -> None:
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    assert newness(_keys(5, early)) > newness(_keys(4, late))
    assert newness(_keys(5, late)) > newness(_keys(5, early))
    assert newness(_keys(1, None)) > newness(_keys(None, late))  # a synchronized copy beats an archived one
    assert newness(_keys(None, late)) > newness(_keys(None, early)) > newness(_keys(None, None))
    copies = [_keys(3, late), _keys(7, early), _keys(7, late), _keys(None, late)]
    assert max(copies, key=newness) is copies[2]


def test_fake_source_hands_out_its_replica_map() -> None:
    with FakeSource({"Inbox": []}, replicas={1: b"g" * 16}) as source:
        assert source.replica_map().guids == {1: b"g" * 16}
    assert FakeSource({"Inbox": []}).replica_map().where == "none"


# -- the real OST ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_ost(samples: Path) -> Path:
    return samples / "SampleOstFile.ost"


def _read(path: Path, reader: str) -> tuple[ReplicaMap, list[tuple[str, dict[int, object]]]]:
    with open_source(path, reader=reader) as source:
        items = [
            (folder.path_str, item.properties)
            for folder in source.folders()
            for item in source.items(folder)
            if not hasattr(item, "reason")
        ]
        return source.replica_map(), items


@pytest.mark.parametrize("reader", ["native", "libpff"])
def test_sample_ost_replica_map_and_local_items(sample_ost: Path, reader: str) -> None:
    replicas, items = _read(sample_ost, reader)
    assert replicas.where == "node 0x801"
    # REPLID 1 is the GUID the server's folders carry in their PR_CHANGE_KEY (pffexport shows it for the Inbox below)
    assert replicas.guid(1) == SERVER_GUID.bytes_le and set(replicas.guids) == {0, 1, 2}
    assert len(items) == 92
    local = Counter(path for path, props in items if split_id(props[PR_MID])[0] != 1)  # type: ignore[arg-type]
    assert local == {"Sync Issues": 9, "Deleted Items": 8, "Sent Items": 4, "Inbox": 1}
    assert all(PR_MID in props for _, props in items)
    assert not any(PR_SOURCE_KEY in props for _, props in items)  # an OST carries no PR_SOURCE_KEY


def test_sample_ost_search_keys_are_not_unique_but_identities_are(sample_ost: Path) -> None:
    with open_source(sample_ost, reader="native") as source:
        replicas = source.replica_map()
        walked = [item for folder in source.folders() for item in source.items(folder) if not hasattr(item, "reason")]
    by_search = Counter(item.properties[mapi.PR_SEARCH_KEY] for item in walked)
    shared = {key for key, count in by_search.items() if count > 1}
    assert len(shared) == 5 and all(by_search[key] == 2 for key in shared)
    folders = {
        key: sorted(item.folder_path[-1] for item in walked if item.properties[mapi.PR_SEARCH_KEY] == key)
        for key in shared
    }
    assert all(len(set(names)) == 2 for names in folders.values())  # each pair sits in two folders
    found = identities(walked, replicas)
    assert len({one.identity for one in found}) == 92  # every item its own identity
    kinds = Counter(one.identity.kind for one in found)
    # synchronized items (REPLID 1, or a local id that carries 0x6743): source keys; the 15 others: content
    assert kinds == {"source-key": 77, "content": 15}
    assert all(len(bytes.fromhex(one.identity.value)) == 22 for one in found if one.identity.kind == "source-key")
    assert len({one.content for one in found}) == 92  # the content keys keep the 5 pairs apart as well


_ENTRY = re.compile(
    r"Entry type:\s+0x0000([0-9a-f]{4})\s*\nValue type:\s+0x([0-9a-f]{8})\s*\nValue:\s*\n((?:0x[0-9a-f]{8}: .*\n)+)"
)


def _pffexport_values(path: Path, tmp: Path) -> Counter[tuple[str, int | None, int | None, str]]:
    """(folder, message id, 0x6743, search key hex) of every message pffexport dumps (-d: ItemValues.txt)."""
    subprocess.run(
        ["pffexport", "-q", "-d", "-t", str(tmp / "out"), str(path)], check=True, capture_output=True, timeout=300
    )
    found: Counter[tuple[str, int | None, int | None, str]] = Counter()
    root = tmp / "out.export" / "Root - Mailbox" / "IPM_SUBTREE"
    for values in root.rglob("ItemValues.txt"):
        if values.parent == root or not re.match(
            r"^(Message|Meeting|Appointment|Report|Task|Contact|Note)\d+$", values.parent.name
        ):
            continue
        props: dict[int, bytes] = {}
        for tag, _vtype, dump in _ENTRY.findall(values.read_text(errors="replace")):
            props.setdefault(
                int(tag, 16),
                bytes.fromhex("".join(line.split(":", 1)[1][:49].replace(" ", "") for line in dump.splitlines())),
            )
        if 0x67F4 not in props:
            continue  # a set of values that is not a message's own (attachments keep theirs elsewhere)
        folder = str(values.parent.parent.relative_to(root))
        mid = int.from_bytes(props[0x67F4], "little", signed=True)
        change = int.from_bytes(props[0x6743], "little", signed=True) if 0x6743 in props else None
        found[(folder, mid, change, props.get(0x300B, b"").hex())] += 1
    return found


@pytest.mark.skipif(shutil.which("pffexport") is None, reason="pffexport (pff-tools) is not installed")
def test_sample_ost_values_equal_pffexports(sample_ost: Path, tmp_path: Path) -> None:
    oracle = _pffexport_values(sample_ost, tmp_path)
    _, items = _read(sample_ost, "native")
    ours = Counter(
        (path, props.get(PR_MID), props.get(PR_OST_CHANGE_NUMBER), (props.get(mapi.PR_SEARCH_KEY) or b"").hex())
        for path, props in items
    )  # type: ignore[union-attr]
    assert sum(oracle.values()) == 92
    assert ours == oracle
    assert sum(count for (_, _, change, _), count in oracle.items() if change is None) == 15
    inbox = (tmp_path / "out.export" / "Root - Mailbox" / "IPM_SUBTREE" / "Inbox" / "ItemValues.txt").read_text()
    change_key = next(
        bytes.fromhex("".join(line.split(":", 1)[1][:49].replace(" ", "") for line in dump.splitlines()))
        for tag, _t, dump in _ENTRY.findall(inbox)
        if tag == "65e2"
    )
    assert change_key[:16] == SERVER_GUID.bytes_le  # the Inbox folder's PR_CHANGE_KEY: the server replica's GUID


def test_a_damaged_or_foreign_replica_node_is_an_empty_map_saying_why() -> None:
    from pipeline.source.native.replicas import replica_map

    assert replica_map(None, 5).where == "none"
    assert replica_map([b"\x00" * 64], 5).where.startswith("unreadable: node 0x801")  # no heap signature
    # a well-formed heap of another kind (a property context's client signature 0xBC)
    heap = bytearray(64)
    heap[0:12] = bytes([0x0C, 0x00, 0xEC, 0xBC]) + (0x20).to_bytes(4, "little") + bytes(4)
    heap[12:16] = (0).to_bytes(2, "little") + (0).to_bytes(2, "little")
    found = replica_map([bytes(heap)], 5)
    assert found.guids == {} and "client signature 0xbc" in found.where
