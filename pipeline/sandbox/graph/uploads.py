"""Upload sessions (attachments of 3 MB to 150 MB): `POST …/messages/{id}/attachments/createUploadSession`
answers a pre-authenticated uploadUrl; the client PUTs the bytes in ranges (Content-Range), each range
starting where the last ended; the last one makes the attachment (201). Sessions live in memory and expire.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field

UPLOAD_PREFIX = "/sandbox-upload/"
MAX_BYTES = 150 * 1024 * 1024
#: Smaller files go in one POST: an upload session refuses them (Graph's documented 3 MB).
MIN_BYTES = 3 * 1024 * 1024
LIFETIME = 900.0
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class Session:
    app: str  # whose budget the bytes count against
    mailbox: str
    mailbox_id: int
    item_id: int
    name: str
    content_type: str
    size: int
    is_inline: bool
    content_id: str
    expires: float
    version: str  # v1.0 or beta, and the server's base URL: where the finished attachment's Location points
    base: str = ""
    received: bytearray = field(default_factory=bytearray)


class Uploads:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, session: Session) -> str:
        if session.size <= 0 or session.size > MAX_BYTES:
            raise UploadError(400, "ErrorAttachmentSizeLimitExceeded", f"size must be 1 to {MAX_BYTES} bytes")
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
            self._sessions[token] = session
        return token

    def put(self, token: str, content_range: str, data: bytes) -> Session | None:
        """Take one range; the finished session when it was the last, else None."""
        with self._lock:
            session = self._sessions.get(token)
            if session is None or session.expires < time.monotonic():
                raise UploadError(404, "ItemNotFound", "The upload session does not exist or has expired.")
            match = _RANGE.match(content_range.strip())
            if not match:
                raise UploadError(400, "InvalidContentRangeHeader", "Content-Range must be 'bytes a-b/total'.")
            first, last, total = (int(g) for g in match.groups())
            if (
                total != session.size
                or first != len(session.received)
                or last < first
                or last - first + 1 != len(data)
                or last >= total
            ):
                raise UploadError(416, "InvalidRange", f"expected bytes {len(session.received)}- of {session.size}")
            session.received.extend(data)
            if len(session.received) < session.size:
                return None
            return self._sessions.pop(token)

    def owner(self, token: str) -> Session | None:
        with self._lock:
            return self._sessions.get(token)

    def next_expected(self, token: str) -> str:
        with self._lock:
            session = self._sessions.get(token)
            return f"{len(session.received)}-" if session else ""
