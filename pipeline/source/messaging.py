"""The messaging layer ([MS-PST] 2.4) both readers share, over each reader's own node access.

MessageStore holds what does not depend on how nodes are reached: the folder walk (roles by
roles.folder_tree), the name-to-id map's damage, a message read into a SourceItem (its code page chosen,
its properties split into plain and named, its subject's prefix marker dropped), the item, party, summary
and recovery walks, and the Source life cycle. A reader subclasses it and supplies the node access: how
the store, a folder, its subfolders and its messages are reached, how a message's properties are decoded,
and how its recipient and attachment tables are read. The shared steps run once per folder or item, never
per property, so they cost the native reader's hot path nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar

from pipeline import mapi
from pipeline.model import Attachment, NamedKey, Recipient, SourceError, SourceFolder, SourceItem
from pipeline.props import as_time
from pipeline.source import codepages
from pipeline.source.base import ItemSummary, Moment, SourceInfo
from pipeline.source.namemap import NameMap, parse_name_map
from pipeline.source.roles import PR_LTID, ROOT_NID, FolderFacts, entryid_nid, folder_tree, server_role
from pipeline.source.values import strip_subject_prefix_marker

NID_MESSAGE_STORE = 0x21
NID_NAME_TO_ID_MAP = 0x61
#: The store properties that name special folders (roles.py reads them); a folder keeps only these.
ROLE_PROPS = frozenset(
    {
        mapi.PR_IPM_APPOINTMENT_ENTRYID,
        mapi.PR_IPM_CONTACT_ENTRYID,
        mapi.PR_IPM_JOURNAL_ENTRYID,
        mapi.PR_IPM_NOTE_ENTRYID,
        mapi.PR_IPM_TASK_ENTRYID,
        mapi.PR_REM_ONLINE_ENTRYID,
        mapi.PR_IPM_DRAFTS_ENTRYID,
        mapi.PR_ADDITIONAL_REN_ENTRYIDS,
        mapi.PR_ADDITIONAL_REN_ENTRYIDS_EX,
        mapi.PR_FREEBUSY_ENTRYIDS,
    }
)
#: Attachment properties whose value is the content itself: read on demand, never up front.
LAZY_ATTACHMENT_PROPS = frozenset({mapi.PR_ATTACH_DATA_BIN})
#: What the address book reads of an item (parties()): sender, represented party, class, code pages.
PARTY_PROPS = frozenset(
    {
        mapi.PR_MESSAGE_CLASS,
        mapi.PR_MESSAGE_CODEPAGE,
        mapi.PR_INTERNET_CPID,
        mapi.PR_SENDER_NAME,
        mapi.PR_SENDER_ADDRTYPE,
        mapi.PR_SENDER_EMAIL_ADDRESS,
        mapi.PR_SENDER_SMTP_ADDRESS,
        mapi.PR_SENT_REPRESENTING_NAME,
        mapi.PR_SENT_REPRESENTING_ADDRTYPE,
        mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS,
        mapi.PR_SENT_REPRESENTING_SMTP_ADDRESS,
        # whom the item was delivered to (the delivering store's stamp): one of the owner's marks (source/owner.py)
        mapi.PR_RECEIVED_BY_NAME,
        mapi.PR_RECEIVED_BY_EMAIL_ADDRESS,
        mapi.PR_RECEIVED_BY_SMTP_ADDRESS,
    }
)
#: Upper bound of the embedded-message depth we follow (Outlook itself stops far below this).
MAX_EMBED_DEPTH = 32
#: Where recovered items are said to come from.
RECOVERED_PATH = ("Recovered items",)

F = TypeVar("F")  # a reader's folder handle
M = TypeVar("M")  # a reader's message handle
R = TypeVar("R")  # a message's properties as the reader holds them before decoding
T = TypeVar("T")
#: An orphan message: its node id when known before opening it, and how to open it ((message, node id),
#: or None for an orphan that is no message).
Orphan = tuple[int | None, Callable[[], tuple[Any, int] | None]]


#: What a moment is read from (the message's own properties; the named ones through the store's name map).
MOMENT_PROPS = frozenset(
    {mapi.PR_MESSAGE_CLASS, mapi.PR_MESSAGE_DELIVERY_TIME, mapi.PR_CLIENT_SUBMIT_TIME, mapi.PR_CREATION_TIME}
)
MOMENT_NAMES = frozenset(
    {(mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE), (mapi.PSETID_APPOINTMENT, mapi.LID_RECURRING)}
)


def moment_of(nid: int, props: Mapping[int, Any], named: Mapping[NamedKey, Any]) -> Moment:
    """The moment of a message from its decoded MOMENT_PROPS and MOMENT_NAMES (both readers build it here)."""
    message_class = props.get(mapi.PR_MESSAGE_CLASS)
    when = (
        as_time(props.get(mapi.PR_MESSAGE_DELIVERY_TIME))
        or as_time(props.get(mapi.PR_CLIENT_SUBMIT_TIME))
        or as_time(props.get(mapi.PR_CREATION_TIME))
    )
    return Moment(
        nid,
        message_class if isinstance(message_class, str) and message_class else "IPM.Note",
        when,
        as_time(named.get((mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE))),
        bool(named.get((mapi.PSETID_APPOINTMENT, mapi.LID_RECURRING))),
    )


def parties_of(
    nid: int,
    folder_path: tuple[str, ...],
    props: dict[int, Any],
    named: dict[NamedKey, Any],
    recipients: list[Recipient],
    codepage: int | None = None,
) -> SourceItem:
    """The slim item the address book learns from (PARTY_PROPS, the contact's e-mail entries, the recipient
    table; no body, no attachment), as both readers build it."""
    return SourceItem(
        nid,
        folder_path,
        props.get(mapi.PR_MESSAGE_CLASS) or "IPM.Note",
        props,
        named,
        recipients,
        [],
        codepage=codepage,
    )


class MessageStore(ABC, Generic[F, M, R]):
    """A Source (pipeline/source/base.py) made of the shared messaging steps and a reader's node access.

    The subclass sets info, errors and _override, then calls _load_tree() while it opens the file."""

    #: What the reader's node access raises for a damaged part of the file it reports and walks past.
    damage: ClassVar[tuple[type[Exception], ...]] = (Exception,)
    info: SourceInfo
    errors: list[SourceError]
    role_evidence: dict[int, str]
    store_properties: dict[int, Any]
    _override: int | None  # the admin's --codepage, which beats what the items say
    _folders: list[SourceFolder]
    _folder_handles: dict[int, F]

    # -- node access: what each reader supplies ------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    @staticmethod
    @abstractmethod
    def _reason(exc: BaseException) -> str:
        """The exception on one line, as a SourceError's reason."""

    @abstractmethod
    def _name_map_streams(self) -> dict[int, bytes] | None:
        """The name-to-id map's streams by property id (None when the store has no map)."""

    @abstractmethod
    def _store_props(self) -> dict[int, Any]:
        """The message store's properties, decoded."""

    @abstractmethod
    def _root(self) -> F:
        """The root folder; SourceOpenError when it cannot be read."""

    @abstractmethod
    def _folder_id(self, folder: F) -> int: ...

    @abstractmethod
    def _folder_props(self, folder: F) -> dict[int, Any]: ...

    @abstractmethod
    def _item_count(self, folder: F) -> int:
        """The folder's number of messages (0 when its contents table cannot be read: the walk reports it)."""

    @abstractmethod
    def _subfolders(self, folder: F) -> list[F]: ...

    @abstractmethod
    def _walk(
        self, folder: SourceFolder, read: Callable[[M, int], T], start: int = 0, stop: int | None = None
    ) -> Iterator[T | SourceError]:
        """read(message, node id) for each message of the folder (or of the index range [start, stop));
        what cannot be read becomes a SourceError."""

    @abstractmethod
    def _walk_at(
        self, folder: SourceFolder, read: Callable[[M, int], T], indexes: Sequence[int]
    ) -> Iterator[T | SourceError]:
        """read(message, node id) for the messages at these row indexes, in the order given."""

    @abstractmethod
    def _walk_associated(self, folder: SourceFolder, read: Callable[[M, int], T]) -> Iterator[T | SourceError]:
        """read() of each row of the folder's associated contents table; what cannot be read (the table, a row,
        or the reader's way to it) becomes a SourceError."""

    @abstractmethod
    def _orphans(self) -> Iterator[Orphan]:
        """The messages no folder lists."""

    @abstractmethod
    def _message_raw(self, message: M) -> R:
        """The message's properties, not yet decoded (decoded again when the item's code page differs)."""

    @abstractmethod
    def _item_props(self, raw: R, codepage: str) -> tuple[dict[int, Any], dict[NamedKey, Any]]:
        """(plain properties by id, named properties by (GUID, name)) decoded with codepage."""

    @abstractmethod
    def _recipients(self, message: M, codepage: str) -> list[Recipient]: ...

    @abstractmethod
    def _attachments(self, message: M, folder_path: tuple[str, ...], codepage: str, depth: int) -> list[Attachment]: ...

    @abstractmethod
    def _parties(self, message: M, nid: int, folder_path: tuple[str, ...]) -> SourceItem: ...

    @abstractmethod
    def _summary(self, message: M, nid: int) -> ItemSummary: ...

    @abstractmethod
    def _moment(self, message: M, nid: int) -> Moment: ...

    # -- life cycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- folders ------------------------------------------------------------------------------------
    def _load_name_map(self) -> tuple[NameMap, str]:
        """The name-to-id map, and why it could not be read ('' when it could: an empty map then)."""
        try:
            streams = self._name_map_streams()
            return (parse_name_map(streams) if streams is not None else NameMap()), ""
        except self.damage as exc:  # damage here is reported, never fatal
            reason = self._reason(exc)
            self.errors.append(SourceError((), NID_NAME_TO_ID_MAP, "namemap", reason))
            return NameMap(), reason

    def _load_tree(self) -> None:
        """Walk the folder tree from the root, parents before children; a folder or a subfolder list that
        cannot be read is reported in errors and the walk goes on."""
        try:
            store_props = self._store_props()
        except self.damage as exc:  # damage here is reported, never fatal
            self.errors.append(SourceError((), NID_MESSAGE_STORE, "store", self._reason(exc)))
            store_props = {}
        self.store_properties = store_props
        root = self._root()
        self._folder_handles = {}
        facts: dict[int, FolderFacts] = {}
        server_numbered: list[int] = []
        raw: dict[int, tuple[str, str, int, int | None, int]] = {}
        stack: list[tuple[F, int | None, tuple[str, ...]]] = [(root, None, ())]
        while stack:
            folder, parent, chain = stack.pop()
            nid = self._folder_id(folder)
            if nid in self._folder_handles:
                continue  # listed twice: walked once
            self._folder_handles[nid] = folder
            try:
                props = self._folder_props(folder)
            except self.damage as exc:  # one unreadable folder is reported, the walk goes on
                self.errors.append(SourceError(chain, nid, "folder", self._reason(exc)))
                props = {}
            name = props.get(mapi.PR_DISPLAY_NAME) or ("" if nid == ROOT_NID else f"(folder {nid})")
            container_class = props.get(mapi.PR_CONTAINER_CLASS) or ""
            ltid = props.get(PR_LTID)
            if isinstance(ltid, int) and ltid & 0xFFFF:
                server_numbered.append(nid)
            facts[nid] = FolderFacts(
                nid,
                parent,
                container_class,
                props.get(mapi.PR_FOLDER_TYPE),
                {k: v for k, v in props.items() if k in ROLE_PROPS},
                ltid.to_bytes(8, "little", signed=True)[2:] if isinstance(ltid, int) else None,
            )
            count = self._item_count(folder)
            try:
                children = self._subfolders(folder)
            except self.damage as exc:
                self.errors.append(
                    SourceError((*chain, name), nid, "folder", f"subfolders unreadable: {self._reason(exc)}")
                )
                children = []
            raw[nid] = (name, container_class, count, parent, len(children))
            here = (*chain, name) if nid != ROOT_NID else ()
            stack.extend((child, nid, here) for child in reversed(children))
        self._folders, self.role_evidence = folder_tree(raw, store_props, facts)
        # folders the server numbered (replica id not 0; Outlook's own local folders have 0): the counters a
        # server entry id in the user's settings is matched on, without a local folder's number colliding
        self._server_counters = {facts[nid].global_counter: nid for nid in server_numbered if nid in facts}

    def folders(self) -> list[SourceFolder]:
        """Every folder, parents before children, system and search folders included."""
        return list(self._folders)

    def folder_by_entry_id(self, entry_id: bytes) -> int | None:
        """The node id of the folder a folder entry id of this store names (a PST's NID form, or an OST's
        long-term form matched on the folder's global counter; one of a mailbox's first folders, which an OST
        numbers itself, by the counter Exchange gives it: roles.server_role), None when no folder of the file
        has it: what the user's settings (search folder scopes, rule targets, shortcuts) point at."""
        nid = entryid_nid(entry_id, getattr(self, "_server_counters", None))
        if nid is not None and nid in self._folder_handles:
            return nid
        role = server_role(entry_id)
        found = [f.node_id for f in self._folders if role is not None and f.role is role]
        return found[0] if len(found) == 1 else None

    def property_name(self, prop_id: int) -> tuple[str, int | str] | None:
        """(property set GUID, LID or name) of a named property id (0x8000 and above) in this store's
        name-to-id map; None when the map does not have it."""
        names = getattr(self, "_names", None)
        return names.resolve(prop_id) if names is not None else None

    # -- items --------------------------------------------------------------------------------------
    def items(
        self, folder: SourceFolder, start: int = 0, stop: int | None = None
    ) -> Iterator[SourceItem | SourceError]:
        """The folder's messages one at a time (optionally the index range [start, stop), so that workers can
        share a large folder); unreadable or damaged ones come out as SourceError."""
        path = folder.path
        return self._walk(folder, lambda message, nid: self.read_message(message, nid, path), start, stop)

    def parties(self, folder: SourceFolder) -> Iterator[SourceItem | SourceError]:
        """The folder's items with only what names people (sender, represented party, recipients, contact
        e-mail entries, class, code pages) and no attachments: the cheap walk behind the address book."""
        path = folder.path
        return self._walk(folder, lambda message, nid: self._parties(message, nid, path))

    def summaries(self, folder: SourceFolder) -> Iterator[ItemSummary | SourceError]:
        """(node id, message class, size) per item: the cheap walk behind `inspect`."""
        return self._walk(folder, self._summary)

    def timeline(self, folder: SourceFolder) -> Iterator[Moment | SourceError]:
        """Each item's moment (class, time, an appointment's end and recurrence), row by row: the cheap walk
        behind the usable-first order."""
        return self._walk(folder, self._moment)

    def items_at(self, folder: SourceFolder, indexes: Sequence[int]) -> Iterator[SourceItem | SourceError]:
        """The folder's messages at these row indexes, in the order given."""
        path = folder.path
        return self._walk_at(folder, lambda message, nid: self.read_message(message, nid, path), indexes)

    def associated(self, folder: SourceFolder) -> Iterator[SourceItem | SourceError]:
        """The folder's associated (FAI) messages: what Outlook and Exchange keep beside the items, never
        shown as items (views, navigation shortcuts, search folder definitions, rules, configuration
        objects such as the category list, work hours or the autocomplete stream), `associated` set."""
        path = folder.path

        def read(message: M, nid: int) -> SourceItem:
            item = self.read_message(message, nid, path)
            item.associated = True
            return item

        return self._walk_associated(folder, read)

    def recovered(self) -> Iterator[SourceItem | SourceError]:
        """The messages no folder lists (offered by --recover), their `recovered` flag set."""
        for node_id, open_message in self._orphans():
            try:
                found = open_message()
                if found is None:
                    continue
                message, node_id = found
                item = self.read_message(message, node_id, RECOVERED_PATH)
                item.recovered = True
                yield item
            except Exception as exc:  # noqa: BLE001 - whatever breaks on one item, the walk goes on
                yield SourceError(RECOVERED_PATH, node_id, "recovered", self._reason(exc))

    def read_message(self, message: M, nid: int, folder_path: tuple[str, ...], depth: int = 0) -> SourceItem:
        """The message as a SourceItem: every property decoded, recipients read, attachments listed (their
        bytes and embedded messages read on demand)."""
        props, named, codepage, cpid = self._message_props(self._message_raw(message))
        subject = props.get(mapi.PR_SUBJECT)
        if isinstance(subject, str):
            props[mapi.PR_SUBJECT] = strip_subject_prefix_marker(subject)
        return SourceItem(
            node_id=nid,
            folder_path=folder_path,
            message_class=props.get(mapi.PR_MESSAGE_CLASS) or "IPM.Note",
            properties=props,
            named=named,
            recipients=self._recipients(message, codepage),
            attachments=self._attachments(message, folder_path, codepage, depth),
            codepage=cpid,
        )

    def _message_props(self, raw: R) -> tuple[dict[int, Any], dict[NamedKey, Any], str, int | None]:
        """(properties, named properties, codec of its 8-bit strings, its code page id) of a message: an ANSI
        store's item is decoded again in its own code page when it names one."""
        codepage = self.info.codepage
        props, named = self._item_props(raw, codepage)
        cpid = props.get(mapi.PR_MESSAGE_CODEPAGE) or props.get(mapi.PR_INTERNET_CPID)
        if self.info.format == "ansi":
            own = codepages.item_codec(props, codepage, self._override)
            if own != codepage:
                codepage = own
                props, named = self._item_props(raw, codepage)
        return props, named, codepage, cpid if isinstance(cpid, int) else None
