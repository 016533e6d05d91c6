"""Conversion in worker processes gives the same uploads, in the same order, as conversion in-process."""

from __future__ import annotations

import fixtures
from pipeline.model import SourceItem
from pipeline.processes.conversion_pool import ConvertQueue
from pipeline.source import open_source


def convert_all(workers: int) -> list[tuple[str, bytes | None, str]]:
    queue = ConvertQueue(workers, window=4, warmup=2)
    out = []
    with open_source(fixtures.cached("small", format="ost")) as source:
        for folder in source.folders():
            for item in source.items(folder):
                if isinstance(item, SourceItem):
                    queue.submit(item.materialize(), folder.path, str(item.node_id))
                    out.extend(queue.ready())
        out.extend(queue.drain())
    return [
        (c.item.node_id, c.upload.mime if c.upload else None, c.upload.subject if c.upload else c.error) for c in out
    ]


def test_pool_and_inline_agree():
    inline = convert_all(1)
    pooled = convert_all(2)
    assert len(inline) >= 15
    assert [t for t, _, _ in pooled] == [t for t, _, _ in inline]  # same order
    assert pooled == inline
