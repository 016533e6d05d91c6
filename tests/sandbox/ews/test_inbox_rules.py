"""Inbox rules through plain exchangelib (`Account.rules`, `Rule.save/delete`) and Exchange's validation errors
read with plain HTTP (the RuleOperationErrors exchangelib does not expose). Ledger: inbox-rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from exchangelib import Folder
from exchangelib.errors import ErrorInboxRulesValidationError, ErrorOutlookRuleBlobExists
from exchangelib.properties import Actions, Address, Conditions, Exceptions, Rule

from pipeline.sandbox import mailbox_settings
from tests.sandbox.helpers import ALICE

M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"


@pytest.fixture
def target(alice, unique):
    made = Folder(parent=alice.inbox, name=f"Rules-{unique}", folder_class="IPF.Note")
    made.save()
    yield made
    made.delete()


def _clear(alice) -> None:
    for rule in alice.rules:
        rule.delete()


def test_a_rule_with_conditions_exceptions_and_actions_reads_back(alice, target, unique):
    """Ledger: inbox-rules."""
    _clear(alice)
    rule = Rule(
        account=alice,
        display_name=f"Receipts {unique}",
        priority=1,
        is_enabled=True,
        conditions=Conditions(
            contains_subject_strings=["receipt", "invoice"],
            from_addresses=[Address(email_address="orders@shop.example")],
        ),
        exceptions=Exceptions(contains_subject_strings=["refund"]),
        actions=Actions(move_to_folder=target, mark_as_read=True),
    )
    rule.save()
    [back] = alice.rules
    assert back.id == rule.id and back.display_name == f"Receipts {unique}" and back.is_enabled
    assert back.conditions.contains_subject_strings == ["receipt", "invoice"]
    assert [a.email_address for a in back.conditions.from_addresses] == ["orders@shop.example"]
    assert back.exceptions.contains_subject_strings == ["refund"]
    assert back.actions.mark_as_read is True
    assert back.actions.move_to_folder.folder_id.id == target.id  # answered as the folder's FolderId
    back.display_name = f"Receipts renamed {unique}"
    back.save()
    assert [r.display_name for r in alice.rules] == [f"Receipts renamed {unique}"]
    back.delete()
    assert alice.rules == []


def _update(operations: str, remove_blob: str = "true") -> ET.Element:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>'
        f"<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>{remove_blob}</m:RemoveOutlookRuleBlob>"
        f"<m:Operations>{operations}</m:Operations></m:UpdateInboxRules></s:Body></s:Envelope>"
    )
    return body


def _post(sandbox, body: str) -> ET.Element:
    answer = requests.post(
        sandbox.url, data=body.encode(), auth=ALICE, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
    )
    return ET.fromstring(answer.content).find(f".//{M}UpdateInboxRulesResponse")


def _rule(name: str, actions: str, conditions: str = "") -> str:
    return (
        f"<t:CreateRuleOperation><t:Rule><t:DisplayName>{name}</t:DisplayName><t:Priority>1</t:Priority>"
        f"<t:IsEnabled>true</t:IsEnabled>{conditions}<t:Actions>{actions}</t:Actions></t:Rule>"
        "</t:CreateRuleOperation>"
    )


def test_exchanges_validation_errors_per_operation(sandbox, alice):
    """Ledger: inbox-rules."""
    _clear(alice)
    missing_folder = '<t:MoveToFolder><t:FolderId Id="U0JYRgAAAAEAAAAAAAOGoA=="/></t:MoveToFolder>'
    bad_address = (
        "<t:Conditions><t:FromAddresses><t:Address><t:EmailAddress>not an address</t:EmailAddress>"
        "</t:Address></t:FromAddresses></t:Conditions>"
    )
    sizes = (
        "<t:Conditions><t:WithinSizeRange><t:MinimumSize>10</t:MinimumSize><t:MaximumSize>5</t:MaximumSize>"
        "</t:WithinSizeRange></t:Conditions>"
    )
    body = _update(
        _rule("ok", "<t:MarkAsRead>true</t:MarkAsRead>")
        + _rule("no folder", missing_folder)
        + _rule("bad address", "<t:Delete>true</t:Delete>", bad_address)
        + _rule("sizes", "<t:Delete>true</t:Delete>", sizes)
        + "<t:DeleteRuleOperation><t:RuleId>AAAA</t:RuleId></t:DeleteRuleOperation>"
    )
    response = _post(sandbox, body)
    assert response.get("ResponseClass") == "Error"
    assert response.findtext(f"{M}ResponseCode") == "ErrorInboxRulesValidationError"
    found = {
        int(e.findtext(f"{T}OperationIndex")): [
            (v.findtext(f"{T}FieldURI"), v.findtext(f"{T}ErrorCode")) for v in e.iter(f"{T}Error")
        ]
        for e in response.iter(f"{T}RuleOperationError")
    }
    assert found == {
        1: [("Action:MoveToFolder", "FolderDoesNotExist")],
        2: [("Condition:FromAddresses", "InvalidAddress")],
        3: [("Condition:WithinSizeRange", "InvalidSizeRange")],
        4: [("RuleId", "RuleNotFound")],
    }
    assert alice.rules == []  # all or nothing: the valid first operation was not applied either
    with pytest.raises(ErrorInboxRulesValidationError):  # MissingAction
        _missing_action(alice)


def _missing_action(alice) -> None:
    from exchangelib.services.inbox_rules import CreateInboxRule

    rule = Rule(account=alice, display_name="no action", priority=1, is_enabled=True, actions=Actions())
    CreateInboxRule(account=alice).get(rule=rule, remove_outlook_rule_blob=True)


def test_the_outlook_rules_blob(sandbox, alice, store):
    """Ledger: inbox-rules. Outlook's blob exists: UpdateInboxRules without RemoveOutlookRuleBlob fails and changes nothing;
    with it (exchangelib's default) the blob is gone."""
    _clear(alice)
    mailbox = store.mailbox("alice@sandbox.local")
    with store.write() as conn:
        mailbox_settings.set_outlook_rule_blob(conn, mailbox.id, b"\x80O\x12\x00")
    response = _post(sandbox, _update(_rule("kept out", "<t:MarkAsRead>true</t:MarkAsRead>"), remove_blob="false"))
    assert response.findtext(f"{M}ResponseCode") == "ErrorOutlookRuleBlobExists"
    assert alice.rules == []
    from exchangelib.services.inbox_rules import CreateInboxRule

    rule = Rule(
        account=alice, display_name="with blob", priority=1, is_enabled=True, actions=Actions(mark_as_read=True)
    )
    with pytest.raises(ErrorOutlookRuleBlobExists):
        CreateInboxRule(account=alice).get(rule=rule, remove_outlook_rule_blob=False)
    rule.save()  # RemoveOutlookRuleBlob=true
    with store.connection() as conn:
        assert mailbox_settings.outlook_rule_blob(conn, mailbox.id) is None
    _clear(alice)


def test_two_rules_may_share_a_name(alice, unique):
    """Ledger: inbox-rule-names. Outlook lets two rules share a name and RuleValidationErrorCodeType has no code
    for it: both are kept, each with its own RuleId."""
    _clear(alice)
    for word in ("first", "second"):
        Rule(
            account=alice,
            display_name=f"Same {unique}",
            priority=1 if word == "first" else 2,
            is_enabled=True,
            conditions=Conditions(contains_subject_strings=[word]),
            actions=Actions(mark_as_read=True),
        ).save()
    found = alice.rules
    assert [r.display_name for r in found] == [f"Same {unique}"] * 2
    assert [r.conditions.contains_subject_strings for r in found] == [["first"], ["second"]]
    assert found[0].id != found[1].id
    _clear(alice)


def test_a_date_range_written_as_exchangelib_writes_it_fails_schema_validation(tmp_path):
    """Ledger: inbox-rule-names (schema): exchangelib 5.6 puts a DateRange element inside WithinDateRange, which
    types.xsd does not allow; the request is refused whole and no rule is made. A sandbox of its own (the
    shared one must count no violation)."""
    import datetime as dt

    from exchangelib import EWSDateTime
    from exchangelib.errors import ErrorSchemaValidation
    from exchangelib.properties import WithinDateRange

    from pipeline.sandbox import embedded
    from tests.sandbox.helpers import connect, populate

    populate(tmp_path).close()
    with embedded.start(tmp_path, in_process=True) as handle:
        alice = connect(handle.url, ALICE)
        start = EWSDateTime.from_datetime(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        rule = Rule(
            account=alice,
            display_name="Dated",
            priority=1,
            is_enabled=True,
            conditions=Conditions(
                within_date_range=WithinDateRange(start_date_time=start, end_date_time=start + dt.timedelta(days=1))
            ),
            actions=Actions(mark_as_read=True),
        )
        with pytest.raises(ErrorSchemaValidation):
            rule.save()
        assert alice.rules == []
        assert handle.stats()["schema_violations"] == 1


def test_rules_over_the_mailbox_quota_are_refused_whole(tmp_path):
    """Ledger: inbox-rules-quota. A sandbox of its own with a quota of 2 KiB: rules are created until the next
    would pass it, which is ErrorRulesOverQuota and changes nothing."""
    from exchangelib.errors import ErrorRulesOverQuota

    from pipeline.sandbox import embedded
    from pipeline.sandbox.limits import Limits
    from tests.sandbox.helpers import connect, populate

    populate(tmp_path).close()
    with embedded.start(tmp_path, in_process=True, limits=Limits(rules_quota_bytes=2048)) as handle:
        alice = connect(handle.url, ALICE)
        made = 0
        with pytest.raises(ErrorRulesOverQuota):
            for number in range(50):
                Rule(
                    account=alice,
                    display_name=f"Rule {number}",
                    priority=number + 1,
                    is_enabled=True,
                    conditions=Conditions(contains_subject_strings=[f"word {number}" * 10]),
                    actions=Actions(mark_as_read=True),
                ).save()
                made += 1
        assert 0 < made < 50
        assert [r.display_name for r in alice.rules] == [f"Rule {n}" for n in range(made)]
