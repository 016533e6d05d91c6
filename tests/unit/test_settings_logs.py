"""Settings layering (defaults, environment, flags) and log redaction of secrets and content."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipeline import logs
from pipeline.settings import SettingsError, load_settings


def test_layers_later_wins(tmp_path: Path):
    defaults = tmp_path / "default.toml"
    defaults.write_text('batch_items = 50\nserver = "sandbox"\nbackoff_initial = 0.5\n')
    settings = load_settings({"batch_items": None}, {"REBUILD_BATCH_ITEMS": "20"}, defaults)
    assert settings.batch_items == 20
    settings = load_settings({"batch_items": 7}, {"REBUILD_BATCH_ITEMS": "20"}, defaults)
    assert settings.batch_items == 7
    assert settings.uses_sandbox and settings.backoff_initial == 0.5
    with pytest.raises(AttributeError):
        settings.batch_items = 3  # frozen


def test_bad_values_name_the_setting_and_origin(tmp_path: Path):
    with pytest.raises(SettingsError, match="REBUILD_WORKERS"):
        load_settings({}, {"REBUILD_WORKERS": "many"})
    with pytest.raises(SettingsError, match="auth"):
        load_settings({"auth": "kerberos"}, {})
    defaults = tmp_path / "default.toml"
    defaults.write_text("colour = 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings({}, {}, defaults)


def test_shipped_defaults_load():
    settings = load_settings({}, {})
    assert settings.state_dir == Path(".rebuild") and settings.max_attempts >= 1


def test_json_log_redacts_secrets_and_content(tmp_path: Path):
    log_file = logs.configure(tmp_path, "warning")
    log = logs.get_logger("test")
    log.info("connecting", password="hunter2", body="Dear Bob, the merger...", folder="Inbox")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    event = next(e for e in lines if e["event"] == "connecting")
    assert event["password"] == logs.REDACTED and event["body"] == logs.REDACTED and event["folder"] == "Inbox"
    assert "hunter2" not in log_file.read_text() and "merger" not in log_file.read_text()
