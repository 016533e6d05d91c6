"""Every kind of setting written by the fixture writer from fixtures/specs/settings.toml, read back by the
native reader and compared with the spec itself (the oracle), in PST, OST, 4 KiB OST and ANSI files; libpff's
C API reads the same associated contents (counts, classes, stream bytes). A malformed stream is reported on
the message, never raised."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest

import fixtures
from fixtures.spec import load_spec
from pipeline.convert.user_settings import SettingKind, SettingsMessage, read_setting
from pipeline.model import SourceItem
from pipeline.source import open_source
from tests.source.libpff_fai import associated_contents

SPEC = load_spec("settings")
SPEC_SETTINGS = [s for f in SPEC.folders for s in f.associated] + list(SPEC.common_views)
BLOCKED_TAG = 0x0C1F001F


def read_all(path: Path) -> list[SettingsMessage]:
    with open_source(path) as source:
        return [read_setting(item) for folder in source.folders() for item in source.associated(folder)]


@pytest.fixture(scope="module", params=["pst", "ost", "ost4k", "ansi"])
def built(request):
    path, manifest = fixtures.cached_build("settings", request.param, "permute")
    return path, manifest, read_all(path)


def of(found: list[SettingsMessage], kind: SettingKind) -> list[SettingsMessage]:
    return [m for m in found if m.kind is kind]


def spec_of(kind: str):
    return [s for s in SPEC_SETTINGS if s.kind == kind]


def folder_nid(manifest, path: str) -> int:
    [entry] = [f for f in manifest.folders if f.path == f"{manifest.ipm_subtree}/{path}"]
    return entry.nid


def nid_of(entry_id: bytes) -> int:
    return struct.unpack_from("<I", entry_id, len(entry_id) - 4)[0]


def test_every_setting_is_read_without_a_problem(built):
    _, _, found = built
    assert [m.problem for m in found if m.problem] == []
    assert len(found) == len(SPEC_SETTINGS)


def test_categories_work_hours_and_dictionaries_match_the_spec(built):
    _, _, found = built
    [categories] = of(found, SettingKind.CATEGORY_LIST)
    [spec] = spec_of("category_list")
    assert [(c.name, c.color, c.keyboard_shortcut) for c in categories.record.categories] == [
        (c.name, c.color, c.shortcut) for c in spec.categories
    ]
    [hours] = of(found, SettingKind.WORK_HOURS)
    [spec] = spec_of("work_hours")
    record = hours.record
    assert (record.start, record.end, list(record.work_days), record.time_zone_name, record.bias_minutes) == (
        spec.start,
        spec.end,
        spec.days,
        spec.time_zone,
        spec.bias,
    )
    dictionaries = {m.configuration_name: m.dictionary.as_dict() for m in found if m.dictionary is not None}
    assert dictionaries == {s.name: s.entries for s in spec_of("dictionary")}


def test_the_autocomplete_entries_and_their_x500_addresses(built):
    _, _, found = built
    [autocomplete] = of(found, SettingKind.AUTOCOMPLETE)
    [spec] = spec_of("autocomplete")
    entries = autocomplete.record.entries
    assert [(e.display_name, e.email_address) for e in entries] == [(a.name, a.email) for a in spec.addresses]
    assert [e.legacy_dn for e in entries] == [a.email if a.email.startswith("/") else None for a in spec.addresses]
    assert [e.smtp_address for e in entries] == [
        a.smtp or (None if a.email.startswith("/") else a.email) for a in spec.addresses
    ]


def test_the_junk_rules_three_lists(built):
    _, _, found = built
    [junk] = of(found, SettingKind.JUNK_RULE)
    [spec] = spec_of("junk_rule")
    record = junk.record
    assert list(record.safe_senders) == spec.safe_senders
    assert list(record.safe_recipients) == spec.safe_recipients
    assert list(record.blocked_senders) == spec.blocked_senders
    assert record.include_contacts is True and record.rule.enabled


def _values(restriction, negated: bool) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for node, inside_not, _ in restriction.walk():
        if node.kind == "content" and inside_not == negated:
            found.setdefault(node.tag, set()).add(node.value)
    return found


def test_rules_of_several_kinds_with_conditions_exceptions_and_actions(built):
    _, manifest, found = built
    rules = {m.record.name: m.record for m in of(found, SettingKind.EXTENDED_RULE)}
    specs = {s.rule.name: s.rule for s in spec_of("rule")}
    assert set(rules) == set(specs)
    for name, spec in specs.items():
        rule = rules[name]
        assert (rule.sequence, rule.enabled) == (spec.sequence, spec.enabled), name
        wanted = Counter()
        wanted.update(["move"] if spec.move_to else [])
        wanted.update(["copy"] if spec.copy_to else [])
        wanted.update(["mark_as_read"] if spec.mark_read else [])
        wanted.update(["delete"] if spec.delete else [])
        wanted.update(["tag"] if spec.importance else [])
        assert Counter(a.kind for a in rule.actions) == wanted, name
        for action in rule.actions:
            if action.kind in ("move", "copy"):
                target = spec.move_to if action.kind == "move" else spec.copy_to
                assert nid_of(action.folder_entry_id) == folder_nid(manifest, target), name
        conditions = _values(rule.condition, negated=False)
        assert conditions.get(BLOCKED_TAG, set()) == set(spec.conditions.sender), name
        assert conditions.get(0x0037001F, set()) == set(spec.conditions.subject), name
        assert conditions.get(0x3003001F, set()) == set(spec.conditions.sent_to), name
        exceptions = _values(rule.condition, negated=True)
        assert exceptions.get(0x0037001F, set()) == set(spec.exceptions.subject if spec.exceptions else []), name
        kinds = {node.kind for node, _, _ in rule.condition.walk()}
        assert ("bitmask" in kinds) == spec.conditions.has_attachment, name


def test_search_folders_and_shortcuts_point_at_the_folders(built):
    _, manifest, found = built
    searches = {m.record.name: m.record for m in of(found, SettingKind.SEARCH_FOLDER)}
    for spec in spec_of("search_folder"):
        record = searches[spec.name]
        assert (record.template_id, record.text_search) == (spec.template_id, spec.text)
        assert [nid_of(e) for e in record.folder_entry_ids] == [folder_nid(manifest, p) for p in spec.folders]
        assert record.restriction_problem is None and record.restriction.kind == "and"
        nodes = {(n.kind, n.tag, n.value) for n, _, _ in record.restriction.walk() if n.kind != "and"}
        wanted = {("bitmask", 0x0E070003, 1)} if spec.template_id == 1 else set()
        wanted |= {("content", 0x0037001F, spec.text)} if spec.text else set()
        assert nodes == wanted, spec.name
    [shortcut] = of(found, SettingKind.SHORTCUT)
    [spec] = spec_of("shortcut")
    assert shortcut.record.name == spec.name
    assert nid_of(shortcut.record.folder_entry_id) == folder_nid(manifest, spec.folders[0])
    [stream] = of(found, SettingKind.RULES_STREAM)
    assert stream.record.raw == bytes.fromhex(spec_of("rules_stream")[0].data)


def test_libpff_reads_the_same_associated_contents(built):
    path, _, found = built
    by_libpff = associated_contents(path)
    if by_libpff is None:
        pytest.skip("libpff's shared library is not on this machine")
    assert Counter(cls for entries in by_libpff.values() for cls, _ in entries) == Counter(
        m.message_class for m in found
    )
    assert Counter(d for entries in by_libpff.values() for _, values in entries for d in values.values()) == Counter(
        d for m in found for d in m.raw.values()
    )


@pytest.mark.parametrize(
    ("message_class", "prop_id", "data"),
    [
        ("IPM.Configuration.Autocomplete", 0x7C09, b"\x0d\xf0\xad\xba\x0c\0\0\0\0\0\0\0\xff\xff\xff\x00"),
        ("IPM.Configuration.Autocomplete", 0x7C09, b"\x0d\xf0\xad\xba\x0c\0\0\0\0\0\0\0\x01\0\0\0\x05\0\0\0"),
        ("IPM.Configuration.CategoryList", 0x7C08, b"<categories><category name='x'"),
        ("IPM.Configuration.WorkHours", 0x7C08, b""),
        ("IPM.Microsoft.WunderBar.SFInfo", 0x6845, b"\x04\x10\0\0\x48\0\0\0"),
        ("IPM.ExtendedRule.Message", 0x0E9A, b"\0\0\x00\xff\xff\xff\x7f"),
        ("IPM.ExtendedRule.Message", 0x0E9A, b"\0\0" + b"\x02" * 200),
        (
            "IPM.Configuration.Calendar",
            0x7C07,
            b"<UserConfiguration><Data><e k='piX' v='3-True'/></Data></UserConfiguration>",
        ),
    ],
)
def test_a_malformed_stream_is_reported_on_the_message_never_raised(message_class, prop_id, data):
    item = SourceItem(7, ("Inbox",), message_class, {0x001A: message_class, prop_id: data}, {}, [], [], associated=True)
    message = read_setting(item)
    assert message.problem is not None
    assert message.record is None and message.dictionary is None
    assert message.raw[prop_id] == data  # the original bytes are kept for the report
    assert str(message.problem)  # one line naming the stream and the byte
