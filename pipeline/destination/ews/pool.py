"""Keep exchangelib's session pool at the size we configured (max_concurrent_requests).

exchangelib answers ErrorServerBusy and ErrorExceededConnectionCount by shrinking its session pool
(Protocol.decrease_poolsize), which takes a session out of the pool while holding the pool's lock; when every
session is in use and the pool is below its maximum, taking one tries to grow the pool under that same lock,
and the thread deadlocks (a run against a sandbox enforcing EWSMaxConcurrency hung this way). Concurrency is
capped by max_concurrent_requests and back-off belongs to tenacity (retry.py), so the shrinking is off.
"""

from __future__ import annotations

from typing import Any

from exchangelib.errors import SessionPoolMinSizeReached


def _keep_size() -> None:
    raise SessionPoolMinSizeReached("the session pool keeps its configured size")


def keep_pool_size(protocol: Any) -> None:
    """Make exchangelib's pool-shrinking a no-op for this protocol (shared by every account of its login)."""
    protocol.decrease_poolsize = _keep_size
