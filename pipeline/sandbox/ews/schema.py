"""Validation of request bodies against Microsoft's EWS schema (messages.xsd), loaded once per process.

The schema is found through REBUILD_EWS_SCHEMA or ../shared/ews-schema next to the repository; without it,
validation is off and the log says so once.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

log = logging.getLogger("pipeline.sandbox.schema")

ENV_VAR = "REBUILD_EWS_SCHEMA"
REPO_ROOT = Path(__file__).resolve().parents[3]  # pipeline/sandbox/ews/schema.py -> the repository

_lock = threading.Lock()
_loaded = False
_schema: etree.XMLSchema | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    message: str
    line: int
    column: int


def schema_dir() -> Path | None:
    configured = os.environ.get(ENV_VAR)
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared" / "ews-schema"
    return candidate if (candidate / "messages.xsd").is_file() else None


def get_schema() -> etree.XMLSchema | None:
    global _loaded, _schema
    if _loaded:
        return _schema
    with _lock:
        if not _loaded:
            folder = schema_dir()
            if folder is None:
                log.warning(
                    "EWS schema not found (set %s or provide ../shared/ews-schema): request validation is off",
                    ENV_VAR,
                )
            else:
                _schema = etree.XMLSchema(etree.parse(str(folder / "messages.xsd")))
                log.info("EWS schema loaded from %s", folder)
            _loaded = True
    return _schema


def available() -> bool:
    return get_schema() is not None


def validate(request: etree._Element) -> Violation | None:
    """The first violation in the request element (the first child of soap:Body), or None."""
    schema = get_schema()
    if schema is None:
        return None
    with _lock:
        try:
            if schema.validate(request):
                return None
        except (etree.LxmlError, ValueError, TypeError, RecursionError) as exc:
            # A tree the validator cannot walk is a request that failed validation, never a dropped connection.
            return Violation(f"the request could not be validated: {exc}", request.sourceline or 0, 0)
        errors = list(schema.error_log)
    if not errors:
        return Violation("invalid", 0, 0)
    first = errors[0]
    return Violation(first.message, first.line, first.column)
