"""Folder roles from the store's own properties: entry ids on the message store, the root and the inbox.

Never from display names, which Outlook localizes ('Posteingang', 'Éléments envoyés').
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pipeline import mapi
from pipeline.model import FolderRole, SourceFolder

ROOT_NID = 0x122
SEARCH_FOLDER_TYPE = 2  # PR_FOLDER_TYPE: FOLDER_SEARCH

_STORE_IDS = {
    mapi.PR_IPM_SUBTREE_ENTRYID: FolderRole.IPM_SUBTREE,
    mapi.PR_IPM_OUTBOX_ENTRYID: FolderRole.OUTBOX,
    mapi.PR_IPM_WASTEBASKET_ENTRYID: FolderRole.DELETED,
    mapi.PR_IPM_SENTMAIL_ENTRYID: FolderRole.SENT,
    mapi.PR_VIEWS_ENTRYID: FolderRole.SYSTEM,
    mapi.PR_COMMON_VIEWS_ENTRYID: FolderRole.SYSTEM,
    mapi.PR_FINDER_ENTRYID: FolderRole.SEARCH,
}
_INBOX_IDS = {
    mapi.PR_IPM_APPOINTMENT_ENTRYID: FolderRole.CALENDAR,
    mapi.PR_IPM_CONTACT_ENTRYID: FolderRole.CONTACTS,
    mapi.PR_IPM_JOURNAL_ENTRYID: FolderRole.JOURNAL,
    mapi.PR_IPM_NOTE_ENTRYID: FolderRole.NOTES,
    mapi.PR_IPM_TASK_ENTRYID: FolderRole.TASKS,
    mapi.PR_IPM_DRAFTS_ENTRYID: FolderRole.DRAFTS,
    mapi.PR_REM_ONLINE_ENTRYID: FolderRole.SYSTEM,  # Reminders
}
#: PR_ADDITIONAL_REN_ENTRYIDS, by position (MS-OXOSFLD 2.2.4).
_ADDITIONAL_REN = (
    FolderRole.CONFLICTS,
    FolderRole.SYNC_ISSUES,
    FolderRole.LOCAL_FAILURES,
    FolderRole.SERVER_FAILURES,
    FolderRole.JUNK,
)
#: PR_ADDITIONAL_REN_ENTRYIDS_EX persist block ids (MS-OXOSFLD 2.2.5).
_REN_EX = {
    0x8001: FolderRole.RSS,
    0x8002: FolderRole.SYSTEM,
    0x8004: FolderRole.SEARCH,
    0x8006: FolderRole.SYSTEM,
    0x8007: FolderRole.SYSTEM,
    0x8008: FolderRole.NONE,
    0x8009: FolderRole.SEARCH,
    0x800A: FolderRole.SEARCH,
    0x800B: FolderRole.SEARCH,
}
#: Container classes of folders that hold Outlook's own configuration, never user content.
_SYSTEM_CLASSES = ("IPF.Configuration", "Outlook.Reminder", "Outlook.ItemProcessor", "IPF.ShortcutFolder")


@dataclass(slots=True)
class FolderFacts:
    """What role assignment needs to know of one folder."""

    node_id: int
    parent_id: int | None
    container_class: str
    folder_type: int | None
    props: dict[int, Any] = field(default_factory=dict)  # only the special entry-id properties
    global_counter: bytes | None = None  # Exchange folder id counter (OST: from PR_LTID 0x67F4)


PR_LTID = 0x67F4  # OST folders: replica id (2) + Exchange global counter (6) of the folder id


#: The folder ids (global counters) Exchange gives the first folders of a new mailbox, as the server entry ids
#: of SampleOstFile.ost (Exchange 2010) show them in its search folder definitions and shortcuts. An OST numbers
#: these folders itself (their PR_LTID has replica id 0), so no cached folder carries the server's counter;
#: `server_role` is the fallback for such an entry id, used only when no folder of the file has its counter.
SERVER_FIRST_FIDS = {
    0x11: FolderRole.IPM_SUBTREE,
    0x14: FolderRole.INBOX,
    0x15: FolderRole.OUTBOX,
    0x16: FolderRole.SENT,
    0x17: FolderRole.DELETED,
}


def server_role(entry_id: Any) -> FolderRole | None:
    """The role of one of a mailbox's first folders, named by a server entry id no cached folder carries."""
    if not isinstance(entry_id, bytes | bytearray) or len(entry_id) < 44:
        return None
    return SERVER_FIRST_FIDS.get(int.from_bytes(entry_id[38:44], "big"))


def entryid_nid(entry_id: Any, by_counter: dict[bytes, int] | None = None) -> int | None:
    """The folder node an entry id points at.

    PST entry ids are flags (4), provider UID (16), NID (4). Exchange OSTs keep the server's long-term
    folder entry ids instead: flags (4), provider UID (16), folder type (2), database GUID (16), global
    counter (6), pad (2); those are matched on the counter that each cached folder keeps in PR_LTID.
    """
    if not isinstance(entry_id, bytes | bytearray):
        return None
    if len(entry_id) == 24:
        return struct.unpack_from("<I", entry_id, 20)[0]
    if len(entry_id) >= 44 and by_counter:
        return by_counter.get(bytes(entry_id[38:44]))
    return None


def _persist_blocks(data: bytes) -> dict[int, bytes]:
    """PR_ADDITIONAL_REN_ENTRYIDS_EX: PersistData blocks, each holding an entry id element."""
    found: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(data):
        persist_id, size = struct.unpack_from("<HH", data, off)
        if persist_id == 0:
            break
        body = data[off + 4 : off + 4 + size]
        pos = 0
        while pos + 4 <= len(body):
            element_id, element_size = struct.unpack_from("<HH", body, pos)
            if element_id == 0x0001:
                found[persist_id] = body[pos + 4 : pos + 4 + element_size]
            if element_id == 0:
                break
            pos += 4 + element_size
        off += 4 + size
    return found


def assign_roles(store_props: dict[int, Any], folders: dict[int, FolderFacts]) -> dict[int, tuple[FolderRole, str]]:
    """Role and the evidence it came from ('store', 'inbox', 'root', 'structure', 'class', 'nid-order')."""
    roles: dict[int, tuple[FolderRole, str]] = {}
    by_counter = {f.global_counter: f.node_id for f in folders.values() if f.global_counter}

    def nid_of(entry_id: Any) -> int | None:
        return entryid_nid(entry_id, by_counter)

    def put(nid: int | None, role: FolderRole, how: str) -> None:
        if nid is not None and nid in folders and nid not in roles:
            roles[nid] = (role, how)

    put(ROOT_NID, FolderRole.ROOT, "structure")
    for tag, role in _STORE_IDS.items():
        put(nid_of(store_props.get(tag)), role, "store")

    # The inbox is the non-root folder carrying the special-folder entry ids (MS-OXOSFLD 2.2.3).
    subtree = next((n for n, (r, _) in roles.items() if r is FolderRole.IPM_SUBTREE), None)
    candidates = [f for f in folders.values() if f.node_id != ROOT_NID and mapi.PR_IPM_APPOINTMENT_ENTRYID in f.props]
    candidates.sort(key=lambda f: (f.parent_id != subtree, f.node_id))
    inbox = candidates[0] if candidates else None
    if inbox is not None:
        put(inbox.node_id, FolderRole.INBOX, "inbox")
        if subtree is None and inbox.parent_id is not None:
            put(inbox.parent_id, FolderRole.IPM_SUBTREE, "structure")
            subtree = inbox.parent_id
    sources = [f for f in (inbox, folders.get(ROOT_NID)) if f is not None]
    for source in sources:
        how = "inbox" if source is inbox else "root"
        for tag, role in _INBOX_IDS.items():
            put(nid_of(source.props.get(tag)), role, how)
        for index, value in enumerate(source.props.get(mapi.PR_ADDITIONAL_REN_ENTRYIDS) or []):
            if index < len(_ADDITIONAL_REN) and value:
                put(nid_of(value), _ADDITIONAL_REN[index], how)
        ex = source.props.get(mapi.PR_ADDITIONAL_REN_ENTRYIDS_EX)
        if isinstance(ex, bytes):
            for block_id, entry_id in _persist_blocks(ex).items():
                if block_id in _REN_EX and _REN_EX[block_id] is not FolderRole.NONE:
                    put(nid_of(entry_id), _REN_EX[block_id], how)
        for value in source.props.get(mapi.PR_FREEBUSY_ENTRYIDS) or []:
            put(nid_of(value), FolderRole.SYSTEM, how)

    _nid_order_fallback(roles, folders, subtree, inbox)

    for nid, facts in folders.items():
        if nid in roles:
            continue
        if facts.folder_type == SEARCH_FOLDER_TYPE or _under(nid, folders, roles, FolderRole.SEARCH):
            roles[nid] = (FolderRole.SEARCH, "structure")
        elif subtree is None or not is_below(nid, subtree, folders):
            roles[nid] = (FolderRole.SYSTEM, "structure")
        elif facts.container_class.startswith(_SYSTEM_CLASSES):
            roles[nid] = (FolderRole.SYSTEM, "class")
        else:
            roles[nid] = (FolderRole.NONE, "structure")
    return roles


def _nid_order_fallback(
    roles: dict[int, tuple[FolderRole, str]],
    folders: dict[int, FolderFacts],
    subtree: int | None,
    inbox: FolderFacts | None,
) -> None:
    """Exchange OSTs carry no PR_IPM_WASTEBASKET/SENTMAIL/OUTBOX_ENTRYID on the store.

    Exchange creates Deleted Items, Inbox, Outbox and Sent Items in that fixed order in every mailbox,
    so their folder ids (global counters, kept in PR_LTID) are consecutive; Outlook numbers the cached
    folders in the same order, so their node ids are consecutive folder NIDs (step 0x20) as well.
    Used only when the store itself says nothing; the inspect output shows which evidence was used.
    """
    if inbox is None or subtree is None:
        return
    by_counter = {f.global_counter: f.node_id for f in folders.values() if f.global_counter}
    for step, role in ((-1, FolderRole.DELETED), (1, FolderRole.OUTBOX), (2, FolderRole.SENT)):
        if any(r is role for r, _ in roles.values()):
            continue
        candidates = [(inbox.node_id + 0x20 * step, "nid-order")]
        if inbox.global_counter:
            counter = int.from_bytes(inbox.global_counter, "big") + step
            nid = by_counter.get(counter.to_bytes(6, "big"))
            if nid is not None:
                candidates.insert(0, (nid, "fid-order"))
        for nid, how in candidates:
            facts = folders.get(nid)
            if (
                facts is not None
                and nid not in roles
                and facts.parent_id == subtree
                and facts.container_class in ("IPF.Note", "")
            ):
                roles[nid] = (role, how)
                break


def is_below(nid: int, ancestor: int, folders: dict[int, FolderFacts]) -> bool:
    seen = set()
    current: int | None = nid
    while current is not None and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = folders[current].parent_id if current in folders else None
    return False


def _under(
    nid: int, folders: dict[int, FolderFacts], roles: dict[int, tuple[FolderRole, str]], role: FolderRole
) -> bool:
    return any(r is role and is_below(nid, other, folders) for other, (r, _) in roles.items())


#: One folder as a reader found it: (name, container class, item count, parent node id, subfolder count).
RawFolder = tuple[str, str, int, "int | None", int]


def folder_tree(
    raw: dict[int, RawFolder], store_props: dict[int, Any], facts: dict[int, FolderFacts]
) -> tuple[list[SourceFolder], dict[int, str]]:
    """The SourceFolders of a walked tree (raw in walk order, parents before children), with their roles and
    paths (relative to the IPM subtree where they are below it), and how each role was found. Both readers
    hand their walk to this one function, so they agree on folders by construction of the rules."""
    roles = assign_roles(store_props, facts)
    subtree = next((n for n, (r, _) in roles.items() if r is FolderRole.IPM_SUBTREE), None)
    paths: dict[int, tuple[str, ...]] = {}
    for nid, (name, _cls, _count, parent, _subs) in raw.items():  # parents come before children
        if nid == ROOT_NID or nid == subtree:
            paths[nid] = ()
        elif parent is not None and parent in paths:
            paths[nid] = (*paths[parent], name)
        else:
            paths[nid] = (name,)
    folders = []
    for nid, (name, cls, count, parent, subs) in raw.items():
        role = roles.get(nid, (FolderRole.NONE, ""))[0]
        outside = subtree is None or not is_below(nid, subtree, facts)
        counter = facts[nid].global_counter if nid in facts else None
        folders.append(SourceFolder(nid, paths[nid], name, cls, role, count, parent, subs, outside, counter))
    return folders, {nid: how for nid, (_, how) in roles.items()}
