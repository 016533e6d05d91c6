"""A mailbox's set of files in parts (execution/set_parts.py), as Temporal's workflow runs it: the parts
cover every folder of every file once, each file's store duties once, each part bounded; run one after
another on the in-memory destination, half on one worker's state dir and half on another's (the set's
merge index rebuilt there), they end in the mailbox the spec's merge says (tests/unit/test_merge_run.py's
oracle), and the index kept between a worker's parts is gone after the last."""

from __future__ import annotations

from pathlib import Path

from pipeline.destination.fake import FakeDestination
from pipeline.execution.base import MailboxJob
from pipeline.execution.set_parts import part_options, set_parts
from pipeline.execution.wire import job_from_wire, job_to_wire
from pipeline.rebuild.run import MailboxRun, RunOptions
from pipeline.settings import load_settings
from pipeline.source import open_source
from pipeline.state.journal import Journal
from tests.unit.test_merge_run import MAILBOX, caches, expectation, held  # noqa: F401 - caches: a fixture


def test_the_parts_cover_every_folder_once_each_files_store_once_and_stay_bounded():
    files = [
        [{"node_id": n, "items": c} for n, c in enumerate([0, 4, 1, 7, 0], start=100)],
        [],  # a file without folders still has its store duties done
        [{"node_id": n, "items": c} for n, c in enumerate([2, 2, 9, 1], start=200)],
    ]
    for size in (1, 3, 5, 100):
        parts = set_parts(files, size)
        walked = [(p["file"], n) for part in parts for p in part["set_part"] for n in p["folders"]]
        assert sorted(walked) == sorted((k, f["node_id"]) for k, fs in enumerate(files) for f in fs), size
        stores = [p["file"] for part in parts for p in part["set_part"] if p["store"]]
        assert sorted(stores) == [0, 1, 2], (size, parts)
        assert [part["keep_index"] for part in parts] == [True] * (len(parts) - 1) + [False]
        items = {(k, f["node_id"]): f["items"] for k, fs in enumerate(files) for f in fs}
        for part in parts:  # at most one folder past the size, as a one-file mailbox's parts
            counts = [items[(p["file"], n)] for p in part["set_part"] for n in p["folders"]]
            assert sum(counts[:-1]) < size, (size, part)
    assert len(set_parts(files, 100)) == 1  # a small set: one part
    # a one-file mailbox's plan is parted as it always was (no folder here has years to split by)
    assert part_options({"folders": files[0], "total": 12}, 5) == [
        {"folders": [100, 101, 102], "ranges": [], "store_part": True},
        {"folders": [103], "ranges": [], "store_part": False},
        {"folders": [104], "ranges": [], "store_part": False},
    ]


def plan_of(files: tuple[Path, ...]) -> dict:
    """What the worker's plan activity returns for a set: every file's folders, in the order given."""
    planned = []
    for path in files:
        with open_source(path) as source:
            planned.append([{"node_id": f.node_id, "items": f.item_count} for f in source.folders()])
    return {"files": planned, "total": 0}


def test_a_set_run_part_by_part_on_two_workers_ends_as_the_spec_merge(caches: dict[str, Path], tmp_path: Path):  # noqa: F811
    names = ["laptop", "archive", "desktop"]
    options = RunOptions(caches[names[0]], MAILBOX, more=tuple(caches[n] for n in names[1:]))
    wire = job_to_wire(MailboxJob(options), "ews")
    parts = part_options(plan_of(options.files), 3)
    assert len(parts) >= 4
    fake = FakeDestination()
    workers = [tmp_path / "worker-a", tmp_path / "worker-b"]
    built: dict[Path, int] = {}
    for number, overlay in enumerate(parts):
        state = workers[0] if number < len(parts) // 2 else workers[1]  # worker A dies half way
        job = job_from_wire({**wire, "options": {**wire["options"], **overlay}})
        settings = load_settings({"state_dir": str(state), "batch_items": 2}, {})
        with Journal(state / "journal.sqlite") as journal:
            summary = MailboxRun(job.options, settings, fake, journal).run()
        assert summary.status == "ok", summary.fatal or summary.failures
        kept = sorted((state / "merge").iterdir())
        assert len(kept) == (1 if overlay["keep_index"] else 0), kept
        if kept:  # built once per worker: its later parts read it (the same file, not rebuilt)
            made = kept[0].stat().st_mtime_ns
            assert built.setdefault(state, made) == made
    assert held(fake) == expectation(set(names))
