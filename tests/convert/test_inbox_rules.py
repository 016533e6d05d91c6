"""Rules read as inbox rules and the restore's decisions (pure): streams built byte by byte here from
[MS-OXORULE] and [MS-OXCDATA] (the restriction and action layouts), Outlook's rules stream from the public
description of its layout, and the sample's own rules stream; what no inbox rule can hold is text, never lost."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pipeline.convert.user_settings.inbox_rules import InboxRule, RuleActions, RulePredicates, interpret
from pipeline.convert.user_settings.rule_plan import RuleDecision, plan_rules
from pipeline.convert.user_settings.rules import read_extended_rule, read_rules_stream

SUBJECT, BODY, TO_ME, DISPLAY_TO = 0x0037001F, 0x1000001F, 0x0057000B, 0x0E04001F
SUBSTRING_IGNORECASE, FULLSTRING = 0x00010001, 0x00000000


def text(value: str) -> bytes:
    return (value + "\0").encode("utf-16-le")


def content(tag: int, word: str, fuzzy: int = SUBSTRING_IGNORECASE) -> bytes:
    return bytes([0x03]) + struct.pack("<III", fuzzy, tag, tag) + text(word)


def both(*parts: bytes) -> bytes:
    return bytes([0x00]) + struct.pack("<I", len(parts)) + b"".join(parts)


def either(*parts: bytes) -> bytes:
    return bytes([0x01]) + struct.pack("<I", len(parts)) + b"".join(parts)


def negate(part: bytes) -> bytes:
    return bytes([0x02]) + part


def flag(tag: int, value: bool) -> bytes:
    return bytes([0x04, 0x04]) + struct.pack("<II", tag, tag) + bytes([value])


def action(kind: int, data: bytes = b"", flavor: int = 0) -> bytes:
    block = bytes([kind]) + struct.pack("<II", flavor, 0) + data
    return struct.pack("<I", len(block)) + block


def rule(condition: bytes, *actions: bytes, name: str = "R", state: int = 1, sequence: int = 10) -> InboxRule:
    return interpret(
        read_extended_rule(
            {
                0x65EC: name,
                0x65E9: state,
                0x65F3: sequence,
                0x0E9A: struct.pack("<H", 0) + condition,
                0x0E99: struct.pack("<HII", 0, 1, len(actions)) + b"".join(actions),
            }
        )
    )


MARK_READ = action(11)


def test_conditions_exceptions_and_or_groups():
    found = rule(
        both(
            either(content(SUBJECT, "a"), content(SUBJECT, "b")),
            flag(TO_ME, True),
            negate(either(content(BODY, "x"), content(SUBJECT, "y"))),
        ),
        MARK_READ,
        state=0x11,
    )
    assert found.conditions == RulePredicates(contains_subject_strings=("a", "b"), sent_to_me=True)
    assert found.exceptions == RulePredicates(contains_body_strings=("x",), contains_subject_strings=("y",))
    assert found.actions == RuleActions(mark_as_read=True, stop_processing_rules=True)
    assert found.restorable and found.enabled


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        (content(SUBJECT, "exact", FULLSTRING), "subject is 'exact'"),  # an inbox rule only tests "contains"
        (both(content(SUBJECT, "a"), content(SUBJECT, "b")), "contains subject strings twice"),  # both must hold
        (negate(both(content(SUBJECT, "a"), content(BODY, "b"))), "except if (subject contains 'a' and body"),
        (bytes([0x08]) + struct.pack("<I", 0x8002101F), "property 0x8002101F is set"),
    ],
)
def test_a_condition_no_inbox_rule_tests_keeps_the_rule_out_with_its_text(condition: bytes, words: str):
    found = rule(condition, MARK_READ, name="Kept out")
    assert not found.restorable
    assert any(words in part for part in found.unexpressed_conditions), found.unexpressed_conditions
    [decided] = plan_rules([found], None, {}, lambda r: r, {})
    assert decided.decision is RuleDecision.SKIP and words in decided.as_dict()["reason"]
    assert "'Kept out'" in decided.as_dict()["reason"]


def test_actions_an_inbox_rule_cannot_do_are_listed_and_the_rest_restored():
    server_folder = b"\0" * 4 + b"\x11" * 16 + b"\x01\x00" + b"\x22" * 16 + b"\x33" * 6 + b"\0\0"  # 46 bytes
    move = struct.pack("<I", 4) + b"\0" * 4 + struct.pack("<I", len(server_folder)) + server_folder
    ex_recipient = (
        struct.pack("<I", 1)
        + b"\x01"
        + struct.pack("<I", 2)
        + struct.pack("<I", 0x3002001F)
        + text("EX")
        + struct.pack("<I", 0x3003001F)
        + text("/o=Org/cn=Recipients/cn=bob")
    )
    found = rule(flag(TO_ME, True), MARK_READ, action(1, move), action(7, ex_recipient), action(6, b"\0" * 4))
    assert found.actions == RuleActions(mark_as_read=True, move_to_folder=server_folder)
    assert len(found.unexpressed_actions) == 2
    assert "without an SMTP address" in found.unexpressed_actions[0]
    assert found.unexpressed_actions[1] == "bounce with a non-delivery report"
    [decided] = plan_rules([found], None, {}, lambda r: r, {server_folder: "the rebuilt Junk E-mail"})
    assert decided.decision is RuleDecision.CREATE and decided.left_out == found.unexpressed_actions


def test_decisions_same_changed_new_missing_folder_and_names_shared():
    local_folder = b"\0" * 4 + b"\x11" * 16 + struct.pack("<I", 0x8062)
    move = action(1, struct.pack("<I", 4) + b"\0" * 4 + struct.pack("<I", 24) + local_folder)
    same = rule(flag(TO_ME, True), MARK_READ, name="Same", sequence=1)
    changed = rule(flag(TO_ME, True), MARK_READ, name="Changed", sequence=2)
    twin_a = rule(content(SUBJECT, "a"), MARK_READ, name="Twin", sequence=3)
    twin_b = rule(content(SUBJECT, "b"), MARK_READ, name="twin", sequence=4)  # the same name, as Outlook allows
    moving = rule(flag(TO_ME, True), move, name="Moving", sequence=5)

    def what(r: InboxRule) -> object:
        return (r.conditions, r.actions)

    server = {"same": [what(same)], "changed": [("the user's own",)], "twin": [what(twin_b)]}
    decided = plan_rules([moving, twin_b, changed, same, twin_a], None, server, what, {})
    assert [(d.name, d.decision) for d in decided] == [  # in the rules' order (sequence)
        ("Same", RuleDecision.KEEP),
        ("Changed", RuleDecision.KEEP),
        ("Twin", RuleDecision.CREATE),
        ("twin", RuleDecision.KEEP),
        ("Moving", RuleDecision.SKIP),
    ]
    assert decided[0].reason == "already restored" and "not overwritten" in decided[1].reason
    assert "not one this file holds, or was not rebuilt" in decided[4].reason
    assert moving.actions.move_to_folder == local_folder  # the entry id, for the run to find its folder
    again = plan_rules([moving], None, {}, what, {local_folder: "server id"}, {local_folder: "Inbox/Receipts"})
    assert again[0].decision is RuleDecision.CREATE and "move to folder 'Inbox/Receipts'" in again[0].text


def outlook_stream(names: list[str], cut: int = 0) -> bytes:
    """Outlook's rules stream as the public description lays it out (eleven words, a count, the rules)."""
    out = struct.pack("<11I", 0x124F80, 0x124F80, 0, 0, 0, 1, 0, 0, 1, 1, 0) + struct.pack("<H", len(names))
    for number, name in enumerate(names):
        body = struct.pack("<HH", 2, 0x8001) + b"\x64\x00\x00\x00" * 3
        out += b"\x80\x4f\x12\x06" + bytes([len(name)]) + name.encode("utf-16-le") + struct.pack("<I", number % 2)
        out += struct.pack("<4I", 0, 1, 0, 1) + struct.pack("<I", len(body)) + body
    out += struct.pack("<II", 0, 2) + b"\0" * 8 + struct.pack("<I", 0)
    return out[: len(out) - cut] if cut else out


def test_outlooks_rules_stream_names_its_rules_and_lists_the_client_only_ones():
    stream = read_rules_stream(outlook_stream(["Sort", "Play a sound", "Sort"]))
    assert [(r.name, r.enabled) for r in stream.rules] == [("Sort", False), ("Play a sound", True), ("Sort", False)]
    assert stream.problem is None
    held = rule(flag(TO_ME, True), MARK_READ, name="sort")
    decided = plan_rules([held], stream, {}, lambda r: r, {})
    assert [(d.name, d.decision) for d in decided] == [
        ("sort", RuleDecision.CREATE),
        ("Play a sound", RuleDecision.SKIP),
        ("Sort", RuleDecision.SKIP),  # a second "Sort" no extended rule message holds
    ]
    assert "only in Outlook's rules stream" in decided[1].reason


def test_a_cut_rules_stream_keeps_the_rules_before_the_cut():
    whole = outlook_stream(["One", "Two"])
    cut = whole[: whole.index("Two".encode("utf-16-le")) + 2]
    stream = read_rules_stream(cut)
    assert [r.name for r in stream.rules] == ["One"] and stream.problem and stream.raw == cut


@pytest.mark.samples
def test_the_samples_rules_stream_holds_no_rule(samples: Path):
    from tests.source.libpff_fai import associated_contents

    found = associated_contents(samples / "SampleOstFile.ost")
    if found is None:
        pytest.skip("libpff's shared library is not on this machine")
    [raw] = [v[0x6802] for entries in found.values() for cls, v in entries if cls == "IPM.RuleOrganizer"]
    stream = read_rules_stream(raw)
    assert (stream.rules, stream.problem, len(raw)) == ((), None, 66)


def test_an_exchange_sender_or_another_programs_rule_is_not_restored():
    search_key = b"EX:/O=ORG/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=BOB\0"
    sender = bytes([0x04, 0x04]) + struct.pack("<II", 0x0C1D0102, 0x0C1D0102) + struct.pack("<I", len(search_key))
    found = rule(sender + search_key, MARK_READ)
    assert not found.restorable and "an Exchange address" in found.unexpressed_conditions[0]
    other = interpret(
        read_extended_rule(
            {
                0x65EC: "Delegates",
                0x65EB: "Schedule+ EMS Interface",
                0x65E9: 1,
                0x0E9A: struct.pack("<H", 0) + flag(TO_ME, True),
                0x0E99: struct.pack("<HII", 0, 1, 1) + MARK_READ,
            }
        )
    )
    assert not other.restorable and "provider 'Schedule+ EMS Interface'" in other.unexpressed_conditions[0]


@pytest.mark.samples
def test_a_real_osts_rule_names_its_folder_by_a_long_term_id_the_run_finds(samples: Path):
    """SampleOstFile.ost's junk e-mail rule moves to a folder by the server's 46-byte long-term entry id; the
    folder's global counter on SourceFolder (PR_LTID) finds it: the file's junk folder, by its name."""
    from pipeline.convert.user_settings import read_setting
    from pipeline.source import open_source
    from pipeline.source.roles import entryid_nid

    with open_source(samples / "SampleOstFile.ost") as source:
        folders = source.folders()
        junk = [
            read_setting(item).record
            for folder in folders
            for item in source.associated(folder)
            if not hasattr(item, "reason") and item.message_class == "IPM.ExtendedRule.Message"
        ]
    [rule] = [r for r in junk if r is not None]
    [move] = [a for a in rule.rule.actions if a.kind == "move"]
    assert len(move.folder_entry_id) == 46
    by_counter = {f.global_counter: f.node_id for f in folders if f.global_counter}
    [target] = [f for f in folders if f.node_id == entryid_nid(move.folder_entry_id, by_counter)]
    assert target.display_name == "Junk E-Mail"  # as this file spells it


def stream_text(value: str) -> bytes:
    return bytes([len(value)]) + value.encode("utf-16-le")


def stream_person(address: str) -> bytes:
    """An XR_PropValArray with a display name and an SMTP address (index of 16 bytes each, then the strings)."""
    name, smtp = text("Someone"), text(address)
    index = struct.pack("<IIII", 0x3001001F, 0, 32, 0) + struct.pack("<IIII", 0x39FE001F, 0, 32 + len(name), 0)
    block = index + name + smtp
    return struct.pack("<III", 0, 2, len(block)) + block


def test_a_stream_rules_elements_read_as_text_until_an_unknown_one():
    from pipeline.convert.user_settings.rules_stream import read_rule_elements

    elements = [
        struct.pack("<IIII", 0x190, 1, 0, 1),  # after the message arrives
        struct.pack("<IIII", 0x64, 1, 0, 1),
        struct.pack("<II", 0xCD, 2)
        + struct.pack("<I", 0)
        + stream_text("invoice")
        + struct.pack("<I", 0)
        + stream_text("bill"),
        struct.pack("<IIII", 0xCB, 1, 0, 1) + stream_person("boss@example.com") + struct.pack("<II", 1, 0),
        struct.pack("<III", 0x12C, 1, 0)
        + struct.pack("<I", 4)
        + b"\x01" * 4
        + struct.pack("<I", 4)
        + b"\x02" * 4
        + stream_text("Receipts")
        + struct.pack("<I", 0),
        struct.pack("<II", 0x148, 0),  # print it: only Outlook can
        struct.pack("<II", 0x142, 0),
    ]
    body = struct.pack("<HH", len(elements), 0x8001) + struct.pack("<H", 0x8001).join(elements)
    said = read_rule_elements(body)
    assert said.problem is None
    assert said.elements == (
        "with 'invoice' or 'bill' in the subject",
        "from 'boss@example.com'",
        "move it to the 'Receipts' folder",
        "print it",
        "stop processing more rules",
    )
    unknown = struct.pack("<HH", 3, 0x8001) + struct.pack("<H", 0x8001).join(
        [elements[2], struct.pack("<II", 0x999, 0), elements[5]]
    )
    cut = read_rule_elements(unknown)
    assert cut.elements == ("with 'invoice' or 'bill' in the subject",) and "0x999" in (cut.problem or "")


def test_an_odd_restriction_is_a_condition_not_restored_never_an_error():
    multi = 0x00171003  # PR_IMPORTANCE as a multi-valued long: no rule writes it, a damaged one may
    odd = bytes([0x04, 0x04]) + struct.pack("<III", multi, multi, 2) + struct.pack("<ii", 1, 2)
    found = rule(odd, MARK_READ)
    assert not found.restorable and found.unexpressed_conditions
