"""The main job's flags as plain frozen values, built from the argparse Namespace at the edge.

Below the command functions nothing reads the Namespace: the CSV rows become jobs (jobs.py), the closing
lines are written (closing.py) and workflows are submitted (temporal.py) from these values.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunFlags:
    """`rebuild run` and `rebuild verify`: what every mailbox starts from (a CSV row's own columns win),
    and how the command ends (JSON or lines, the next commands to suggest)."""

    map: str | None = None  # the users CSV, as given (the next commands repeat it)
    target_root: str | None = None
    dry_run: bool = False
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: str | None = None  # as given: checked and parsed by the command (pipeline/selection.py)
    recover: bool = False
    include_sync_issues: bool = False
    break_lease: bool = False
    impersonate: bool = False
    x500_domain: str | None = None
    codepage: int | None = None
    workers: int | None = None
    skip_invalid: bool = False
    as_json: bool = False
    settings: tuple[str, ...] | None = None  # --settings, parsed (None: the default, all)
    create: bool = False  # the embedded sandbox: make mailboxes it lacks though it has others (typo guard)
    serve_port: int | None = None  # --map --serve: the live site page's port (None: not served)
    merge: bool = False  # --merge: a merge run even with one file (rebuild/merge.py)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunFlags:
        """The flags given (a command without a flag, e.g. verify's missing --dry-run, takes the default)."""
        given = vars(args)
        return cls(
            map=given.get("map"),
            target_root=given.get("target_root"),
            dry_run=bool(given.get("dry_run")),
            only=tuple(given.get("only") or ()),
            exclude=tuple(given.get("exclude") or ()),
            since=given.get("since"),
            recover=bool(given.get("recover")),
            include_sync_issues=bool(given.get("include_sync_issues")),
            break_lease=bool(given.get("break_lease")),
            impersonate=bool(given.get("impersonate")),
            x500_domain=given.get("x500_domain"),
            codepage=given.get("codepage"),
            workers=given.get("workers"),
            skip_invalid=bool(given.get("skip_invalid")),
            as_json=bool(given.get("json")),
            settings=given.get("settings"),
            create=bool(given.get("create")),
            serve_port=given.get("port") if given.get("serve") else None,
            merge=bool(given.get("merge")),
        )


@dataclass(frozen=True, slots=True)
class TemporalFlags:
    """Where the Temporal commands connect (`--temporal HOST:PORT --namespace NS`), and whether to follow."""

    address: str | None = None
    namespace: str = "default"
    wait: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TemporalFlags:
        given = vars(args)
        return cls(
            address=given.get("temporal"), namespace=given.get("namespace") or "default", wait=bool(given.get("wait"))
        )
