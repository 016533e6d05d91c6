"""The merge run (rebuild/merge.py) against the in-memory destination: several caches of one mailbox.

The oracle is the cache set's own spec (fixtures/caches.py `expected`: each server item once, in the folder
and state of its newest copy), computed for whichever files a case gives; what the fake server holds is read
from its store: each item's folder, and its read state, flag status and categories as uploaded (the
extended properties sent) or as a later merge run changed them.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from pathlib import Path

import pytest

import fixtures
from fixtures.caches import CacheSet, build_caches, expected, load_cache_set
from pipeline.destination.fake import FakeDestination, FakeItem
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.state.journal import Journal

MAILBOX = "alice@corp.example"
ROLE_NAMES = {"inbox": "Inbox", "sentitems": "Sent", "drafts": "Drafts"}  # the fake server's role folders
FLAGS = {None: 0, "complete": 1, "followup": 2}


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cache-set")
    return build_caches(load_cache_set("alice"), folder)


def only_caches(cache_set: CacheSet, names: set[str]) -> CacheSet:
    items = [dataclasses.replace(i, copies=[c for c in i.copies if c.cache in names]) for i in cache_set.items]
    return dataclasses.replace(cache_set, items=items)


def expectation(names: set[str]) -> dict[str, tuple]:
    """subject -> (folder, read, flag status, categories) the spec says the merged mailbox holds."""
    cache_set = load_cache_set("alice")
    out = {}
    for e in expected(only_caches(cache_set, names)):
        role = cache_set.folders[e.folder]
        out[e.subject] = (ROLE_NAMES.get(role, e.folder), e.read, FLAGS[e.flag], tuple(sorted(e.categories)))
    return out


def _state(item: FakeItem) -> tuple[bool, int, tuple[str, ...]]:
    if item.changes:
        state = item.changes[-1].state
        return state.read, state.flag, tuple(sorted(state.categories))
    assert item.upload is not None
    read, flag, categories = False, 0, ()
    for prop in item.upload.extended:
        if prop.tag == 0x0E07:
            read = bool(prop.value & 1)
        elif prop.tag == 0x1090:
            flag = prop.value
        elif prop.name == "Keywords":
            categories = tuple(sorted(prop.value))
    return read, flag, categories


def held(fake: FakeDestination) -> dict[str, tuple]:
    """subject -> (folder, read, flag, categories) on the fake server; a subject held twice fails."""
    out: dict[str, tuple] = {}
    for item in fake.store.items[MAILBOX]:
        assert item.subject not in out, f"{item.subject!r} held twice"
        out[item.subject] = (fake.store.path(MAILBOX, item.folder), *_state(item))
    return out


def merge(caches: dict[str, Path], names: list[str], fake: FakeDestination, state: Path, merge: bool = True):  # noqa: ANN201
    settings = load_settings({"state_dir": str(state), "batch_items": 2}, {})
    paths = [caches[n] for n in names]
    options = RunOptions(paths[0], MAILBOX, more=tuple(paths[1:]), merge=merge)
    with Journal(state / "journal.sqlite") as journal:
        summary = MailboxRun(options, settings, fake, journal).run()
    assert summary.status == "ok", summary.fatal or summary.failures
    return summary


@pytest.mark.parametrize("order", list(itertools.permutations(["desktop", "laptop", "archive"])))
def test_every_order_of_the_three_files_gives_the_merged_mailbox_and_a_rerun_changes_nothing(
    caches: dict[str, Path], tmp_path: Path, order: tuple[str, ...]
):
    fake = FakeDestination()
    summary = merge(caches, list(order), fake, tmp_path)
    want = expectation({"desktop", "laptop", "archive"})
    assert held(fake) == want
    assert summary.uploaded == len(want) and summary.merge["identities"] == len(want)
    assert summary.merge["passed_over"] == summary.merge["copies"] - len(want)
    before = [(i.id, i.folder, i.stamp) for i in fake.store.items[MAILBOX]]
    again = merge(caches, list(order), fake, tmp_path)
    assert (again.uploaded, again.updated, again.present) == (0, 0, len(want))
    assert [(i.id, i.folder, i.stamp) for i in fake.store.items[MAILBOX]] == before


@pytest.mark.parametrize(
    "order", [("laptop", "desktop", "archive"), ("desktop", "laptop", "archive"), ("archive", "laptop", "desktop")]
)
def test_files_given_one_at_a_time_end_as_all_at_once(caches: dict[str, Path], tmp_path: Path, order: tuple[str, ...]):
    """Each later file finds what is there wherever it is: the plan moved to Projects by the desktop stays
    there when the older laptop copy comes later, the invoice re-flagged on the laptop gets its flag when the
    laptop comes after the desktop (an UpdateItem, never a second copy)."""
    fake = FakeDestination()
    given: set[str] = set()
    updated = 0
    for name in order:
        given.add(name)
        summary = merge(caches, [name], fake, tmp_path)
        updated += summary.updated
        assert held(fake) == expectation(given)
    assert held(fake) == expectation({"desktop", "laptop", "archive"})
    if order[0] == "laptop":
        assert updated >= 2  # the plan moved to Projects, the report's and the sent mail's newer copies
    again = merge(caches, list(order), fake, tmp_path)
    assert (again.uploaded, again.updated) == (0, 0)


def test_a_mailbox_rebuilt_from_one_file_by_the_one_file_run_then_merged_has_no_duplicate(
    caches: dict[str, Path], tmp_path: Path
):
    """The upgrade: the one-file run's stamps (per-file fingerprints) are recognised by the merge run, which
    restamps those items and gives them their newest state instead of adding copies."""
    fake = FakeDestination()
    merge(caches, ["laptop"], fake, tmp_path / "old", merge=False)
    stamps = {i.stamp.identity for i in fake.store.items[MAILBOX]}
    assert not any(s.startswith("m1:") for s in stamps)  # what the current version stamps
    summary = merge(caches, ["desktop", "laptop"], fake, tmp_path / "new")
    assert held(fake) == expectation({"desktop", "laptop"})
    assert summary.merge["unrecognised_stamps"] == 0
    assert all(i.stamp.identity.startswith("m1:") for i in fake.store.items[MAILBOX])  # restamped or new


def test_two_files_rebuilt_one_after_the_other_by_the_one_file_run_are_merged_to_one_copy_each(
    caches: dict[str, Path], tmp_path: Path
):
    """Before the merge run, an admin rebuilt the desktop, then the laptop: the plan, moved between their
    syncs, is there twice (Projects and Inbox). The merge run keeps the copy in the newest folder and
    deletes the other (both stamped with identities the set explains; an unstamped item is never touched)."""
    fake = FakeDestination()
    merge(caches, ["desktop"], fake, tmp_path / "a", merge=False)
    merge(caches, ["laptop"], fake, tmp_path / "b", merge=False)
    assert sorted(i.subject for i in fake.store.items[MAILBOX]).count("Project plan") == 2
    summary = merge(caches, ["desktop", "laptop"], fake, tmp_path / "c")
    assert held(fake) == expectation({"desktop", "laptop"})
    assert summary.duplicates_removed >= 1


def test_verify_of_the_set_checks_the_merged_expectation(caches: dict[str, Path], tmp_path: Path):
    """`verify` given the set: OK after the merge; a missing item, an item in an older state (the desktop
    alone, before the laptop's newer flag) and a doubled item are each found."""
    from pipeline.rebuild.verify import verify_mailbox

    names = ["desktop", "laptop", "archive"]
    options = RunOptions(caches[names[0]], MAILBOX, more=tuple(caches[n] for n in names[1:]))
    fake = FakeDestination()
    merge(caches, names, fake, tmp_path)
    result = verify_mailbox(options, fake)
    assert result.ok and (result.missing, result.duplicated, result.misplaced, result.stale) == (0, 0, 0, 0)
    assert sum(f.source for f in result.folders) == len(expectation(set(names)))
    items = fake.store.items[MAILBOX]
    items.append(dataclasses.replace(items[0], id="twin"))
    items.pop(1)
    result = verify_mailbox(options, fake)
    assert not result.ok and (result.missing, result.duplicated) == (1, 1)
    older = FakeDestination()
    merge(caches, ["desktop"], older, tmp_path / "older")  # the invoice unflagged, as the desktop saw it
    result = verify_mailbox(options, older)
    assert result.stale == 1 and result.missing == 2  # the laptop's old thread, the archive's budget


def test_an_item_a_newer_cache_lacks_within_its_dates_is_kept_and_reported(tmp_path: Path):
    """A cache cannot prove a deletion: the laptop still holds a mail of mid-November that the desktop, synced
    later and holding November, lacks. It is restored, and listed as absent from a newer cache; the old
    thread (before the desktop's first synchronized item) and the archive's items are not listed."""
    import tomllib

    data = tomllib.loads((Path(fixtures.__file__).parent / "specs" / "cache-sets" / "alice.toml").read_text())
    data["items"].append(
        {
            "key": "gone",
            "counter": 0x1005,
            "subject": "Deleted on the desktop",
            "sender": "Bob <bob@corp.example>",
            "sent": datetime(2025, 11, 15, 9, 0),
            "copies": [{"cache": "laptop", "folder": "Inbox", "change": 9}],
        }
    )
    cache_set = load_cache_set(data)
    files = build_caches(cache_set, tmp_path)
    fake = FakeDestination()
    summary = merge(files, ["desktop", "laptop", "archive"], fake, tmp_path / "state")
    assert "Deleted on the desktop" in held(fake)
    assert summary.merge["absent_from_newer"] == 1
    (absent,) = summary.merge["absent_items"]
    assert (absent["subject"], absent["folder"], Path(absent["newer_file"]).name) == (
        "Deleted on the desktop",
        "Inbox",
        "desktop.ost",
    )


def test_a_set_in_a_sites_two_rounds_ends_as_the_set_run_whole(caches: dict[str, Path], tmp_path: Path):
    """A usable-first --map runs a mailbox's set as two runs (execution/rounds.py: phases 1-4, then the rest):
    the second finds what the first stored and sends it no second time; the mailbox is the spec's merge."""
    from pipeline.rebuild.order import Span

    fake = FakeDestination()
    settings = load_settings({"state_dir": str(tmp_path), "batch_items": 2}, {})
    paths = [caches[n] for n in ("laptop", "archive", "desktop")]
    base = RunOptions(paths[0], MAILBOX, more=tuple(paths[1:]))
    summaries = []
    for span in (Span.USABLE, Span.REST):
        with Journal(tmp_path / "journal.sqlite") as journal:
            summaries.append(MailboxRun(dataclasses.replace(base, span=span), settings, fake, journal).run())
    first, rest = summaries
    assert (first.status, rest.status) == ("usable", "ok"), (first.fatal, rest.fatal)
    want = expectation({"desktop", "laptop", "archive"})
    assert held(fake) == want
    assert first.uploaded + rest.uploaded == len(want)
    assert first.uploaded > 0 and rest.uploaded > 0  # each round had its own share to send
    assert rest.present >= first.uploaded
