"""Folder-associated (FAI) messages: the views, rules and configuration objects a cached store keeps beside
each folder's items (issue 23's first step: read them). The oracle is what the shared samples are known to
hold (their README and the issue's count), and the documented formats of two configuration objects:
[MS-OXOCFG] CategoryList XML in PidTagRoamingXmlStream (0x7C08) and WorkHours XML."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.model import SourceItem
from pipeline.source import open_source
from pipeline.source.fake import FakeSource, message

PR_ROAMING_XMLSTREAM = 0x7C08

SAMPLE_OST = {
    "Common Views": {"IPM.Microsoft.WunderBar.Link": 5, "IPM.Microsoft.WunderBar.SFInfo": 2},
    "Inbox": {
        "IPM.Configuration.ELC": 1,
        "IPM.ExtendedRule.Message": 1,
        "IPM.Configuration.RssRule": 1,
        "IPM.RuleOrganizer": 1,
        "IPM.Microsoft.MigrationStatus": 1,
        "IPM.MessageManager": 1,
        "IPM.Configuration.ConversationPrefs": 1,
        "IPM.Configuration.TCPrefs": 1,
        "IPM.Configuration.Autocomplete": 1,
    },
    "Calendar": {
        "IPM.Configuration.CategoryList": 1,
        "IPM.Configuration.WorkHours": 1,
        "IPM.Configuration.Calendar": 1,
        "IPM.Configuration.AvailabilityOptions": 1,
    },
    "Contacts": {"IPM.Configuration.ContactPrefs": 1},
}


def associated_by_folder(path: Path) -> tuple[dict[str, Counter], list[SourceItem]]:
    found: dict[str, Counter] = {}
    items: list[SourceItem] = []
    with open_source(path) as source:
        for folder in source.folders():
            for entry in source.associated(folder):
                assert isinstance(entry, SourceItem), entry
                assert entry.associated and entry.folder_path == folder.path
                found.setdefault(folder.display_name, Counter())[entry.message_class] += 1
                items.append(entry)
    return found, items


@pytest.mark.samples
def test_the_sample_ost_holds_its_21_associated_messages(samples: Path):
    found, items = associated_by_folder(samples / "SampleOstFile.ost")
    assert {name: dict(classes) for name, classes in found.items()} == SAMPLE_OST
    [categories] = [i for i in items if i.message_class == "IPM.Configuration.CategoryList"]
    xml = categories.properties[PR_ROAMING_XMLSTREAM]
    assert isinstance(xml, bytes) and xml.count(b"<category ") == 6
    [hours] = [i for i in items if i.message_class == "IPM.Configuration.WorkHours"]
    assert b"Pakistan Standard Time" in hours.properties[PR_ROAMING_XMLSTREAM]


@pytest.mark.samples
def test_the_outlook_pst_holds_its_10(samples: Path):
    found, _ = associated_by_folder(samples / "Outlook.pst")
    assert sum(sum(c.values()) for c in found.values()) == 10
    assert found["Calendar"]["IPM.Configuration.WorkHours"] == 1


def test_the_fake_source_offers_them_beside_the_items():
    source = FakeSource(
        {"Inbox": [message("hello")]},
        associated={"Inbox": [message("", PR_MESSAGE_CLASS="IPM.Configuration.Autocomplete")]},
    )
    [inbox] = [f for f in source.folders() if f.path == ("Inbox",)]
    [fai] = list(source.associated(inbox))
    assert isinstance(fai, SourceItem) and fai.associated and fai.message_class == "IPM.Configuration.Autocomplete"
    assert [i.subject for i in source.items(inbox) if isinstance(i, SourceItem)] == ["hello"]
