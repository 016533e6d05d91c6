"""Settings: config/default.toml, then REBUILD_* environment variables, then flags, as one frozen value.

Later layers win; every layer is optional except the defaults shipped in config/default.toml.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "REBUILD_"


class SettingsError(ValueError):
    """A setting has a value of the wrong kind; the message names the setting and where it came from."""


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path = Path(".rebuild")
    server: str = "sandbox"
    auth: str = "ntlm"
    username: str = ""
    ca_bundle: str = ""
    batch_items: int = 50
    batch_bytes: int = 10_000_000
    requests_in_flight: int = 2
    max_attempts: int = 8
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    request_timeout: int = 120
    workers: int = 2
    convert_workers: int = 0
    log_level: str = "info"
    log_max_bytes: int = 50_000_000
    log_backups: int = 5

    @property
    def uses_sandbox(self) -> bool:
        return self.server == "sandbox"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.sqlite"

    @property
    def sandbox_dir(self) -> Path:
        return self.state_dir / "sandbox"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_AUTHS = ("ntlm", "basic", "oauth")


def _coerce(name: str, raw: Any, origin: str) -> Any:
    kind = _FIELDS[name].type
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


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
) -> Settings:
    """Merge the three layers; None values in overrides mean 'flag not given'."""
    values: dict[str, Any] = {}
    if defaults_file.exists():
        with defaults_file.open("rb") as fh:
            for key, raw in tomllib.load(fh).items():
                if key not in _FIELDS:
                    raise SettingsError(f"{defaults_file}: unknown setting {key!r}")
                values[key] = _coerce(key, raw, str(defaults_file))
    env = os.environ if environ is None else environ
    for key in _FIELDS:
        env_key = ENV_PREFIX + key.upper()
        if env_key in env and env[env_key] != "":
            values[key] = _coerce(key, env[env_key], f"environment {env_key}")
    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        if key not in _FIELDS:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = _coerce(key, raw, f"--{key.replace('_', '-')}")
    settings = Settings(**values)
    if settings.auth not in _AUTHS:
        raise SettingsError(f"setting 'auth' must be one of {', '.join(_AUTHS)}, not {settings.auth!r}")
    if settings.convert_workers < 0:
        raise SettingsError("setting 'convert_workers' must be 0 (one per core) or more")
    for key in ("batch_items", "batch_bytes", "max_attempts", "workers", "requests_in_flight", "log_max_bytes"):
        if getattr(settings, key) < 1:
            raise SettingsError(f"setting {key!r} must be at least 1")
    return settings
