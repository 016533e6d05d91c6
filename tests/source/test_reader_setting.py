"""The `reader` setting: config default, REBUILD_READER, --reader, and what a bad value gets."""

from __future__ import annotations

import pytest

import fixtures
from pipeline.settings import SettingsError, load_settings
from tests.conftest import run_cli


def test_native_is_the_default_and_the_environment_overrides_it() -> None:
    assert load_settings(environ={}).reader == "native"
    assert load_settings(environ={"REBUILD_READER": "libpff"}).reader == "libpff"
    assert load_settings({"reader": "native"}, environ={"REBUILD_READER": "libpff"}).reader == "native"


def test_a_bad_reader_is_refused() -> None:
    with pytest.raises(SettingsError, match="reader"):
        load_settings(environ={"REBUILD_READER": "readpst"})
    result = run_cli("inspect", "--ost", str(fixtures.cached("small", format="pst")), "--reader", "readpst")
    assert result.returncode == 2 and "--reader" in result.stderr


def test_the_flag_reaches_the_reader(tmp_path) -> None:
    """A flipped stored CRC: the native reader reports the item (exit 1), libpff reads it (exit 0)."""
    source, manifest = fixtures.cached_build("small", format="pst")
    path = tmp_path / "crc.pst"
    path.write_bytes(source.read_bytes())
    fixtures.apply(path, manifest, [fixtures.Damage("item-crc", "RTF only body")])
    native = run_cli("inspect", "--ost", str(path), "--json", "--reader", "native")
    libpff = run_cli("inspect", "--ost", str(path), "--json", "--reader", "libpff")
    assert (native.returncode, libpff.returncode) == (1, 0)
    assert "damaged block, CRC mismatch" in native.stdout
