"""DavMail, headless, in front of the sandbox: a real EWS client that gives any mail client IMAP, CalDAV and
CardDAV on loopback ports (`rebuild sandbox preview`, tests/e2e/test_davmail.py).

Its settings are written to a private folder of their own (davmail.properties, its log beside it), the
ports are picked free, and it is stopped by terminate then kill: plain subprocess calls that work on
Windows as on Linux. Nothing here logs a password: DavMail gets none (the mail client logs in through it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

#: Environment variable naming the DavMail to run (its launcher, or davmail.jar).
ENV_DAVMAIL = "REBUILD_DAVMAIL"
#: Launchers tried in order on PATH: Debian's `davmail-server` (apt-get install davmail-server), then the
#: upstream `davmail` launcher (davmail.exe on Windows).
LAUNCHERS = ("davmail-server", "davmail")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_NAME = "davmail.log"


class DavmailNotFound(Exception):
    """No DavMail to run: names what was looked for."""

    def __init__(self, looked_for: tuple[str, ...]) -> None:
        self.looked_for = looked_for
        super().__init__(
            "DavMail not found (looked for " + ", ".join(looked_for) + f"; set {ENV_DAVMAIL} to its launcher "
            "or davmail.jar, or install it: apt-get install davmail-server)"
        )


class DavmailStartError(Exception):
    """DavMail exited or did not listen in time; carries its exit code and the end of its log."""

    def __init__(self, returncode: int | None, log_tail: str) -> None:
        self.returncode = returncode
        self.log_tail = log_tail
        state = "did not listen in time" if returncode is None else f"exited with {returncode}"
        super().__init__(f"DavMail {state}: {log_tail.strip()[-600:] or '(empty log)'}")


@dataclass(frozen=True, slots=True)
class DavmailPorts:
    imap: int
    caldav: int  # CalDAV and CardDAV share DavMail's HTTP port


@dataclass(frozen=True, slots=True)
class DavmailSettings:
    """What davmail.properties says: the EWS URL it fronts, its loopback ports, its log file."""

    ews_url: str
    ports: DavmailPorts
    log_path: Path
    bind: str = "127.0.0.1"
    log_level: str = "INFO"


def command_for(explicit: str | None = None) -> list[str]:
    """The command that starts DavMail with a properties file appended; DavmailNotFound if there is none."""
    candidates = [explicit or os.environ.get(ENV_DAVMAIL) or ""]
    looked_for: list[str] = [c for c in candidates if c]
    for candidate in filter(None, candidates):
        if candidate.lower().endswith(".jar"):
            java = shutil.which("java")
            if java and Path(candidate).is_file():
                return [java, "-jar", candidate, "-server"]
            looked_for.append("java")
        elif found := shutil.which(candidate):
            return [found]
    if explicit or os.environ.get(ENV_DAVMAIL):
        raise DavmailNotFound(tuple(looked_for))
    for name in LAUNCHERS:
        if found := shutil.which(name):
            return [found]
    raise DavmailNotFound(LAUNCHERS)


def properties_text(settings: DavmailSettings) -> str:
    """davmail.properties: EWS mode against one URL, server (headless) mode, IMAP and CalDAV/CardDAV on
    loopback without TLS, every other listener off, no past limit on events, a log file."""
    lines = {
        "davmail.server": "true",
        "davmail.mode": "EWS",
        "davmail.url": settings.ews_url,
        "davmail.imapPort": str(settings.ports.imap),
        "davmail.caldavPort": str(settings.ports.caldav),
        "davmail.popPort": "",  # empty: that listener is not started
        "davmail.smtpPort": "",
        "davmail.ldapPort": "",
        "davmail.bindAddress": settings.bind,
        "davmail.allowRemote": "false",
        "davmail.ssl.nosecureimap": "true",
        "davmail.ssl.nosecurecaldav": "true",
        "davmail.enableProxy": "false",
        "davmail.useSystemProxies": "false",
        "davmail.enableKerberos": "false",
        "davmail.disableUpdateCheck": "true",
        "davmail.enableKeepAlive": "false",
        "davmail.caldavPastDelay": "0",  # every event, however old (the default hides those over 90 days)
        "davmail.folderSizeLimit": "0",
        "davmail.timezoneId": "UTC",  # the sandbox has no GetUserConfiguration(OWA.UserOptions) to read it from
        "davmail.imapAutoExpunge": "true",
        "davmail.logFilePath": settings.log_path.as_posix(),
        "davmail.logFileSize": "10MB",
        "log4j.rootLogger": "WARN",
        "log4j.logger.davmail": settings.log_level,
        "log4j.logger.httpclient.wire": "WARN",
        "log4j.logger.org.apache.http": "WARN",
    }
    # Properties files escape backslashes and colons; a Windows path or URL stays what it is.
    return "".join(f"{key}={value.replace(chr(92), chr(92) * 2)}\n" for key, value in lines.items())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)  # on Windows only the read-only bit exists; the folder lives in the user's profile
    except OSError:
        pass
    return path


def _private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode("utf-8"))


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class DavmailHandle:
    """A running DavMail: `.ports`, `.imap_address`, `.caldav_url`, `.log_path`; `.stop()` (or `with`)."""

    def __init__(self, process: subprocess.Popen[bytes], settings: DavmailSettings, console: IO[bytes]) -> None:
        self.process = process
        self.settings = settings
        self._console = console

    @property
    def ports(self) -> DavmailPorts:
        return self.settings.ports

    @property
    def log_path(self) -> Path:
        return self.settings.log_path

    @property
    def imap_address(self) -> tuple[str, int]:
        return self.settings.bind, self.settings.ports.imap

    def caldav_url(self, mailbox: str, folder: str = "calendar") -> str:
        """DavMail's URL of a mailbox's calendar (`calendar`) or address book (`contacts`)."""
        return f"http://{self.settings.bind}:{self.settings.ports.caldav}/users/{mailbox}/{folder}/"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        """Terminate (TerminateProcess on Windows), then kill after STOP_TIMEOUT; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._console.close()
        return self.process.returncode

    def __enter__(self) -> DavmailHandle:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start(
    ews_url: str,
    workdir: Path,
    command: list[str] | None = None,
    ports: DavmailPorts | None = None,
    log_level: str = "INFO",
    timeout: float = START_TIMEOUT,
) -> DavmailHandle:
    """Write davmail.properties into `workdir` (made owner-only) and start DavMail on it; returns once its
    IMAP and CalDAV ports accept connections. DavmailNotFound, DavmailStartError."""
    launcher = command or command_for()
    workdir = _private_dir(Path(workdir))
    settings = DavmailSettings(
        ews_url=ews_url,
        ports=ports or DavmailPorts(imap=free_port(), caldav=free_port()),
        log_path=workdir / LOG_NAME,
        log_level=log_level,
    )
    props_path = workdir / "davmail.properties"
    _private_file(props_path, properties_text(settings))
    console_fd = os.open(
        workdir / "console.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o600
    )
    console = os.fdopen(console_fd, "ab")
    process = subprocess.Popen(
        [*launcher, str(props_path)],
        stdin=subprocess.DEVNULL,
        stdout=console,
        stderr=subprocess.STDOUT,
        cwd=str(workdir),
    )
    handle = DavmailHandle(process, settings, console)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _listening(settings.bind, settings.ports.imap) and _listening(settings.bind, settings.ports.caldav):
            return handle
        time.sleep(0.2)
    exited = process.poll()
    handle.stop()
    tail = handle.log_text()[-2000:] or (workdir / "console.log").read_text("utf-8", errors="replace")[-2000:]
    raise DavmailStartError(exited, tail)
