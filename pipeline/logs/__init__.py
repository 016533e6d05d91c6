"""Logging set-up with structlog: readable lines on the console, JSON lines in the state directory.

A redaction step runs before both outputs, so secrets and message content never reach a log. Beside it:
handlers.py (the private, rotated log file), terminal.py (what reaches a person's terminal, escaped).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

import structlog

from pipeline.logs.handlers import SafeRotatingFileHandler, SafeStreamHandler
from pipeline.logs.terminal import shown, shown_values
from pipeline.state.problems import state_problem

#: Event keys whose values are never written anywhere: credentials and message content.
SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "authorization",
        "auth_header",
        "body",
        "html",
        "rtf",
        "mime",
        "content",
        "payload",
        "attachment_data",
    }
)
REDACTED = "[redacted]"


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: replace the values of secret or content-bearing keys."""
    for key in list(event):
        if key.lower() in SECRET_KEYS:
            event[key] = REDACTED
    return event


#: Libraries that log message content at debug level (RTFDE logs RTF documents): errors only, always.
QUIET_LOGGERS = ("RTFDE", "RTFDE.text_extraction", "RTFDE.transform", "RTFDE.grammar", "RTFDE.validation_logger")


#: Size at which logs/rebuild.jsonl is rotated, and how many rotated files are kept (rebuild.jsonl.1 ...).
LOG_MAX_BYTES = 50_000_000
LOG_BACKUPS = 5


class _ConsoleFilter(logging.Filter):
    """Events logged with file_only=True (libpff's error chains, a stopped mailbox's reason, which the
    closing summary already shows) stay out of the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, dict) and record.msg.get("file_only"))


def configure(
    log_dir: Path | None,
    console_level: str = "warning",
    json_console: bool = False,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> Path | None:
    """Route structlog through stdlib logging to stderr (people) and a JSON-lines file (machines).

    The file is rotated at max_bytes, keeping `backups` old files. Returns the log file path, or None when
    no state directory is used (e.g. `inspect` on its own).
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_rebuild", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)

    console = SafeStreamHandler(sys.stderr)
    console.setLevel(getattr(logging, console_level.upper(), logging.INFO))
    renderer = (
        structlog.processors.JSONRenderer()
        if json_console
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=_one_line)
    )
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, shown_values, renderer],
            foreign_pre_chain=shared,
        )
    )
    console.addFilter(_ConsoleFilter())
    console._rebuild = True  # type: ignore[attr-defined]
    root.addHandler(console)

    log_file = None
    if log_dir is not None:
        log_file = log_dir / "rebuild.jsonl"
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            fh: logging.Handler = SafeRotatingFileHandler(
                log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        except OSError as exc:  # read-only, full, or a directory where the log file belongs: one line
            problem = state_problem(exc, log_file)
            if problem is None:
                raise
            raise problem from None
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(),
                ],
                foreign_pre_chain=shared,
            )
        )
        fh._rebuild = True  # type: ignore[attr-defined]
        root.addHandler(fh)
    # Third-party chatter (exchangelib logs whole SOAP bodies at DEBUG) stays out of our logs.
    for noisy in ("exchangelib", "urllib3", "requests_ntlm", "spnego"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file


def _one_line(sio: Any, exc_info: Any) -> None:
    """Console exceptions as one line: the full traceback goes to the JSON file only."""
    _type, value, _tb = exc_info
    sio.write(f"\n{_type.__name__}: {shown(value)}")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
