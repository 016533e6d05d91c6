"""Settings: config/default.toml, then REBUILD_* environment variables, then flags, as one frozen value.

Later layers win; every layer is optional except the defaults shipped in config/default.toml. General
settings sit at the top level; each destination has a section of its own ([ews], [graph]), read only by
that destination. Environment variables are REBUILD_<NAME> for top-level settings and
REBUILD_<SECTION>_<NAME> for a section's (REBUILD_SERVER, REBUILD_USERNAME, … still name [ews]'s).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "REBUILD_"
DESTINATIONS = ("ews", "graph")


class SettingsError(ValueError):
    """A setting has a value of the wrong kind; the message names the setting and where it came from."""


@dataclass(frozen=True, slots=True)
class EwsSettings:
    """[ews]: Exchange Web Services (on-premises Exchange, or the embedded sandbox)."""

    server: str = "sandbox"  # "sandbox" runs the embedded local EWS server; else the EWS URL
    auth: str = "ntlm"
    username: str = ""
    ca_bundle: str = ""
    request_timeout: int = 120

    @property
    def uses_sandbox(self) -> bool:
        return self.server == "sandbox"


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """[graph]: Microsoft Graph (Exchange Online, or the embedded sandbox's Graph face). The app's secret
    or certificate comes from the environment only (REBUILD_GRAPH_SECRET, REBUILD_GRAPH_CERT)."""

    server: str = "sandbox"  # "sandbox" runs the embedded sandbox's Graph face; else Graph's base URL
    login: str = "https://login.microsoftonline.com"  # the identity platform (national clouds differ)
    tenant: str = ""
    client_id: str = ""
    request_timeout: int = 120
    import_mime: str = "yes"  # yes: mail through the beta importMime action; no: JSON creation only
    upload_budget_mb: int = 150  # Graph's upload budget per app and mailbox: MB per upload_window seconds,
    upload_window: int = 300  # spent in the run's order (usable first), paced on our side
    requests_per_window: int = 10_000  # Graph's request budget per app and mailbox, per request_window
    request_window: int = 600  # seconds (paced on our side too, a share kept for the lease's renewals)

    @property
    def uses_sandbox(self) -> bool:
        return self.server == "sandbox"


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path = Path(".rebuild")
    destination: str = "ews"
    batch_items: int = 50
    batch_bytes: int = 10_000_000
    requests_in_flight: int = 2  # CreateItem requests in flight per mailbox
    max_concurrent_requests: int = 10  # EWS requests at once for the account, over the whole run
    max_item_mb: int = 35  # items larger than this are not sent (Exchange's default limit)
    large_items: str = "skip"  # skip | strip (send without the largest attachments, saved beside the reports)
    max_attempts: int = 8
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    mailbox_workers: int = 2  # mailboxes rebuilt at once (--map --workers)
    convert_processes: int = 0  # conversion processes per mailbox; 0 = automatic
    log_level: str = "warning"
    log_max_bytes: int = 50_000_000  # logs/rebuild.jsonl rotated at this size
    log_backups: int = 5  # rotated files kept
    reader: str = "native"  # native | libpff: which reader opens OST/PST files
    lease_seconds: int = 300  # a lease unrenewed this long is taken over (pipeline/lease.py)
    order: str = "usable-first"  # usable-first | folders: the order items go in (pipeline/rebuild/order.py)
    usable_mail_days: int = 30  # usable first: mail of this many days before the newest item comes first
    usable_calendar_days: int = 30  # usable first: calendar items ending this many days back or later
    temporal_task_queue: str = "rebuild"  # --engine temporal: the task queue workers poll
    temporal_heartbeat_seconds: int = 30  # a worker silent this long loses its mailbox to another worker
    temporal_mailboxes_per_server: int = 8  # mailboxes in flight per destination server, all workers; 0 = no cap
    temporal_part_items: int = 5000  # a mailbox runs in parts of whole folders of about this many items
    ews: EwsSettings = field(default_factory=EwsSettings)
    graph: GraphSettings = field(default_factory=GraphSettings)

    @property
    def uses_sandbox(self) -> bool:
        if self.destination == "graph":
            return self.graph.uses_sandbox
        return self.destination == "ews" and self.ews.uses_sandbox

    @property
    def request_timeout(self) -> int:
        """The request timeout of the destination in use."""
        return self.graph.request_timeout if self.destination == "graph" else self.ews.request_timeout

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite"

    @property
    def reports_dir(self) -> Path:
        return self.state_dir / "reports"

    @property
    def sandbox_dir(self) -> Path:
        return self.state_dir / "sandbox"


_SECTIONS: dict[str, type] = {"ews": EwsSettings, "graph": GraphSettings}
_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in _SECTIONS}
_SECTION_FIELDS = {name: {f.name: f for f in dataclasses.fields(cls)} for name, cls in _SECTIONS.items()}
#: Names kept from before the sections and the clearer names: old name -> (section or "", new name).
_ALIASES = {
    "server": ("ews", "server"),
    "auth": ("ews", "auth"),
    "username": ("ews", "username"),
    "ca_bundle": ("ews", "ca_bundle"),
    "request_timeout": ("ews", "request_timeout"),
    "workers": ("", "mailbox_workers"),
    "convert_workers": ("", "convert_processes"),
}
_AUTHS = ("ntlm", "basic", "oauth")
_READERS = ("native", "libpff")


def _coerce(kind: Any, name: str, raw: Any, origin: str) -> Any:
    try:
        if kind in ("int", int):
            return int(str(raw).replace("_", ""))
        if kind in ("float", float):
            return float(raw)
        if kind in ("Path", Path):
            return Path(str(raw))
        return str(raw)
    except ValueError:
        raise SettingsError(f"{origin}: setting {name!r} has a bad value {raw!r}") from None


class _Layers:
    """Collects values per section ("" is the top level), each coerced and checked as it comes."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {"": {}, **{s: {} for s in _SECTIONS}}

    def put(self, section: str, key: str, raw: Any, origin: str) -> None:
        if section == "" and key in _ALIASES:
            section, key = _ALIASES[key]
        fields = _FIELDS if section == "" else _SECTION_FIELDS.get(section, {})
        if key not in fields:
            where = f"[{section}] " if section else ""
            raise SettingsError(f"{origin}: unknown setting {where}{key!r}")
        self.values[section][key] = _coerce(fields[key].type, key, raw, origin)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
) -> Settings:
    """Merge the three layers; None values in overrides mean 'flag not given'. Overrides use top-level
    names or aliases ('server', 'workers'); 'ews.server' names a section's setting explicitly."""
    layers = _Layers()
    if defaults_file.exists():
        with defaults_file.open("rb") as fh:
            for key, raw in tomllib.load(fh).items():
                if isinstance(raw, dict) and key in _SECTIONS:
                    for sub, value in raw.items():
                        layers.put(key, sub, value, str(defaults_file))
                else:
                    layers.put("", key, raw, str(defaults_file))
    env = os.environ if environ is None else environ
    for key in [*_FIELDS, *_ALIASES]:
        env_key = ENV_PREFIX + key.upper()
        if env.get(env_key):
            layers.put("", key, env[env_key], f"environment {env_key}")
    for section, fields in _SECTION_FIELDS.items():
        for key in fields:
            env_key = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if env.get(env_key):
                layers.put(section, key, env[env_key], f"environment {env_key}")
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        section, _, name = key.rpartition(".")
        layers.put(section, name, raw, f"--{name.replace('_', '-')}")
    sections = {name: cls(**layers.values[name]) for name, cls in _SECTIONS.items()}
    settings = Settings(**layers.values[""], **sections)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    if settings.destination not in DESTINATIONS:
        raise SettingsError(
            f"setting 'destination' must be one of {', '.join(DESTINATIONS)}, not {settings.destination!r}"
        )
    if settings.ews.auth not in _AUTHS:
        raise SettingsError(f"setting 'auth' must be one of {', '.join(_AUTHS)}, not {settings.ews.auth!r}")
    if settings.reader not in _READERS:
        raise SettingsError(f"setting 'reader' must be one of {', '.join(_READERS)}, not {settings.reader!r}")
    if settings.graph.import_mime not in ("yes", "no"):
        raise SettingsError(f"setting [graph] 'import_mime' must be yes or no, not {settings.graph.import_mime!r}")
    if settings.order not in ("usable-first", "folders"):
        raise SettingsError(f"setting 'order' must be usable-first or folders, not {settings.order!r}")
    if settings.large_items not in ("skip", "strip"):
        raise SettingsError(f"setting 'large_items' must be skip or strip, not {settings.large_items!r}")
    if settings.convert_processes < 0:
        raise SettingsError("setting 'convert_processes' must be 0 (automatic) or more")
    if settings.lease_seconds < 2 * (settings.request_timeout + 1):
        raise SettingsError(
            f"setting 'lease_seconds' ({settings.lease_seconds}) must be at least twice the "
            f"request timeout plus a second ({settings.request_timeout} s): the run stops writing "
            f"that long before its lease could expire"
        )
    for key in (
        "batch_items",
        "batch_bytes",
        "max_attempts",
        "mailbox_workers",
        "requests_in_flight",
        "max_item_mb",
        "max_concurrent_requests",
        "log_max_bytes",
        "temporal_heartbeat_seconds",
        "temporal_part_items",
        "usable_mail_days",
        "usable_calendar_days",
    ):
        if getattr(settings, key) < 1:
            raise SettingsError(f"setting {key!r} must be at least 1")
