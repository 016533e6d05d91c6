"""What the user's settings point at: `Source.folder_by_entry_id` (search folder scopes, rule targets) and
`Source.property_name` (named properties in restrictions), judged by the fixture spec (the folders it names)
and, on the sample OST, by the folder ids the server gave (PR_LTID with the server's replica id)."""

from __future__ import annotations

from pathlib import Path

import pytest

import fixtures
from fixtures.spec import load_spec
from pipeline.convert.user_settings import read_setting
from pipeline.convert.user_settings.records import SettingKind
from pipeline.source import open_source

PS_PUBLIC_STRINGS = "00020329-0000-0000-c000-000000000046"


def path_of(source, entry_id: bytes) -> str | None:
    nid = source.folder_by_entry_id(entry_id)
    return next(f.path_str for f in source.folders() if f.node_id == nid) if nid is not None else None


@pytest.mark.parametrize("variant", ["pst", "ost"])
def test_rule_targets_and_search_scopes_name_the_spec_folders(variant):
    spec = load_spec("settings")
    path, _ = fixtures.cached_build("settings", variant, "permute")
    settings = [s for f in spec.folders for s in f.associated] + list(spec.common_views)
    wanted = {s.rule.name: s.rule.move_to or s.rule.copy_to for s in settings if s.kind == "rule"}
    scopes = {s.name: s.folders for s in settings if s.kind == "search_folder"}
    with open_source(path) as source:
        found_targets, found_scopes = {}, {}
        for folder in source.folders():
            for item in source.associated(folder):
                message = read_setting(item)
                if message.kind is SettingKind.EXTENDED_RULE:
                    targets = [a.folder_entry_id for a in message.record.actions if a.folder_entry_id]
                    found_targets[message.record.name] = path_of(source, targets[0]) if targets else None
                if message.kind is SettingKind.SEARCH_FOLDER:
                    found_scopes[message.record.name] = [path_of(source, e) for e in message.record.folder_entry_ids]
        assert source.folder_by_entry_id(b"\0" * 24) is None
    assert found_targets == wanted
    assert found_scopes == scopes


@pytest.mark.samples
def test_sample_ost_entry_ids_match_server_numbered_folders_only(samples: Path):
    with open_source(samples / "SampleOstFile.ost") as source:
        assert source.property_name(0x8020) == (PS_PUBLIC_STRINGS, "Keywords")
        prefix = bytes.fromhex("00000000975647ad64823b458dacb3f7f1e8d53e01006aa62d7a1b3ac5449d53431fbea29402")

        def named(counter: int):
            nid = source.folder_by_entry_id(prefix + counter.to_bytes(6, "big") + b"\0\0")
            return next(f.role.value for f in source.folders() if f.node_id == nid) if nid is not None else None

        # the Unread Mail definition excludes 0x15, 0x17, 0x1F and 0x51: Drafts and Junk are server-numbered in
        # the OST; 0x11 (its scope) and 0x15/0x17 are not in the file by their counters (Outlook renumbered those
        # folders locally, replica id 0, counters 0x0A-0x12: never matched on them) but are the first folders
        # Exchange numbers the same in every mailbox (roles.SERVER_FIRST_FIDS); 0x12 is no folder
        assert (named(0x1F), named(0x51)) == ("drafts", "junkemail")
        assert [named(c) for c in (0x11, 0x12, 0x15, 0x17)] == ["msgfolderroot", None, "outbox", "deleteditems"]
