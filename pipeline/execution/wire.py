"""MailboxJob and Summary as plain JSON-ready dicts, for executors that carry them between machines.

Pure functions, no engine imported: the Temporal executor sends a job as its workflow input and gets a
summary back as its result. A job never carries a password (each worker reads its own), and an OST path
can be mapped on the worker when the share is mounted elsewhere (--path-map OLD=NEW).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pipeline.execution.base import MailboxJob
from pipeline.rebuild.merge import FilePart
from pipeline.rebuild.order import Span, YearRange
from pipeline.rebuild.run import RunOptions, Summary

WIRE_VERSION = 1


class WireError(ValueError):
    """A job or summary that is not one this version can read."""


def job_to_wire(job: MailboxJob, destination: str) -> dict[str, Any]:
    """The job as plain data; the endpoint (a dataclass of connection data) without any password."""
    options = dataclasses.asdict(job.options)
    options["ost"] = str(job.options.ost)
    options["more"] = [str(path) for path in job.options.more]  # a merge job's other files
    options["since"] = job.options.since.isoformat() if job.options.since else None
    options["only"], options["exclude"] = list(job.options.only), list(job.options.exclude)
    endpoint = None
    if job.endpoint is not None:
        endpoint = dataclasses.asdict(job.endpoint)
        endpoint.pop("password", None)
    return {"version": WIRE_VERSION, "destination": destination, "options": options, "endpoint": endpoint}


def job_from_wire(data: dict[str, Any], path_map: list[tuple[str, str]] | None = None) -> MailboxJob:
    """The job a worker runs: its OST path mapped, its endpoint rebuilt as the destination's own type."""
    if not isinstance(data, dict) or data.get("version") != WIRE_VERSION:
        raise WireError(f"not a version {WIRE_VERSION} mailbox job")
    raw = dict(data["options"])
    raw["ost"] = Path(map_path(raw["ost"], path_map or []))
    raw["more"] = tuple(Path(map_path(path, path_map or [])) for path in raw.get("more") or ())
    raw["since"] = datetime.fromisoformat(raw["since"]) if raw.get("since") else None
    raw["only"], raw["exclude"] = tuple(raw.get("only") or ()), tuple(raw.get("exclude") or ())
    if raw.get("settings") is not None:
        raw["settings"] = tuple(raw["settings"])
    if raw.get("folders") is not None:
        raw["folders"] = tuple(int(n) for n in raw["folders"])
    raw["span"] = Span(raw.get("span") or Span.ALL)
    raw["ranges"] = tuple(YearRange(**r) for r in raw.get("ranges") or ())
    if raw.get("set_part") is not None:  # a part of a set's workflow (execution/set_parts.py)
        raw["set_part"] = tuple(
            FilePart(int(p["file"]), tuple(int(n) for n in p["folders"]), bool(p["store"])) for p in raw["set_part"]
        )
    known = {f.name for f in dataclasses.fields(RunOptions)}
    options = RunOptions(**{k: v for k, v in raw.items() if k in known})
    endpoint = data.get("endpoint")
    if endpoint is not None:
        endpoint = _endpoint_from(data.get("destination", "ews"), endpoint)
    return MailboxJob(options, endpoint)


def _endpoint_from(destination: str, data: dict[str, Any]) -> Any:
    if destination == "ews":
        from pipeline.destination.ews.connect import Target

        known = {f.name for f in dataclasses.fields(Target)} - {"password"}
        return Target(**{k: v for k, v in data.items() if k in known})
    raise WireError(f"unknown destination {destination!r}")


def parse_path_map(values: list[str]) -> list[tuple[str, str]]:
    """--path-map OLD=NEW (repeatable) as pairs; ValueError naming the bad one."""
    pairs = []
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old or not new:
            raise ValueError(f"--path-map {value!r}: expected OLD=NEW, e.g. //fs01/osts=/mnt/osts")
        pairs.append((old, new))
    return pairs


def map_path(path: str, path_map: list[tuple[str, str]]) -> str:
    """path with the first matching OLD prefix replaced by NEW (a whole path component must match;
    backslashes and slashes are the same on the OLD side, so a Windows share maps onto a mount)."""
    norm = path.replace("\\", "/")
    for old, new in path_map:
        prefix = old.replace("\\", "/").rstrip("/")
        if norm == prefix or norm.startswith(prefix + "/"):
            rest = norm[len(prefix) :].lstrip("/")
            if not rest:
                return new
            parts = PurePosixPath(rest).parts
            joined = PureWindowsPath(new, *parts) if "\\" in new else PurePosixPath(new, *parts)
            return str(joined)
    return path


def summary_from_wire(data: dict[str, Any]) -> Summary:
    """A Summary from Summary.as_dict() (counters back as Counters; unknown keys ignored)."""
    known = {f.name for f in dataclasses.fields(Summary)}
    values = {k: v for k, v in data.items() if k in known}
    for key in ("skipped", "failed", "warnings"):
        values[key] = Counter(values.get(key) or {})
    return Summary(**values)
