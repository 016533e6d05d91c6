"""One identity for an item across the caches of one mailbox (desktop OST, laptop OST, archive PSTs).

fingerprint.py is the identity of an item *within one file* (a content hash plus its ordinal among equals in
the folder's walk); this module says which items of *different* files are the same server item, and which
copy holds its newest state. Pure functions over SourceItems and the store's ReplicaMap; no I/O.

What the files carry ([MS-OXCDATA] 2.2.1, [MS-OXCFXICS] 2.2.1.2.5; measured on ../shared/samples):
- an OST item's message id, PidTagMid (0x67F4, PT_I8): a 2-byte replica id (REPLID) then a 6-byte global
  counter (GLOBCNT, big-endian), stored little-endian as one 64-bit number. Replica 1 is the mailbox's own
  replica on the server; other ids are replicas the OST knows by GUID (its own local one among them).
- the store's REPLID -> REPLGUID mapping (ReplicaMap; the native reader finds it in the OST's internal node
  0x801). [MS-OXCFXICS] derives a missing PidTagSourceKey as REPLGUID(replid) + GLOBCNT: 22 bytes, the same
  in every cache that synchronized the item, whatever replica id each OST gave that GUID.
- 0x6743 (PT_I8, change-number-like) on the items that went through a synchronization; PSTs exported from
  Exchange carry PR_SOURCE_KEY / PR_CHANGE_KEY / PR_PREDECESSOR_CHANGE_LIST; Outlook's PSTs PR_SEARCH_KEY,
  which is NOT unique (a sent mail and the copy it delivered to its sender share it).

The identity (CacheIdentity) is, in order of preference: PR_SOURCE_KEY where present; the source key derived
from the message id and the replica map for a replica-1 (server) item or any item whose replica GUID the
map knows and that was synchronized; otherwise (OST-local items, Outlook-made PSTs) a content identity:
fingerprint.py's content hash with PR_SEARCH_KEY, numbered among equals within the file, so genuine
copies stay apart while the same item in two files meets.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipeline import mapi
from pipeline.fingerprint import fingerprint
from pipeline.model import SourceItem

PR_MID = 0x67F4  # PidTagMid (PT_I8)
PR_OST_CHANGE_NUMBER = 0x6743  # PT_I8 on synchronized OST items (not in [MS-OXPROPS]; named for what it does)
PR_SOURCE_KEY = 0x65E0
PR_PARENT_SOURCE_KEY = 0x65E1
PR_CHANGE_KEY = 0x65E2
PR_PREDECESSOR_CHANGE_LIST = 0x65E3
PR_CHANGE_NUMBER = 0x67A4  # PidTagChangeNumber, where a file carries it
#: The replica id Exchange gives the mailbox's own replica ([MS-OXCSTOR]: REPLID 0x0001).
SERVER_REPLICA = 1
SOURCE_KEY_SIZE = 22


@dataclass(frozen=True, slots=True)
class ReplicaMap:
    """The store's REPLID -> REPLGUID mapping (16-byte GUIDs in their on-disk byte order).

    `where` says where it was read ('node 0x801'), or why there is none ('none': a PST or an OST without one;
    'unreadable: ...': the node is damaged; 'unavailable: ...': the reader cannot reach it)."""

    guids: Mapping[int, bytes] = field(default_factory=dict)
    where: str = "none"

    def guid(self, replica: int) -> bytes | None:
        return self.guids.get(replica)

    def replica(self, guid: bytes) -> int | None:
        for replid, known in self.guids.items():
            if known == guid:
                return replid
        return None

    def describe(self) -> dict[int, str]:
        """REPLID -> GUID in canonical text form (for logs, inspect and tests)."""
        return {replid: str(uuid.UUID(bytes_le=bytes(guid))) for replid, guid in sorted(self.guids.items())}


def split_id(value: int) -> tuple[int, int]:
    """(REPLID, GLOBCNT) of a PT_I8 message or folder id as a reader decodes it (signed 64-bit int)."""
    raw = (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    return int.from_bytes(raw[:2], "little"), int.from_bytes(raw[2:], "big")


def make_id(replica: int, counter: int) -> int:
    """The PT_I8 id of (REPLID, GLOBCNT), as a signed 64-bit int (the inverse of split_id)."""
    raw = replica.to_bytes(2, "little") + counter.to_bytes(6, "big")
    return int.from_bytes(raw, "little", signed=True)


def source_key(guid: bytes, counter: int) -> bytes:
    """[MS-OXCDATA] GID / SKEY: the replica GUID then the 6-byte global counter (22 bytes)."""
    return bytes(guid) + counter.to_bytes(6, "big")


@dataclass(frozen=True, slots=True)
class CacheKeys:
    """What one item of one file says about its identity and its age (None where the file says nothing)."""

    message_id: int | None  # PidTagMid as read
    replica: int | None  # its REPLID
    counter: int | None  # its GLOBCNT
    change_number: int | None  # 0x6743 (OSTs) or PidTagChangeNumber
    source_key: bytes | None  # PR_SOURCE_KEY, else derived from the message id and the replica map
    source_key_origin: str  # 'property', 'derived', or '' (none)
    change_key: bytes | None
    predecessors: bytes | None  # PR_PREDECESSOR_CHANGE_LIST
    search_key: bytes | None
    modified: datetime | None  # PR_LAST_MODIFICATION_TIME

    @property
    def local(self) -> bool:
        """A message id in a replica other than the server's: made in this cache (never from the server)."""
        return self.replica is not None and self.replica != SERVER_REPLICA

    @property
    def synchronized(self) -> bool:
        """The item went through a synchronization with the server: a server replica id, an Exchange source
        key, or the change number an OST stamps on what it synchronized."""
        return self.source_key_origin == "property" or self.replica == SERVER_REPLICA or self.change_number is not None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bytes(value: object) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray) and value else None


def cache_keys(item: SourceItem, replicas: ReplicaMap) -> CacheKeys:
    """The identity-bearing properties of one item, its source key derived where the file has none."""
    props = item.properties
    mid = _int(props.get(PR_MID))
    replica, counter = split_id(mid) if mid is not None else (None, None)
    change = _int(props.get(PR_OST_CHANGE_NUMBER))
    if change is None:
        change = _int(props.get(PR_CHANGE_NUMBER))
    key, origin = _bytes(props.get(PR_SOURCE_KEY)), "property"
    if key is None:
        origin = ""
        guid = replicas.guid(replica) if replica is not None else None
        if guid is not None and counter is not None:
            key, origin = source_key(guid, counter), "derived"
    modified = props.get(mapi.PR_LAST_MODIFICATION_TIME)
    return CacheKeys(
        mid,
        replica,
        counter,
        change,
        key,
        origin,
        _bytes(props.get(PR_CHANGE_KEY)),
        _bytes(props.get(PR_PREDECESSOR_CHANGE_LIST)),
        _bytes(props.get(mapi.PR_SEARCH_KEY)),
        modified if isinstance(modified, datetime) else None,
    )


@dataclass(frozen=True, slots=True)
class CacheIdentity:
    """The identity of an item across caches: `kind` 'source-key' (the server item's 22-byte key, hex) or
    'content' (a hash of the content and PR_SEARCH_KEY, '#n' for the n-th equal item of one file)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def content_key(item: SourceItem) -> str:
    """The content identity before numbering: fingerprint.py's content hash joined with PR_SEARCH_KEY (two
    genuine copies, e.g. a sent mail and the copy it delivered, differ by their times and recipients)."""
    search = _bytes(item.properties.get(mapi.PR_SEARCH_KEY)) or b""
    return hashlib.sha256(f"{fingerprint(item)}|{search.hex()}".encode()).hexdigest()


class ContentNumbers:
    """Numbers equal content keys within one file, in walk order: the 1st, 2nd, ... copy of one content.

    Every item of the file that gets a content identity passes through next(), in the reader's walk order
    (folders parents first, items in table order), so two caches holding the same copies number them alike."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def next(self, key: str) -> str:
        count = self._seen.get(key, 0) + 1
        self._seen[key] = count
        return key if count == 1 else f"{key}#{count}"


def cache_identity(item: SourceItem, keys: CacheKeys, content: str) -> CacheIdentity:
    """The item's identity across caches (see the module's docstring for the order of preference); `content`
    is its numbered content key (ContentNumbers), used when the file gives no source key."""
    if keys.source_key is not None and (keys.source_key_origin == "property" or keys.synchronized):
        return CacheIdentity("source-key", keys.source_key.hex())
    return CacheIdentity("content", content)


@dataclass(frozen=True, slots=True)
class Identified:
    """One item of one file with its keys, its identity, and its numbered content key (always computed: it is
    what links a copy that has no source key, e.g. in an Outlook-made archive PST, to a copy that has one)."""

    item: SourceItem
    keys: CacheKeys
    identity: CacheIdentity
    content: str


def identities(items: Iterable[SourceItem], replicas: ReplicaMap) -> list[Identified]:
    """Every item of one file with its keys and identities, in the order given (the file's walk order)."""
    numbers = ContentNumbers()
    out = []
    for item in items:
        keys = cache_keys(item, replicas)
        content = numbers.next(content_key(item))
        out.append(Identified(item, keys, cache_identity(item, keys, content), content))
    return out


_NEVER = datetime.min


def newness(keys: CacheKeys) -> tuple[int, int, datetime]:
    """The sort key of "newest state": a copy with a change number beats one without, then the higher
    change number, then the later modification time. max(copies, key=newness) is the copy that decides.

    Measured on SampleOstFile.ost: 0x6743 looks like a counter of the OST's own synchronizations (the 25 items
    of Inbox/sub1 share one value), and no OST item carries PR_LAST_MODIFICATION_TIME; equal keys are the
    caller's to break (deterministically, so that any order of the files gives the same mailbox)."""
    modified = keys.modified.replace(tzinfo=None) if keys.modified is not None else _NEVER
    has_change = keys.change_number is not None
    return (int(has_change), keys.change_number or 0, modified)
