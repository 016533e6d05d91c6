"""Inbox rules restored over EWS (issue 23): the CLI as a process against a sandbox over HTTP, the fixture
written from fixtures/specs/rules.toml. Plain exchangelib (`account.rules`) reads the rules back here and each
is compared with the spec through a mapping written in this test (spec field -> EWS field); folder targets are
compared with the rebuilt folders' ids, found with plain exchangelib. A rule whose answer was lost is not made
twice; a rerun changes nothing (every rule's properties compared); a rule the user changed on the new server is
left as the user made it; a mailbox with Outlook's rules blob gets no rule (the blob is kept) and the report
says why; rules past the mailbox's rules quota are reported failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fixtures
from fixtures.spec import ConditionSpec, RuleSpec, load_spec
from pipeline.sandbox import mailbox_settings
from pipeline.sandbox.limits import Limits
from pipeline.sandbox.store import SandboxStore
from tests.conftest import own_sandbox
from tests.e2e.conftest import ews_run
from tests.e2e.connection import ews_account

SERVICE, PASSWORD = "svc-rules", "S3cret-for-rules"
ALICE, BOB = "alice@rules.example", "bob@rules.example"
SPEC = load_spec("rules")
RULES = [s.rule for f in SPEC.folders for s in f.associated if s.kind == "rule"]
STREAM_ONLY = {"Print invoices on this computer"}  # named only by Outlook's rules stream
#: Not restored: a condition no inbox rule tests (categories, a form, Out of Office), or no action it can do.
NOT_RESTORED = {"Categorized mail", "Forms", "While away", "Only a reply"} | STREAM_ONLY
SENSITIVITY = {"normal": "Normal", "personal": "Personal", "private": "Private", "confidential": "Confidential"}


def expected_predicates(spec: ConditionSpec | None) -> dict[str, object]:
    """The EWS RulePredicates a spec's conditions mean (the oracle: written from EWS's reference here)."""
    if spec is None:
        return {}
    found: dict[str, object] = {
        "contains_sender_strings": spec.sender,
        "contains_subject_strings": spec.subject,
        "contains_recipient_strings": spec.sent_to,
        "contains_body_strings": spec.body,
        "contains_subject_or_body_strings": spec.subject_or_body,
        "contains_header_strings": spec.header,
        "from_addresses": spec.from_addresses,
        "sent_to_addresses": spec.to_addresses,
        "has_attachments": spec.has_attachment,
        "importance": spec.importance and spec.importance.title(),
        "sensitivity": spec.sensitivity and SENSITIVITY[spec.sensitivity],
        "sent_to_me": spec.sent_to_me,
        "not_sent_to_me": spec.not_sent_to_me,
        "sent_cc_me": spec.sent_cc_me,
        "sent_only_to_me": spec.sent_only_to_me,
        "sent_to_or_cc_me": spec.sent_to_or_cc_me,
        "is_automatic_reply": spec.automatic_reply,
        "is_meeting_request": spec.meeting_request,
    }
    if spec.min_size_kb is not None or spec.max_size_kb is not None:
        found["within_size_range"] = (spec.min_size_kb, spec.max_size_kb)
    if spec.received_after is not None or spec.received_before is not None:
        found["within_date_range"] = tuple(
            d.strftime("%Y-%m-%dT%H:%M:%S") for d in (spec.received_after, spec.received_before)
        )
    return {k: v for k, v in found.items() if not empty(v)}


def expected_actions(rule: RuleSpec, folder_ids: dict[str, str]) -> dict[str, object]:
    found: dict[str, object] = {
        "move_to_folder": rule.move_to and folder_ids[rule.move_to],
        "copy_to_folder": rule.copy_to and folder_ids[rule.copy_to],
        "mark_as_read": rule.mark_read,
        "permanent_delete": rule.delete,
        "mark_importance": rule.importance and rule.importance.title(),
        "forward_to_recipients": rule.forward_to,
        "forward_as_attachment_to_recipients": rule.forward_as_attachment_to,
        "redirect_to_recipients": rule.redirect_to,
        "stop_processing_rules": rule.stop,
    }
    return {k: v for k, v in found.items() if not empty(v)}


def _value(value: object) -> object:
    if isinstance(value, list):
        return sorted(_value(v) for v in value)
    if hasattr(value, "email_address"):
        return value.email_address.lower()
    if hasattr(value, "folder_id"):
        return value.folder_id.id
    if hasattr(value, "minimum_size"):
        return (value.minimum_size, value.maximum_size)
    if hasattr(value, "start_date_time"):
        return tuple(d.strftime("%Y-%m-%dT%H:%M:%S") for d in (value.start_date_time, value.end_date_time))
    return value


def on_server(element) -> dict[str, object]:
    """An exchangelib Conditions/Exceptions/Actions as {field: plain value}, the fields it has."""
    if element is None:
        return {}
    found = {f.name: getattr(element, f.name) for f in element.FIELDS}
    return {k: _value(v) for k, v in found.items() if not empty(v)}


def empty(value: object) -> bool:
    return value is None or value is False or (isinstance(value, list | tuple | str) and not value)


def plain(value: object) -> object:
    return sorted(x.lower() for x in value) if isinstance(value, list) else value


def snapshot(rules) -> list[tuple]:
    """Every property of every rule, for the rerun's comparison."""
    return sorted(
        (
            r.id,
            r.display_name,
            r.priority,
            r.is_enabled,
            *(sorted(on_server(e).items()) for e in (r.conditions, r.exceptions, r.actions)),
        )
        for r in rules
    )


def account(handle, address: str):
    return ews_account(handle, address, username=SERVICE, password=PASSWORD)


def rebuild(handle, state: Path, ost: Path, mailbox: str):
    return ews_run(handle, state, ost, mailbox, "--settings", "rules", username=SERVICE, password=PASSWORD)


def rule_lines(result) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["settings"] if s["setting"] == "rule"}


@pytest.fixture
def sandbox(tmp_path: Path):
    with own_sandbox(tmp_path / "sandbox-data", {SERVICE: (PASSWORD, True)}, [ALICE, BOB], in_process=True) as running:
        yield running


def test_rules_restored_as_the_spec_says_left_alone_on_rerun(sandbox, tmp_path: Path):
    ost, _ = fixtures.cached_build("rules", "ost", "permute")
    handle, _ = sandbox
    # The first UpdateInboxRules is stored and its answer dropped: the run sends it again only after looking
    # for the rule it may have made, so each rule is on the server once (checked below, duplicates counted).
    handle.set_faults({"rules": [{"kind": "commit_then_drop", "operations": ["UpdateInboxRules"], "count": 1}]})
    first = rule_lines(rebuild(handle, tmp_path / "state", ost, ALICE))
    names = {r.name for r in RULES} | STREAM_ONLY
    assert set(first) == names  # every rule of the file is in the report, none dropped
    assert {n for n, s in first.items() if s["action"] == "not restored"} == NOT_RESTORED
    for name in NOT_RESTORED:  # one line each, with the rule's text
        assert name in first[name]["reason"], first[name]
    assert "reply with a template" in first["Reply and play a sound"]["reason"]
    assert len(first["Reply and play a sound"]["left_out"]) == 2

    alice = account(handle, ALICE)
    folder_ids = {f"Inbox/{name}": (alice.inbox / name).id for name in ("Receipts", "Newsletters", "Big mail")}
    server = {r.display_name: r for r in alice.rules}
    assert sorted(r.display_name for r in alice.rules) == sorted({r.name for r in RULES} - NOT_RESTORED)
    for spec in RULES:
        if spec.name in NOT_RESTORED:
            continue
        rule = server[spec.name]
        assert rule.is_enabled is spec.enabled, spec.name
        got = {k: plain(v) for k, v in on_server(rule.conditions).items()}
        assert got == {k: plain(v) for k, v in expected_predicates(spec.conditions).items()}, spec.name
        got = {k: plain(v) for k, v in on_server(rule.exceptions).items()}
        assert got == {k: plain(v) for k, v in expected_predicates(spec.exceptions).items()}, spec.name
        got = {k: plain(v) for k, v in on_server(rule.actions).items()}
        assert got == {k: plain(v) for k, v in expected_actions(spec, folder_ids).items()}, spec.name
    by_priority = sorted(server.values(), key=lambda r: r.priority)
    assert [r.display_name for r in by_priority] == [
        r.name for r in sorted(RULES, key=lambda r: r.sequence) if r.name not in NOT_RESTORED
    ]

    changed = server["Newsletters"]  # the user's change on the new server
    changed.actions.mark_importance = "High"
    changed.save()
    before = snapshot(alice.rules)
    again = rule_lines(rebuild(handle, tmp_path / "state", ost, ALICE))
    assert snapshot(alice.rules) == before  # property by property: ids, priorities, every field
    assert {s["action"] for n, s in again.items() if n not in NOT_RESTORED} == {"kept"}
    assert "not overwritten" in again["Newsletters"]["reason"]
    assert "already restored" in again["Receipts from shops"]["reason"]


def test_outlooks_blob_kept_and_rules_past_the_quota_reported_failed(tmp_path: Path):
    """One sandbox whose RulesQuota holds a few rules. Bob's mailbox has Outlook's rules blob: no rule is
    written, the blob is kept, the report says why. Alice's: the rules that fit are created in order, the rest
    are failed (exit 1) with the reason and their text; nothing is half written."""
    ost, _ = fixtures.cached_build("rules", "ost", "permute")
    data = tmp_path / "data"
    with own_sandbox(
        data, {SERVICE: (PASSWORD, True)}, [ALICE, BOB], limits=Limits(rules_quota_bytes=3000), in_process=True
    ) as (
        handle,
        _,
    ):
        store = SandboxStore(data)
        try:
            with store.write() as conn:
                mailbox_settings.set_outlook_rule_blob(conn, store.mailbox(BOB).id, b"\x80O\x12\x00users-own")
        finally:
            store.close()
        lines = rule_lines(rebuild(handle, tmp_path / "state-bob", ost, BOB))
        assert account(handle, BOB).rules == []
        assert {s["action"] for s in lines.values()} == {"not restored"}
        assert all("rules blob" in lines[n]["reason"] for n in lines if n not in NOT_RESTORED)
        store = SandboxStore(data)
        try:
            with store.connection() as conn:
                assert mailbox_settings.outlook_rule_blob(conn, store.mailbox(BOB).id) == b"\x80O\x12\x00users-own"
        finally:
            store.close()

        result = rebuild(handle, tmp_path / "state-alice", ost, ALICE)
        assert result.returncode == 1, result.stderr
        lines = {s["name"]: s for s in json.loads(result.stdout)["settings"] if s["setting"] == "rule"}
        created = [n for n, s in lines.items() if s["action"] == "created"]
        failed = [n for n, s in lines.items() if s["action"] == "failed"]
        order = [r.name for r in sorted(RULES, key=lambda r: r.sequence) if r.name not in NOT_RESTORED]
        assert created and failed and created + failed == order  # the first ones fit, the rest do not
        assert all("rules quota" in lines[n]["reason"] and n in lines[n]["reason"] for n in failed)
        assert sorted(r.display_name for r in account(handle, ALICE).rules) == sorted(created)
