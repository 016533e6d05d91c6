"""What the Graph face would have sent (sendMail, message send, event invitations, updates and
cancellations): recorded in `graph-sent.jsonl` of the data folder, never sent.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pipeline.sandbox.graph.wire import GraphReply
from pipeline.sandbox.rows import now_iso
from pipeline.sandbox.stats import Stats
from pipeline.sandbox.store import SandboxStore

SENT_LOG = "graph-sent.jsonl"


class SentLog:
    """The messages that would have left the sandbox, one JSON line each."""

    def __init__(self, data_dir: Path, store: SandboxStore, stats: Stats) -> None:
        self.path = Path(data_dir) / SENT_LOG
        self.store = store
        self.stats = stats
        self._lock = threading.Lock()

    def log(self, mailbox_id: int, what: str, detail: dict[str, Any]) -> None:
        mailbox = self.store.mailbox_by_id(mailbox_id)
        entry = {"time": now_iso(), "mailbox": mailbox.address if mailbox else "", "what": what, "detail": detail}
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
        self.stats.add("graph:would_send")

    def record(self, mailbox_id: int, what: str, detail: dict[str, Any]) -> GraphReply:
        """A send request answered as Graph does (202 Accepted) after logging it."""
        self.log(mailbox_id, what, detail)
        return GraphReply(202)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
