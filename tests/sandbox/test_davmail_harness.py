"""The DavMail harness without DavMail: which launcher it picks, the settings file it writes, and what a
launcher that dies at once gives (an error carrying its exit code and output, nothing left running).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from pipeline.sandbox import davmail


def _properties(text: str) -> dict[str, str]:
    """A java.util.Properties reading of key=value lines (backslash escapes undone), written here."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        found[key] = value.replace("\\\\", "\x00").replace("\\", "").replace("\x00", "\\")
    return found


def test_properties_headless_ews_loopback_no_other_listener():
    settings = davmail.DavmailSettings(
        "http://127.0.0.1:8765/EWS/Exchange.asmx",
        davmail.DavmailPorts(1143, 1080),
        Path("C:\\Users\\admin\\AppData\\Local\\Temp\\x\\davmail.log"),
    )
    props = _properties(davmail.properties_text(settings))
    assert props["davmail.mode"] == "EWS" and props["davmail.server"] == "true"
    assert props["davmail.url"] == "http://127.0.0.1:8765/EWS/Exchange.asmx"
    assert (props["davmail.imapPort"], props["davmail.caldavPort"]) == ("1143", "1080")
    assert props["davmail.popPort"] == props["davmail.smtpPort"] == props["davmail.ldapPort"] == ""
    assert props["davmail.bindAddress"] == "127.0.0.1" and props["davmail.allowRemote"] == "false"
    assert props["davmail.ssl.nosecureimap"] == props["davmail.ssl.nosecurecaldav"] == "true"
    assert props["davmail.caldavPastDelay"] == "0"
    # A Windows path survives the properties file's escaping (a backslash would otherwise vanish).
    assert props["davmail.logFilePath"] in (
        "C:\\Users\\admin\\AppData\\Local\\Temp\\x\\davmail.log",
        "C:/Users/admin/AppData/Local/Temp/x/davmail.log",
    )


def test_launcher_named_by_environment_or_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(davmail.ENV_DAVMAIL, str(tmp_path / "no-such-davmail"))
    with pytest.raises(davmail.DavmailNotFound) as refused:
        davmail.command_for()
    assert str(tmp_path / "no-such-davmail") in str(refused.value)
    jar = tmp_path / "davmail.jar"
    jar.write_bytes(b"PK")
    if shutil.which("java"):
        assert davmail.command_for(str(jar))[1:] == ["-jar", str(jar), "-server"]


def test_a_launcher_that_dies_is_an_error_with_its_output(tmp_path: Path):
    dying = [sys.executable, "-c", "import sys; print('no java here'); sys.exit(3)"]
    with pytest.raises(davmail.DavmailStartError) as failed:
        davmail.start("http://127.0.0.1:1/EWS/Exchange.asmx", tmp_path / "dm", command=dying, timeout=20)
    assert failed.value.returncode == 3
    assert "no java here" in failed.value.log_tail
    assert (tmp_path / "dm" / "davmail.properties").is_file()
