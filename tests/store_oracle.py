"""The sandbox's store read from outside, with plain SQL on its database: what the server holds and when it
took each item, independent of the project's code."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_times(data: Path) -> list[tuple[str, str, float]]:
    """(mailbox, subject, when the store took it) of every item, from the sandbox's database in `data`."""
    db = sqlite3.connect(data / "sandbox.sqlite")
    try:
        return db.execute(
            "SELECT m.address, i.subject, i.touched FROM items i JOIN mailboxes m ON m.id = i.mailbox_id"
        ).fetchall()
    finally:
        db.close()
