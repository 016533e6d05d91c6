"""A mailbox's settings in `sandbox.sqlite`, beside its items: user configuration objects (per folder and
name, with their dictionary, XML and binary data, as Outlook keeps them in associated messages), inbox rules
(kept as the RuleType XML they were given, in priority order) and the Outlook rules blob (the
IPM.RuleOrganizer message Outlook writes; UpdateInboxRules may remove it).

Both faces can read them; the tables are made on first use, so older data folders need no migration. A
deleted folder takes its user configurations with it (a trigger), as its associated messages go with it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

#: The tables (made on first use, inside the caller's transaction), one statement each.
STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS user_configurations(id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, "
    "folder_id INTEGER NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL, dictionary TEXT, xml BLOB, "
    "binary BLOB, version INTEGER NOT NULL DEFAULT 1)",
    "CREATE UNIQUE INDEX IF NOT EXISTS user_configurations_name ON user_configurations(folder_id, name_key)",
    "CREATE TABLE IF NOT EXISTS inbox_rules(id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, "
    "priority INTEGER NOT NULL, xml TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outlook_rule_blobs(mailbox_id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS user_configurations_of_deleted_folders AFTER DELETE ON folders "
    "BEGIN DELETE FROM user_configurations WHERE folder_id = OLD.id; END",
)

#: A dictionary entry as stored: ((key type, key values), (value type, value values) or None for nil).
Entry = tuple[tuple[str, list[str]], tuple[str, list[str]] | None]


@dataclass(frozen=True, slots=True)
class UserConfiguration:
    id: int
    mailbox_id: int
    folder_id: int
    name: str
    dictionary: list[Entry] | None
    xml: bytes | None
    binary: bytes | None
    version: int


@dataclass(frozen=True, slots=True)
class InboxRule:
    id: int
    mailbox_id: int
    priority: int
    xml: str  # a <t:Rule> element without its RuleId (added when answered)


def ready(conn: sqlite3.Connection) -> sqlite3.Connection:
    """The connection, its tables made if they are not there yet (inside the caller's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)
    return conn


def _key(name: str) -> str:
    return name.upper()


def _configuration(row: tuple) -> UserConfiguration:
    entries = (
        None if row[5] is None else [((k[0], k[1]), None if v is None else (v[0], v[1])) for k, v in json.loads(row[5])]
    )
    return UserConfiguration(row[0], row[1], row[2], row[3], entries, row[6], row[7], row[8])


_COLUMNS = "id, mailbox_id, folder_id, name, name_key, dictionary, xml, binary, version"


def configuration(conn: sqlite3.Connection, folder_id: int, name: str) -> UserConfiguration | None:
    row = (
        ready(conn)
        .execute(
            f"SELECT {_COLUMNS} FROM user_configurations WHERE folder_id=? AND name_key=?", (folder_id, _key(name))
        )
        .fetchone()
    )
    return None if row is None else _configuration(row)


def configurations(conn: sqlite3.Connection, mailbox_id: int) -> list[UserConfiguration]:
    rows = ready(conn).execute(
        f"SELECT {_COLUMNS} FROM user_configurations WHERE mailbox_id=? ORDER BY id", (mailbox_id,)
    )
    return [_configuration(r) for r in rows]


def create_configuration(
    conn: sqlite3.Connection,
    mailbox_id: int,
    folder_id: int,
    name: str,
    dictionary: list[Entry] | None,
    xml: bytes | None,
    binary: bytes | None,
) -> int:
    cursor = ready(conn).execute(
        "INSERT INTO user_configurations(mailbox_id, folder_id, name, name_key, dictionary, xml, binary) "
        "VALUES (?,?,?,?,?,?,?)",
        (mailbox_id, folder_id, name, _key(name), None if dictionary is None else json.dumps(dictionary), xml, binary),
    )
    return int(cursor.lastrowid or 0)


def update_configuration(
    conn: sqlite3.Connection,
    row_id: int,
    *,
    dictionary: list[Entry] | None = None,
    xml: bytes | None = None,
    binary: bytes | None = None,
    replace: set[str],
) -> None:
    """Replace the parts named in `replace` ("dictionary", "xml", "binary"); the others are kept."""
    values = {"dictionary": None if dictionary is None else json.dumps(dictionary), "xml": xml, "binary": binary}
    for part in sorted(replace):
        conn.execute(f"UPDATE user_configurations SET {part}=? WHERE id=?", (values[part], row_id))
    conn.execute("UPDATE user_configurations SET version=version+1 WHERE id=?", (row_id,))


def delete_configuration(conn: sqlite3.Connection, row_id: int) -> None:
    ready(conn).execute("DELETE FROM user_configurations WHERE id=?", (row_id,))


def rules(conn: sqlite3.Connection, mailbox_id: int) -> list[InboxRule]:
    rows = ready(conn).execute(
        "SELECT id, mailbox_id, priority, xml FROM inbox_rules WHERE mailbox_id=? ORDER BY priority, id", (mailbox_id,)
    )
    return [InboxRule(*r) for r in rows]


def save_rule(conn: sqlite3.Connection, mailbox_id: int, priority: int, xml: str, row_id: int | None = None) -> int:
    ready(conn)
    if row_id is None:
        cursor = conn.execute(
            "INSERT INTO inbox_rules(mailbox_id, priority, xml) VALUES (?,?,?)", (mailbox_id, priority, xml)
        )
        return int(cursor.lastrowid or 0)
    conn.execute("UPDATE inbox_rules SET priority=?, xml=? WHERE id=?", (priority, xml, row_id))
    return row_id


def delete_rule(conn: sqlite3.Connection, row_id: int) -> None:
    ready(conn).execute("DELETE FROM inbox_rules WHERE id=?", (row_id,))


def outlook_rule_blob(conn: sqlite3.Connection, mailbox_id: int) -> bytes | None:
    row = ready(conn).execute("SELECT data FROM outlook_rule_blobs WHERE mailbox_id=?", (mailbox_id,)).fetchone()
    return None if row is None else bytes(row[0])


def set_outlook_rule_blob(conn: sqlite3.Connection, mailbox_id: int, data: bytes | None) -> None:
    """What Outlook does when it saves its rules (data), or what RemoveOutlookRuleBlob does (None)."""
    ready(conn).execute("DELETE FROM outlook_rule_blobs WHERE mailbox_id=?", (mailbox_id,))
    if data is not None:
        conn.execute("INSERT INTO outlook_rule_blobs(mailbox_id, data) VALUES (?,?)", (mailbox_id, data))
