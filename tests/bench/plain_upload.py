"""Upload baseline: the same items as the pipeline, created with plain exchangelib bulk_create, same batches.

No journal, no dedupe read-back, no retries: read, convert_item, build_item, bulk_create, nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from exchangelib import DELEGATE, IMPERSONATION, NTLM, Account, Configuration, Credentials, FailFast, Folder
from exchangelib.items import SAVE_ONLY, SEND_TO_NONE

from pipeline.convert import convert_item
from pipeline.destination.ews.items import build_item
from pipeline.destination.ews.properties import register_fingerprint
from pipeline.fingerprint import fingerprint
from pipeline.model import SourceError
from pipeline.source import open_source
from pipeline.source.native import NativeSource
from pipeline.source.pff import PffSource
from tests.bench import timers
from tests.bench.extract import exported_folders


def upload(
    ost: str, server: str, username: str, mailbox: str, batch_items: int, batch_bytes: int, impersonate: bool = True
) -> dict[str, float]:
    timers.wrap_iter(PffSource, "items", "read")
    timers.wrap_iter(NativeSource, "items", "read")
    config = Configuration(
        service_endpoint=server,
        credentials=Credentials(username, os.environ["REBUILD_PASSWORD"]),
        auth_type=NTLM,
        retry_policy=FailFast(),
        max_connections=4,
    )
    account = Account(
        mailbox, config=config, autodiscover=False, access_type=IMPERSONATION if impersonate else DELEGATE
    )
    register_fingerprint()
    uploaded = 0
    with open_source(ost) as source:
        with timers.timed("folders"):
            inbox = account.inbox
        for folder in exported_folders(source):
            with timers.timed("folders"):
                target = inbox if not folder.path[1:] else Folder(parent=inbox, name=folder.path[-1]).save()
            batch: list = []
            size = 0
            for entry in source.items(folder):
                if isinstance(entry, SourceError):
                    continue
                with timers.timed("convert"):
                    item = convert_item(entry, folder.path, identity=fingerprint(entry))
                if batch and (len(batch) >= batch_items or size + item.size > batch_bytes):
                    uploaded += _send(account, target, batch)
                    batch, size = [], 0
                batch.append(item)
                size += item.size
            if batch:
                uploaded += _send(account, target, batch)
    return {"uploaded": uploaded, **timers.snapshot()}


def _send(account: Account, folder: Folder, batch: list) -> int:
    with timers.timed("build_item"):
        items = [build_item(u, account, folder) for u in batch]
    with timers.timed("bulk_create"):
        results = account.bulk_create(
            folder=folder,
            items=items,
            message_disposition=SAVE_ONLY,
            send_meeting_invitations=SEND_TO_NONE,
            chunk_size=len(items),
        )
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"{len(failed)} items refused, e.g. {failed[0]}")
    return len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ost", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--mailbox", required=True)
    parser.add_argument("--batch-items", type=int, default=50)
    parser.add_argument("--batch-bytes", type=int, default=10_000_000)
    args = parser.parse_args()
    start = time.perf_counter()
    result = upload(args.ost, args.server, args.username, args.mailbox, args.batch_items, args.batch_bytes)
    result["wall_inside"] = round(time.perf_counter() - start, 3)
    print("BENCH_JSON " + json.dumps(result))


if __name__ == "__main__":
    main()
