"""Search folders' criteria in `sandbox.sqlite`: the SearchParameters a CreateFolder of a SearchFolder gave
(the Restriction as its XML, the base folders, the traversal), kept beside the folder row.

A search folder holds no items of its own: FindItem on it lists the items of its base folders (and with
Deep traversal their subfolders) that its restriction matches, evaluated when asked, so an item written,
changed or deleted later shows at once, as Exchange keeps a search folder's results up to date. The table is
made on first use (older data folders need no migration); a deleted search folder takes its criteria along.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS search_parameters(folder_id INTEGER PRIMARY KEY, restriction TEXT NOT NULL, "
    "base_folders TEXT NOT NULL, traversal TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS search_parameters_of_deleted_folders AFTER DELETE ON folders "
    "BEGIN DELETE FROM search_parameters WHERE folder_id = OLD.id; END",
)


@dataclass(frozen=True, slots=True)
class SearchParameters:
    folder_id: int
    restriction: str  # the <t:Restriction> element as given
    base_folders: tuple[int, ...]  # folder row ids
    traversal: str  # "Shallow" or "Deep"


def ready(conn: sqlite3.Connection) -> sqlite3.Connection:
    for statement in STATEMENTS:
        conn.execute(statement)
    return conn


def save(conn: sqlite3.Connection, parameters: SearchParameters) -> None:
    ready(conn).execute(
        "INSERT OR REPLACE INTO search_parameters(folder_id, restriction, base_folders, traversal) VALUES (?,?,?,?)",
        (
            parameters.folder_id,
            parameters.restriction,
            json.dumps(list(parameters.base_folders)),
            parameters.traversal,
        ),
    )


def of_folder(conn: sqlite3.Connection, folder_id: int) -> SearchParameters | None:
    row = (
        ready(conn)
        .execute(
            "SELECT folder_id, restriction, base_folders, traversal FROM search_parameters WHERE folder_id=?",
            (folder_id,),
        )
        .fetchone()
    )
    if row is None:
        return None
    return SearchParameters(row[0], row[1], tuple(json.loads(row[2])), row[3])


def searched(conn: sqlite3.Connection, parameters: SearchParameters) -> list[int]:
    """The folder row ids whose items the search folder considers: its base folders, and with Deep traversal
    every folder below them (search folders themselves never: they hold no items)."""
    if parameters.traversal != "Deep":
        return list(parameters.base_folders)
    found: list[int] = []
    for base in parameters.base_folders:
        rows = conn.execute(
            "WITH RECURSIVE below(id) AS (SELECT ? UNION SELECT folders.id FROM folders JOIN below "
            "ON folders.parent_id = below.id) SELECT id FROM below",
            (base,),
        )
        found.extend(r[0] for r in rows if r[0] not in found)
    return found
