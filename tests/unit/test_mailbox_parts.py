"""A mailbox in parts (what the Temporal workflow runs): folders grouped into parts, each part one run of
whole folders, the parts' summaries added back. The oracle is the fixture's manifest (what the builder
wrote) against what the in-memory destination holds, and the same mailbox run in one piece."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import fixtures
from pipeline.destination.fake import FakeDestination
from pipeline.execution.mailbox_parts import merge_rounds, merge_summaries, parts_of
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.source import open_source
from pipeline.state.journal import Journal

MAILBOX = "alice@corp.example"
SPEC = {
    "store": {"name": "Parts", "seed": 9},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [{"kind": "mail", "subject": f"top {i}", "body": "x"} for i in range(3)],
        },
        {"name": "Sent Items", "role": "sentitems"},
    ],
    "bulk": [{"count": 50, "size_min": 300, "size_max": 900, "folders": 4, "seed": 2, "parent": "Inbox"}],
}


def test_parts_hold_whole_folders_in_order_each_once():
    folders = [{"node_id": n, "items": items} for n, items in enumerate([0, 120, 3, 90, 0, 10, 7])]
    assert parts_of(folders, 100) == [[0, 1], [2, 3, 4, 5], [6]]
    assert parts_of(folders, 10_000) == [[0, 1, 2, 3, 4, 5, 6]]
    assert parts_of([], 100) == [[]]


def test_merged_summary_adds_up_and_keeps_the_worst_status():
    first = {
        "mailbox": "m",
        "found": 5,
        "uploaded": 4,
        "present": 1,
        "failed": {"refused": 1},
        "failed_total": 1,
        "skipped": {},
        "warnings": {"w": 2},
        "failures": [{"subject": "a"}],
        "warning_items": [],
        "folders": {"created": 2, "skipped": {"search folder": 1}},
        "status": "failed-items",
        "elapsed": 1.0,
        "attempt": 2,
        "parts": [{"part": 1}],
    }
    then = {
        "mailbox": "m",
        "found": 3,
        "uploaded": 0,
        "present": 3,
        "failed": {},
        "failed_total": 0,
        "skipped": {"before --since": 1},
        "warnings": {"w": 1},
        "failures": [],
        "warning_items": [],
        "folders": {"created": 1, "skipped": {"system folder": 2}},
        "status": "ok",
        "elapsed": 0.5,
        "attempt": 1,
        "parts": [{"part": 2}],
    }
    merged = merge_summaries(merge_summaries(None, first), then)
    assert (merged["found"], merged["uploaded"], merged["present"], merged["failed_total"]) == (8, 4, 4, 1)
    assert merged["warnings"] == {"w": 3} and merged["skipped"] == {"before --since": 1}
    assert merged["folders"] == {"created": 3, "skipped": {"search folder": 1, "system folder": 2}}
    assert merged["status"] == "failed-items" and merged["attempt"] == 2 and merged["elapsed"] == 1.5
    assert [p["part"] for p in merged["parts"]] == [1, 2]


def test_a_mailbox_run_part_by_part_holds_exactly_its_source(tmp_path: Path):
    ost, manifest = fixtures.cached_build(SPEC, "ost", "permute")
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 7}, {})
    with open_source(ost) as source:
        plan = [{"node_id": f.node_id, "items": f.item_count} for f in source.folders()]
    parts = parts_of(plan, 20)
    assert len(parts) >= 3
    fake = FakeDestination()
    merged = None
    with Journal(tmp_path / "journal.sqlite") as journal:
        for index, folders in enumerate(parts):
            options = RunOptions(ost, MAILBOX, folders=tuple(folders), store_part=index == 0)
            summary = MailboxRun(options, settings, fake, journal).run()
            merged = merge_summaries(merged, json.loads(json.dumps(summary.as_dict(), default=str)))
    with Journal(tmp_path / "whole.sqlite") as journal:
        whole = MailboxRun(RunOptions(ost, MAILBOX), settings, FakeDestination(), journal).run()
    # Every item the builder wrote, once, in its folder (the fake server names the inbox by its role).
    held = Counter(
        (path.rsplit("/", 1)[-1], subject)
        for path, subjects in fake.store.listing(MAILBOX).items()
        for subject in subjects
    )
    wanted = Counter((item.folder.rsplit("/", 1)[-1], item.subject) for item in manifest.items)
    assert held == wanted
    # The parts' summaries add up to the one-piece run's.
    assert merged is not None and merged["status"] == "ok"
    for key in ("found", "uploaded", "present", "failed_total"):
        assert merged[key] == dataclasses.asdict(whole).get(key, whole.failed_total), key
    assert merged["skipped"] == dict(whole.skipped)
    assert merged["folders"]["skipped"] == whole.folders["skipped"]


def test_a_usable_first_site_mailbox_is_one_summary_of_its_two_rounds():
    """The second round walked every item again: it found 10, 4 of them the first round's uploads (present
    for it), 1 already there before both; so 8 uploaded, 1 present, its failures and skips only; what was
    written once (warnings, drafts, settings, bytes) adds up; usable_after is the first round's."""
    first = {"found": 6, "uploaded": 4, "present": 1, "bytes_uploaded": 400, "warnings": {"w": 1},
             "drafts": [{"subject": "a"}], "settings": [{"setting": "categories"}], "failed": {"refused": 1},
             "usable_after": 2.5, "elapsed": 3.0, "status": "failed-items"}  # fmt: skip
    then = {"found": 10, "uploaded": 4, "present": 5, "bytes_uploaded": 500, "warnings": {"w": 2, "x": 1},
            "drafts": [], "settings": [], "failed": {}, "usable_after": 0.1, "elapsed": 4.0, "status": "ok"}  # fmt: skip
    merged = merge_rounds(first, then)
    assert (merged["found"], merged["uploaded"], merged["present"]) == (10, 8, 1)
    assert merged["failed"] == {} and merged["status"] == "ok"  # the failed item went in the second round
    assert merged["bytes_uploaded"] == 900 and merged["warnings"] == {"w": 3, "x": 1}
    assert merged["drafts"] == [{"subject": "a"}] and merged["settings"] == [{"setting": "categories"}]
    assert (merged["usable_after"], merged["elapsed"]) == (2.5, 7.0)


ROUNDS_SPEC = {
    "store": {"name": "Rounds", "seed": 25},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {
                    "kind": "mail",
                    "subject": f"{kind} {i}",
                    "body": "x",
                    "received": f"2024-{month:02d}-{10 + i}T09:00:00",
                }
                for kind, month in (("recent", 6), ("old", 1), ("old", 3))
                for i in range(4)
            ],
        },
        {"name": "Contacts", "role": "contacts", "items": [{"kind": "contact", "subject": "people 0"}]},
    ],
}


def test_a_mailbox_in_two_rounds_holds_its_usable_items_after_the_first_and_all_after_the_second(tmp_path: Path):
    """Round one (span usable) stores the contacts and June's mail (the last 30 days of a store whose newest
    item is 13 June) and nothing older; round two the rest; the merged summary is the one-round run's."""
    from pipeline.rebuild.order import Span

    ost, manifest = fixtures.cached_build(ROUNDS_SPEC, "ost", "permute")
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 3}, {})
    fake = FakeDestination()

    def held() -> Counter:
        return Counter(s for subjects in fake.store.listing(MAILBOX).values() for s in subjects)

    with Journal(tmp_path / "journal.sqlite") as journal:
        first = MailboxRun(RunOptions(ost, MAILBOX, span=Span.USABLE), settings, fake, journal).run()
        assert held() == Counter(f"recent {i}" for i in range(4)) + Counter(["people 0"])
        assert first.status == "usable"  # not "ok": the journal and `status` must not call the mailbox done
        then = MailboxRun(RunOptions(ost, MAILBOX, span=Span.REST), settings, fake, journal).run()
    assert held() == Counter(item.subject for item in manifest.items)  # each once
    with Journal(tmp_path / "whole.sqlite") as journal:
        whole = MailboxRun(RunOptions(ost, MAILBOX), settings, FakeDestination(), journal).run()
    merged = merge_rounds(*(json.loads(json.dumps(s.as_dict(), default=str)) for s in (first, then)))
    for key in ("found", "uploaded", "present", "failed_total"):
        assert merged[key] == whole.as_dict()[key], key
    assert merged["status"] == "ok" and merged["usable_after"] == first.usable_after is not None


def test_a_big_folder_with_years_is_split_into_ranges_newest_first_and_the_rest_grouped():
    from pipeline.execution.mailbox_parts import split_parts

    folders = [
        {"node_id": 1, "items": 3},
        {"node_id": 2, "items": 250, "years": {"2021": 40, "2022": 60, "2023": 100, "2024": 50}},
        {"node_id": 3, "items": 5},
        {"node_id": 4, "items": 300, "years": {"2024": 300}},  # one year: nothing to split it by
    ]
    parts = split_parts(folders, 100)
    assert [p["folders"] for p in parts] == [[1], [2], [2], [3, 4]]
    assert [(r["lo"], r["hi"], r["newest"], r["oldest"]) for p in parts for r in p["ranges"]] == [
        (2023, 2024, True, False),
        (2021, 2022, False, True),
    ]


SPLIT_SPEC = {
    "store": {"name": "Split", "seed": 26},
    "folders": [
        {
            "name": "Inbox",
            "role": "inbox",
            "items": [
                {"kind": "mail", "subject": f"mail {year} {i}", "body": "x", "received": f"{year}-0{1 + i}-10T09:00:00"}
                for year in (2021, 2022, 2023, 2024)
                for i in range(5)
            ]
            + [{"kind": "mail", "subject": "same 0", "body": "y", "received": "2022-05-05T05:05:05"}] * 2,
        },
        {"name": "Contacts", "role": "contacts", "items": [{"kind": "contact", "subject": "people 0"}]},
    ],
}


def test_a_folder_split_by_year_across_parts_after_the_usable_round_holds_each_item_once(tmp_path: Path):
    """The usable round, then the rest as the workflow runs it: the big Inbox in year ranges (parts of 6
    items), each part its own run; every item once (two that the fingerprint cannot tell apart, twice), and
    the merged summary is the one-round run's."""
    from pipeline.execution.base import MailboxJob
    from pipeline.execution.mailbox_parts import split_parts
    from pipeline.execution.wire import job_from_wire, job_to_wire
    from pipeline.rebuild.order import Span, years_of

    ost, manifest = fixtures.cached_build(SPLIT_SPEC, "ost", "permute")
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 3}, {})
    with open_source(ost) as source:
        plan = [
            {"node_id": f.node_id, "items": f.item_count, "years": years_of(f, source.timeline(f))}
            for f in source.folders()
        ]
    parts = split_parts(plan, 6)
    assert sum(bool(p["ranges"]) for p in parts) >= 3
    fake = FakeDestination()
    with Journal(tmp_path / "journal.sqlite") as journal:
        first = MailboxRun(RunOptions(ost, MAILBOX, span=Span.USABLE), settings, fake, journal).run()
        rest = None
        for index, share in enumerate(parts):
            wire = job_to_wire(MailboxJob(RunOptions(ost, MAILBOX)), "ews")  # as a worker receives its part
            wire["options"].update(folders=share["folders"], ranges=share["ranges"], store_part=index == 0, span="rest")
            options = job_from_wire(wire).options
            summary = MailboxRun(options, settings, fake, journal).run()
            rest = merge_summaries(rest, json.loads(json.dumps(summary.as_dict(), default=str)))
    held = Counter(s for subjects in fake.store.listing(MAILBOX).values() for s in subjects)
    assert held == Counter(item.subject for item in manifest.items)
    with Journal(tmp_path / "whole.sqlite") as journal:
        whole = MailboxRun(RunOptions(ost, MAILBOX), settings, FakeDestination(), journal).run()
    assert rest is not None
    merged = merge_rounds(json.loads(json.dumps(first.as_dict(), default=str)), rest)
    for key in ("found", "uploaded", "present", "failed_total"):
        assert merged[key] == whole.as_dict()[key], key
    assert merged["status"] == "ok"


def test_rest_priorities_go_from_2_for_the_biggest_quarter_to_5_for_the_smallest():
    """Temporal's priority keys run 1 (first) to 5 by default; 1 is left to usable rounds."""
    from pipeline.execution.temporal_workflow import rest_priority

    assert [rest_priority(rank, 8) for rank in range(8)] == [2, 2, 3, 3, 4, 4, 5, 5]
    assert [rest_priority(rank, 3) for rank in range(3)] == [2, 3, 4]
    assert rest_priority(0, 1) == 2
    keys = [rest_priority(rank, 500) for rank in range(500)]
    assert keys == sorted(keys) and set(keys) == {2, 3, 4, 5} and keys.count(2) == 125
