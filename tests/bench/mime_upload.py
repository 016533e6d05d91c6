"""Benchmark (issue 17): the whole main job vs plain exchangelib uploading MIME already on disk.

Baseline: `rebuild export` writes the items' .eml files first (not timed); a child process then sends
them with plain exchangelib `bulk_create` (MimeContent only), in batches of the same size. Measured: the
whole `rebuild run` on the same OST (read, convert, fingerprint, upload, journal) into the same sandbox
server, another mailbox. The ratio says how well reading and converting hide behind the upload.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tests.bench.common import PYTHON, SERVICE, Results, cli_env, rebuild_cmd, run_timed, sandbox


def send_mime(folder: str, server: str, username: str, mailbox: str, batch_items: int) -> dict[str, float]:
    from exchangelib import (
        IMPERSONATION,
        NTLM,
        Account,
        Configuration,
        Credentials,
        FailFast,
        Folder,
        Message,
    )
    from exchangelib.items import SAVE_ONLY

    start = time.perf_counter()
    root = Path(folder)
    by_dir: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*.eml")):
        by_dir.setdefault(path.parent.relative_to(root), []).append(path)
    config = Configuration(
        service_endpoint=server,
        credentials=Credentials(username, os.environ["REBUILD_PASSWORD"]),
        auth_type=NTLM,
        retry_policy=FailFast(),
        max_connections=4,
    )
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    inbox = account.inbox
    sent = 0
    for directory, files in by_dir.items():  # the export's tree: Inbox/<folder>/NNNNN subject.eml
        target = inbox if len(directory.parts) <= 1 else Folder(parent=inbox, name=directory.parts[-1]).save()
        for i in range(0, len(files), batch_items):
            batch = [
                Message(account=account, folder=target, mime_content=f.read_bytes()) for f in files[i : i + batch_items]
            ]
            results = account.bulk_create(
                folder=target, items=batch, message_disposition=SAVE_ONLY, chunk_size=len(batch)
            )
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                raise RuntimeError(f"{len(failed)} items refused, e.g. {failed[0]}")
            sent += len(batch)
    return {"sent": sent, "wall_inside": time.perf_counter() - start}


def run(results: Results, ost: Path, work: Path, batch_items: int = 50) -> None:
    print(f"\n== main job vs plain bulk_create of exported MIME: {ost.name}", flush=True)
    work = work / "mime-upload"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    export = run_timed([PYTHON, "-m", "pipeline", "export", "--ost", str(ost), "--out", str(work / "eml")])
    if export.returncode != 0:
        results.note(f"export failed: {export.stderr[-500:]}")
        return
    with sandbox(work / "sandbox", ["plain@bench.example", "job@bench.example"]) as handle:
        plain = run_timed(
            [
                PYTHON,
                "-m",
                "tests.bench.mime_upload",
                "--worker",
                str(work / "eml"),
                "--server",
                handle.url,
                "--mailbox",
                "plain@bench.example",
                "--batch-items",
                str(batch_items),
            ],
            env=cli_env(),
        )
        job = run_timed(
            rebuild_cmd(
                handle,
                work / "state",
                "--ost",
                str(ost),
                "--mailbox",
                "job@bench.example",
                "--batch-items",
                str(batch_items),
            ),
            env=cli_env(),
        )
    if plain.returncode != 0 or job.returncode != 0:
        results.note(
            f"mime-upload: plain rc {plain.returncode} {plain.stderr[-300:]}; job rc {job.returncode} "
            f"{job.stderr[-300:]}"
        )
        return
    results.add(
        "mime-upload",
        "whole main job (rebuild run), read+convert+upload",
        job.wall,
        "s",
        "plain bulk_create of exported .eml",
        plain.wall,
        "<= 1.2",
        f"batches of {batch_items}",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", metavar="EML_DIR")
    parser.add_argument("--server")
    parser.add_argument("--mailbox")
    parser.add_argument("--batch-items", type=int, default=50)
    parser.add_argument("--items", type=int, default=3000, help="standalone: items of the bulk OST")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(send_mime(args.worker, args.server, SERVICE, args.mailbox, args.batch_items)))
        return
    import tempfile

    from tests.bench.data import built, bulk_spec

    results = Results()
    run(
        results,
        built(bulk_spec(args.items), label=f"bulk{args.items}"),
        Path(tempfile.gettempdir()) / "rebuild-bench-work",
    )
    print(results.table())


if __name__ == "__main__":
    sys.exit(main())
