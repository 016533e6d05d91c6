"""The nickname cache restored: each Exchange (X500) entry of the source's autocomplete stream resolved to
SMTP through the mailbox's address book, merged with the list the new mailbox has, written back as an
[MS-OXOCFG] 2.2.5.2 stream. Pure functions: the run reads the server and writes what the plan says.

Resolution, first that answers: the entry's own cached SMTP address (PidTagSmtpAddress 0x39FE, which Outlook
keeps beside the DN), then the address book (convert/addressbook.py: the store's items, and with --map every
user's file). An entry resolved is rewritten as an SMTP entry (address type, e-mail address, search key,
a one-off entry id; the DN-bearing entry ids dropped): the old organization's DN means nothing to the new
server. An entry no one resolves is kept as it was (Outlook still shows the name) and listed, for
`rebuild x500`'s unresolved list.

Merge: entries are the same when their address (SMTP, else the DN) is, compared without case. The new
mailbox's entry wins over the source's for an address both have: its counts and weights are the user's
use since the rebuild, which the old ones would undo. The source's other entries are appended after the
server's, in the source's order (Outlook sorts by weight when it shows them).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.convert.user_settings.autocomplete import (
    MAJOR_VERSION,
    PR_ADDRTYPE,
    PR_EMAIL_ADDRESS,
    PR_SEARCH_KEY,
    PR_SMTP_ADDRESS,
    PT_BINARY,
    PT_BOOLEAN,
    PT_CLSID,
    PT_DOUBLE,
    PT_ERROR,
    PT_I8,
    PT_LONG,
    PT_SHORT,
    PT_STRING8,
    PT_SYSTIME,
    PT_UNICODE,
    SIGNATURE,
    AutocompleteEntry,
    AutocompleteList,
    parse_autocomplete,
)
from pipeline.convert.user_settings.binary import SettingsFormatError, filetime_of
from pipeline.convert.user_settings.merge import (
    AUTOCOMPLETE_TARGET,
    ServerConfiguration,
    SettingAction,
    SettingPlan,
)
from pipeline.convert.user_settings.records import SettingsMessage

PR_ENTRYID = 0x0FFF
PR_RECORD_KEY = 0x0FF9
#: Properties whose value names the old organization's address book object (entry ids): dropped from a
#: resolved entry, which gets a one-off entry id instead. 0x5FF7 is PidTagRecipientEntryId.
_DN_IDS = (PR_ENTRYID, 0x5FF7, PR_RECORD_KEY)
#: [MS-OXCDATA] 2.2.5.1: the provider UID of one-off entry ids.
ONE_OFF_UID = bytes.fromhex("812B1FA4BEA310199D6E00DD010F5402")
#: How an entry was resolved (the report counts them).
CACHED, BOOK, SMTP, UNRESOLVED = "cached smtp", "address book", "smtp", "unresolved"


@dataclass(frozen=True, slots=True)
class ResolvedEntry:
    entry: AutocompleteEntry  # as it is written
    how: str  # CACHED, BOOK, SMTP (it was one already) or UNRESOLVED
    legacy_dn: str | None  # the DN it had (None for an SMTP entry)

    @property
    def address(self) -> str:
        return (self.entry.smtp_address or self.entry.email_address or "").strip()


def _tag(prop_id: int, ptype: int) -> int:
    return prop_id << 16 | ptype


def one_off_entry_id(name: str, smtp: str) -> bytes:
    """A one-off entry id ([MS-OXCDATA] 2.2.5.1) in Unicode: flags, provider UID, version 0, flags
    (MAPI_UNICODE 0x8000 | send as Internet 0x0000 with no rich text 0x0001), then name, type, address."""
    text = (name + "\0" + "SMTP\0" + smtp + "\0").encode("utf-16-le")
    return b"\0\0\0\0" + ONE_OFF_UID + struct.pack("<HH", 0, 0x8001) + text


def _as_smtp(entry: AutocompleteEntry, smtp: str) -> AutocompleteEntry:
    properties = {tag: value for tag, value in entry.properties.items() if tag >> 16 not in _DN_IDS}
    for prop_id, ptype, value in (
        (PR_ADDRTYPE, PT_UNICODE, "SMTP"),
        (PR_EMAIL_ADDRESS, PT_UNICODE, smtp),
        (PR_SMTP_ADDRESS, PT_UNICODE, smtp),
        (PR_SEARCH_KEY, PT_BINARY, b"SMTP:" + smtp.upper().encode("ascii", "replace") + b"\0"),
        (PR_ENTRYID, PT_BINARY, one_off_entry_id(entry.display_name or smtp, smtp)),
    ):
        for tag in [t for t in properties if t >> 16 == prop_id]:  # one type per id: the ANSI twin goes
            del properties[tag]
        properties[_tag(prop_id, ptype)] = value
    return AutocompleteEntry(
        display_name=entry.display_name,
        email_address=smtp,
        address_type="SMTP",
        smtp_address=smtp,
        properties=properties,
    )


def resolve(entry: AutocompleteEntry, lookup: Callable[[str], str | None]) -> ResolvedEntry:
    """One entry with its X500 DN resolved to SMTP where the entry itself or `lookup` (the book) knows it."""
    dn = entry.legacy_dn
    if dn is None:
        return ResolvedEntry(entry, SMTP, None)
    cached = (entry.smtp_address or "").strip()
    if "@" in cached:
        return ResolvedEntry(_as_smtp(entry, cached), CACHED, dn)
    found = lookup(dn)
    if found:
        return ResolvedEntry(_as_smtp(entry, found), BOOK, dn)
    return ResolvedEntry(entry, UNRESOLVED, dn)


def _union(value: Any, ptype: int) -> bytes:
    if ptype == PT_SHORT:
        return struct.pack("<h", value) + bytes(6)
    if ptype == PT_LONG:
        return struct.pack("<i", value) + bytes(4)
    if ptype == PT_ERROR:
        return struct.pack("<I", value) + bytes(4)
    if ptype == PT_BOOLEAN:
        return bytes([1 if value else 0]) + bytes(7)
    if ptype == PT_DOUBLE:
        return struct.pack("<d", value)
    if ptype == PT_SYSTIME:
        return struct.pack("<Q", filetime_of(value))
    if ptype in (PT_I8, PT_CLSID):
        return struct.pack("<q", value)
    return bytes(8)  # strings and binaries: the 8 bytes are not read ([MS-OXOCFG] 2.2.5.2.2)


def _row(entry: AutocompleteEntry) -> bytes:
    out = [struct.pack("<I", len(entry.properties))]
    for tag, value in entry.properties.items():
        ptype = tag & 0xFFFF
        out.append(struct.pack("<II", tag, 0) + _union(value, ptype))
        if ptype in (PT_UNICODE, PT_STRING8, PT_BINARY):
            if ptype == PT_UNICODE:
                data = (value + "\0").encode("utf-16-le")
            elif ptype == PT_STRING8:
                data = (value + "\0").encode("latin-1", "replace")
            else:
                data = bytes(value)
            out.append(struct.pack("<I", len(data)) + data)
    return b"".join(out)


def write_autocomplete(
    entries: list[AutocompleteEntry], minor_version: int, extra_info: bytes, trailer: bytes
) -> bytes:
    """The [MS-OXOCFG] stream of these entries (the inverse of parse_autocomplete)."""
    head = struct.pack("<4I", SIGNATURE, MAJOR_VERSION, minor_version, len(entries))
    return head + b"".join(_row(e) for e in entries) + struct.pack("<I", len(extra_info)) + extra_info + trailer


def _key(entry: AutocompleteEntry) -> str:
    return (entry.smtp_address or entry.email_address or entry.display_name or "").strip().casefold()


@dataclass(frozen=True, slots=True)
class NicknameMerge:
    """What the restore writes: the stream, and per source entry what became of it."""

    data: bytes
    added: tuple[str, ...]  # addresses appended to the server's list (or the whole list when it had none)
    kept: tuple[str, ...]  # addresses the server had already: its entry kept, with its counts and weights
    resolved: tuple[ResolvedEntry, ...]  # every source entry as resolved (UNRESOLVED ones listed in the report)

    @property
    def unresolved(self) -> tuple[str, ...]:
        return tuple(r.legacy_dn for r in self.resolved if r.how == UNRESOLVED and r.legacy_dn)


def merge_nicknames(
    source: AutocompleteList, server: bytes | None, lookup: Callable[[str], str | None]
) -> NicknameMerge:
    """The source's entries (resolved) merged into the server's stream (None or empty: the source's alone).
    A server stream that does not parse raises SettingsFormatError (the caller keeps it untouched)."""
    resolved = tuple(resolve(e, lookup) for e in source.entries)
    base = parse_autocomplete(server) if server else None
    have = {_key(e) for e in base.entries} if base else set()
    added, kept, appended, seen = [], [], [], set(have)
    for item in resolved:
        key = _key(item.entry)
        if key in have:
            kept.append(item.address)
        elif key not in seen:
            seen.add(key)
            appended.append(item.entry)
            added.append(item.address)
    if base is None:
        data = write_autocomplete(appended, source.minor_version, source.extra_info, source.trailer)
    elif not appended:
        data = server or b""
    else:
        data = write_autocomplete(list(base.entries) + appended, base.minor_version, base.extra_info, base.trailer)
    return NicknameMerge(data, tuple(added), tuple(kept), resolved)


def digest(data: bytes) -> str:
    """The stamp of a stream the restore wrote (kept in the configuration's dictionary beside it)."""
    return hashlib.sha256(data).hexdigest()


__all__ = ["NicknameMerge", "ResolvedEntry", "digest", "merge_nicknames", "resolve", "write_autocomplete"]


#: The dictionary entry that stamps the stream the restore wrote (its SHA-256), beside it in the same object.
STAMP = "MailboxRebuild.Written"


@dataclass(frozen=True, slots=True)
class NicknamePlan:
    """What to do with the nickname cache: the plan for the report, and the stream and stamp to write."""

    plan: SettingPlan
    data: bytes | None = None  # None: nothing to write
    stamp: dict[str, str] = field(default_factory=dict)


def plan_autocomplete(
    message: SettingsMessage, server: ServerConfiguration | None, lookup: Callable[[str], str | None]
) -> NicknamePlan:
    """Decide from the source's list and the server's Autocomplete object (and its stamp):
    - none on the server: the source's list, resolved, is created (stamped);
    - the server's own list (no stamp of ours): merged, the server's entries winning (stamped when written);
    - ours, unchanged since (its bytes match our stamp): merged again, which on a rerun adds nothing;
    - ours, changed since (Outlook or the user rewrote it: the bytes no longer match the stamp): kept as it is.
    """
    kind, target = message.kind, AUTOCOMPLETE_TARGET
    record = message.record
    if not isinstance(record, AutocompleteList):
        return NicknamePlan(SettingPlan(kind, target, SettingAction.SKIP, reason=f"unreadable: {message.problem}"))
    binary = server.binary if server is not None else None
    stamp = (server.dictionary or {}).get(STAMP) if server is not None else None
    if binary and stamp and stamp != digest(binary):
        return NicknamePlan(
            SettingPlan(
                kind,
                target,
                SettingAction.KEEP,
                kept=("autocomplete list",),
                reason="changed on the new server since it was restored: not overwritten",
            )
        )
    try:
        merged = merge_nicknames(record, binary, lookup)
    except SettingsFormatError as exc:
        return NicknamePlan(
            SettingPlan(
                kind, target, SettingAction.KEEP, reason=f"the server's list is kept: it cannot be read ({exc})"
            )
        )
    details: dict[str, object] = {
        "resolved": {how: sum(1 for r in merged.resolved if r.how == how) for how in (CACHED, BOOK, SMTP, UNRESOLVED)},
        "unresolved": list(merged.unresolved),
    }
    if not merged.added:
        reason = "already restored" if stamp else "every entry is already on the server"
        return NicknamePlan(
            SettingPlan(kind, target, SettingAction.KEEP, kept=merged.kept, reason=reason, details=details)
        )
    action = SettingAction.CREATE if server is None else SettingAction.UPDATE
    reason = "" if server is None else "missing entries added; the server's own entries keep their counts and weights"
    if merged.unresolved:
        reason = (
            reason + "; " if reason else ""
        ) + f"{len(merged.unresolved)} X500 entries unresolved, kept as they were"
    return NicknamePlan(
        SettingPlan(kind, target, action, added=merged.added, kept=merged.kept, reason=reason, details=details),
        merged.data,
        {**(server.dictionary or {} if server is not None else {}), STAMP: digest(merged.data)},
    )
