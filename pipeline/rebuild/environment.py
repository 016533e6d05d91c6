"""The rest of the user's environment, restored for run.py: the nickname cache, search folders, the junk
e-mail lists and navigation shortcuts (issue 23). run.py hands over what it holds (the settings read from the
associated messages, the source's look-ups, the rebuilt folders, the address book, the mailbox); the
decisions are convert/user_settings' pure functions, the calls the destination's.

How a rerun, and a user's change on the new server, are respected (each setting says so in the report):
- autocomplete: the stream we write carries a stamp (its SHA-256 in the same configuration's dictionary,
  written in the same request). Bytes that no longer match our stamp were rewritten since (by Outlook, as
  the user typed): kept untouched. Otherwise the source's entries are merged in by address, the server's
  entry winning, so a rerun adds nothing and writes nothing.
- search folders: one of the same name under the search folders root (ours from an earlier run, or the
  user's own) is never touched; a rerun creates nothing. (One the user deleted comes back on a rerun: the
  server keeps no trace of the deletion.)
- shortcuts: a link to a rebuilt folder is written again (an associated item of Common Views naming the new
  folder's entry id); one pointing at that folder already, ours or the user's, is kept. (One the user deleted
  comes back on a rerun, as a search folder does.)
- junk e-mail lists: a PowerShell script (EWS writes none of them).
- the other configuration objects (calendar, availability and other options): convert/user_settings/options.py
  says which are written and why; one is written only where the mailbox has none of its name, then kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from pipeline.convert.user_settings.junk_script import JunkLists, junk_lists, powershell
from pipeline.convert.user_settings.merge import AUTOCOMPLETE_TARGET, ConfigurationTarget, SettingAction, SettingPlan
from pipeline.convert.user_settings.nicknames import plan_autocomplete
from pipeline.convert.user_settings.options import decision, elsewhere, left_plan, not_writable, plan_option
from pipeline.convert.user_settings.records import SettingKind, SettingsMessage
from pipeline.convert.user_settings.rules import JunkEmailRule
from pipeline.convert.user_settings.search_criteria import SearchFolderCriteria, Unmapped, criteria
from pipeline.convert.user_settings.search_folders import SearchFolderDefinition
from pipeline.convert.user_settings.shortcuts import NavigationShortcut, link_properties
from pipeline.model import SourceFolder

#: The kinds this module restores (merge.SELECTABLE names them for --settings).
KINDS = (
    SettingKind.AUTOCOMPLETE,
    SettingKind.SEARCH_FOLDER,
    SettingKind.JUNK_RULE,
    SettingKind.SHORTCUT,
    SettingKind.CONFIGURATION,
)
JUNK_SCRIPT = "junk-email.ps1"
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Restored:
    """What the restore needs from the run: the source's look-ups, its folders, the rebuilt ones (node id ->
    server folder id), the address book's answer for a DN, the mailbox, and where reports go."""

    folders: list[SourceFolder]
    rebuilt: dict[int, str]
    folder_by_entry_id: Callable[[bytes], int | None]
    property_name: Callable[[int], tuple[str, int | str] | None]
    lookup: Callable[[str], str | None]
    mailbox: Any  # the destination's Mailbox: configurations(), search_folders() where it has them
    address: str
    write_script: Callable[[str, bytes], str] | None = None  # (file name, bytes) -> where it was written
    fatal: tuple[type[BaseException], ...] = ()  # what stops the mailbox (lease lost, interrupted...): re-raised


def _below(folders: list[SourceFolder], rebuilt: dict[int, str]) -> Callable[[int], list[int]]:
    parents = {f.node_id: f.parent_node_id for f in folders}

    def below(root: int) -> list[int]:
        found = []
        for folder in folders:
            node: int | None = folder.node_id
            seen: set[int] = set()
            while node is not None and node not in seen:
                if node == root:
                    if folder.node_id in rebuilt:
                        found.append(folder.node_id)
                    break
                seen.add(node)
                node = parents.get(node)
        return found

    return below


def _plan(kind: SettingKind, target: ConfigurationTarget, action: SettingAction, reason: str, **more: Any) -> dict:
    return SettingPlan(kind, target, action, reason=reason, details=more).as_dict()


def _created(kind: SettingKind, target: ConfigurationTarget, name: str, reason: str, **more: Any) -> dict:
    return SettingPlan(kind, target, SettingAction.CREATE, added=(name,), reason=reason, details=more).as_dict()


def _readable(
    messages: list[SettingsMessage], record: type[R], folder: str, plans: list[dict]
) -> Iterator[tuple[SettingsMessage, R, ConfigurationTarget]]:
    """Each message whose record was read as a `record`, with its target in `folder`; the others are planned
    as skipped (unreadable, with the reason) in `plans`."""
    for message in messages:
        target = ConfigurationTarget(folder, message.subject)
        if isinstance(message.record, record):
            yield message, message.record, target
        else:
            plans.append(_plan(message.kind, target, SettingAction.SKIP, f"unreadable: {message.problem}"))


def restore_autocomplete(message: SettingsMessage, given: Restored) -> dict:
    configurations = getattr(given.mailbox, "configurations", None)
    store = configurations() if configurations is not None else None
    if store is None or not hasattr(store, "write_binary"):
        return _plan(message.kind, AUTOCOMPLETE_TARGET, SettingAction.SKIP, "this destination cannot write it yet")
    decided = plan_autocomplete(message, store.read(AUTOCOMPLETE_TARGET), given.lookup)
    if decided.data is not None:
        store.write_binary(
            AUTOCOMPLETE_TARGET, decided.data, decided.stamp, create=decided.plan.action is SettingAction.CREATE
        )
    return decided.plan.as_dict()


def restore_search_folders(messages: list[SettingsMessage], given: Restored) -> list[dict]:
    plans: list[dict] = []
    factory = getattr(given.mailbox, "search_folders", None)
    paths = {f.node_id: "/".join(f.path) for f in given.folders}
    below = _below(given.folders, given.rebuilt)
    store, existing = None, None
    for message, definition, target in _readable(messages, SearchFolderDefinition, "searchfolders", plans):
        mapped = criteria(definition, given.folder_by_entry_id, given.property_name, below)
        if isinstance(mapped, Unmapped):
            plans.append(_plan(message.kind, target, SettingAction.SKIP, mapped.reason))
            continue
        if factory is None:
            plans.append(_plan(message.kind, target, SettingAction.SKIP, "this destination cannot write it yet"))
            continue
        if store is None:
            store = factory()
            existing = store.names()
        assert existing is not None
        searched = [paths.get(n, str(n)) or "(top of the mailbox)" for n in mapped.folders]
        if definition.name.casefold() in existing:
            plans.append(
                _plan(
                    message.kind,
                    target,
                    SettingAction.KEEP,
                    f"search folder {definition.name!r} is on the server already (restored earlier, or the user's "
                    "own): not touched",
                )
            )
            continue
        assert isinstance(mapped, SearchFolderCriteria)
        existing[definition.name.casefold()] = store.create(mapped, [given.rebuilt[n] for n in mapped.folders])
        reason = f"search folder {definition.name!r} over {len(searched)} rebuilt folder(s)"
        plans.append(_created(message.kind, target, definition.name, reason, folders=searched))
    return plans


def restore_junk(message: SettingsMessage, given: Restored) -> dict:
    rule = message.record
    target = ConfigurationTarget("inbox", "JunkEmailRule")
    if not isinstance(rule, JunkEmailRule):
        return _plan(message.kind, target, SettingAction.SKIP, f"unreadable: {message.problem}")
    lists: JunkLists = junk_lists(given.address, rule)
    counts = {"trusted": len(lists.trusted), "blocked": len(lists.blocked)}
    if lists.empty:
        return _plan(
            message.kind, target, SettingAction.SKIP, "the junk e-mail lists are empty: nothing to restore", **counts
        )
    where = given.write_script(JUNK_SCRIPT, powershell([lists]).encode("utf-8-sig")) if given.write_script else None
    reason = "EWS writes no junk e-mail list: run " + (where or JUNK_SCRIPT) + " in the Exchange Management Shell"
    return _plan(message.kind, target, SettingAction.SKIP, reason, script=where, **counts)


def restore_shortcuts(messages: list[SettingsMessage], given: Restored) -> list[dict]:
    """A link to a folder that was rebuilt is written again, pointing at the new folder (a link to that folder
    already in Common Views, ours from an earlier run or the user's own, is kept); the others are listed."""
    plans: list[dict] = []
    factory = getattr(given.mailbox, "shortcuts", None)
    store, linked = None, None
    for message, shortcut, target in _readable(messages, NavigationShortcut, "commonviews", plans):
        node = given.folder_by_entry_id(shortcut.folder_entry_id) if shortcut.folder_entry_id else None
        if shortcut.kind == "group_header":
            why = "a group of Outlook's navigation pane: Outlook makes its default groups itself"
        elif shortcut.kind == "search_folder":
            why = "it opens a search folder (restored as a search folder where its definition maps), not a folder"
        elif shortcut.kind != "folder" or node is None or node not in given.rebuilt:
            why = f"the {shortcut.kind.replace('_', ' ')} it opens was not rebuilt"
        elif factory is None:
            why = "this destination cannot write it yet"
        else:
            why = ""
        if why:
            plans.append(_plan(message.kind, target, SettingAction.SKIP, why))
            continue
        assert node is not None and factory is not None
        if store is None:
            store = factory()
            linked = store.linked()
        assert linked is not None
        entry_id, store_entry_id = store.entry_ids(given.rebuilt[node])
        if not entry_id or not store_entry_id:
            plans.append(
                _plan(message.kind, target, SettingAction.SKIP, "the server did not give the folder's entry ids")
            )
            continue
        if entry_id in linked:
            reason = "a shortcut to that folder is there already (restored earlier, or the user's own): kept"
            plans.append(_plan(message.kind, target, SettingAction.KEEP, reason))
            continue
        store.create(shortcut.name, link_properties(shortcut, entry_id, store_entry_id))
        linked.add(entry_id)
        plans.append(_created(message.kind, target, shortcut.name, f"shortcut {shortcut.name!r} to the rebuilt folder"))
    return plans


def restore_option(message: SettingsMessage, given: Restored) -> dict:
    """One of the other configuration objects, in the folder it sat in (by that folder's role): created where
    the mailbox has none of its name if options.py restores it, else listed with the reason."""
    name = message.configuration_name or ""
    folder = next((f.role.value for f in given.folders if tuple(f.path) == tuple(message.folder_path)), None)
    if not decision(name)[0]:
        return left_plan(message, folder).as_dict()
    unwritable = not_writable(message, folder)
    if unwritable is not None:
        return unwritable.as_dict()
    target = ConfigurationTarget(folder or "", name)
    configurations = getattr(given.mailbox, "configurations", None)
    store = configurations() if configurations is not None else None
    if store is None or not hasattr(store, "create_parts"):
        return _plan(message.kind, target, SettingAction.SKIP, "this destination cannot write it yet")
    option = plan_option(message, folder, store.read(target))
    if option.plan.action is SettingAction.CREATE:
        store.create_parts(target, option.dictionary, option.xml, option.binary)
    return option.plan.as_dict()


def _as_list(
    step: Callable[[SettingsMessage, Restored], dict], message: SettingsMessage, given: Restored
) -> list[dict]:
    return [step(message, given)]


def restore(messages: Iterable[SettingsMessage], selected: tuple[SettingKind, ...], given: Restored) -> list[dict]:
    """Every selected setting of these kinds, in KINDS' order: the report's entries (SettingPlan.as_dict)."""
    chosen = [m for m in messages if m.kind in selected and m.kind in KINDS]
    plans: list[dict] = []

    def guarded(kind: SettingKind, step: Callable[[], list[dict]]) -> None:
        try:
            plans.extend(step())
        except given.fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - one setting refused: reported as failed, the mailbox goes on
            plans.append({"setting": kind.value, "action": "failed", "reason": f"{type(exc).__name__}: {exc}"})

    autocomplete = [m for m in chosen if m.kind is SettingKind.AUTOCOMPLETE]
    if autocomplete:
        guarded(SettingKind.AUTOCOMPLETE, lambda: [restore_autocomplete(autocomplete[0], given)])
    searches = [m for m in chosen if m.kind is SettingKind.SEARCH_FOLDER]
    if searches:
        guarded(SettingKind.SEARCH_FOLDER, lambda: restore_search_folders(searches, given))
    for message in chosen:
        if message.kind is SettingKind.JUNK_RULE:
            guarded(message.kind, partial(_as_list, restore_junk, message, given))
    shortcuts = [m for m in chosen if m.kind is SettingKind.SHORTCUT]
    if shortcuts:
        guarded(SettingKind.SHORTCUT, lambda: restore_shortcuts(shortcuts, given))
    for message in chosen:  # the other configuration objects (CategoryList, WorkHours: run.py's own loop)
        if message.kind is SettingKind.CONFIGURATION and not elsewhere(message.configuration_name or ""):
            guarded(message.kind, partial(_as_list, restore_option, message, given))
    return plans


__all__ = ["KINDS", "Restored", "restore"]
