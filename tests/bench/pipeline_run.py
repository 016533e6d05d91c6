"""The real `rebuild` CLI run in-process with exclusive timers on each stage, so the upload bench can say
where each second goes (read, convert, dedupe, journal, folders, build, bulk_create). Optional cProfile.
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
import time

from exchangelib import Account

import pipeline.destination.ews.upload
import pipeline.processes.conversion_pool
import pipeline.rebuild.run
from pipeline.cli.main import main as cli_main
from pipeline.destination.ews.folders import FolderMirror
from pipeline.destination.ews.mailbox import EwsMailbox
from pipeline.destination.ews.upload import Uploader
from pipeline.source.native import NativeSource
from pipeline.source.pff import PffSource
from pipeline.state.journal import Journal
from tests.bench import timers


def instrument() -> None:
    timers.wrap_iter(PffSource, "items", "read")
    timers.wrap_iter(NativeSource, "items", "read")
    timers.wrap(pipeline.rebuild.run, "fingerprint", "dedupe: fingerprint per item")
    # in-process conversion of the queue; pool workers are not instrumented (convert then ~0)
    timers.wrap(pipeline.processes.conversion_pool, "_convert", "convert")
    for name in ("record", "done_fingerprints", "folder_done", "set_folder", "start_run", "finish_run"):
        timers.wrap(Journal, name, "journal")
    timers.wrap(EwsMailbox, "stamps", "dedupe: server fingerprint read-back")
    timers.wrap(Uploader, "_drop_in_doubt", "retries: in-doubt checks")
    timers.wrap(FolderMirror, "resolve", "folders")
    timers.wrap(pipeline.destination.ews.upload, "build_item", "build_item")
    timers.wrap(Account, "bulk_create", "bulk_create")
    timers.wrap(pipeline.rebuild.run.MailboxRun, "_record", "outcomes + progress")


def main() -> None:
    argv = sys.argv[1:]
    instrument()
    profile_out = os.environ.get("BENCH_CPROFILE")
    if profile_out:  # the mailbox runs in a pool thread: profile MailboxRun.run itself, in that thread
        original = pipeline.rebuild.run.MailboxRun.run

        def profiled(self: pipeline.rebuild.run.MailboxRun) -> pipeline.rebuild.run.Summary:
            prof = cProfile.Profile()
            try:
                return prof.runcall(original, self)
            finally:
                prof.dump_stats(profile_out)

        pipeline.rebuild.run.MailboxRun.run = profiled  # type: ignore[method-assign]
    start = time.perf_counter()
    code = cli_main(argv)
    result = {"code": code, "wall_inside": round(time.perf_counter() - start, 3), **timers.snapshot()}
    print("BENCH_JSON " + json.dumps(result), flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
