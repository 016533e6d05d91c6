"""Size, paging, concurrency and search-lag limits of the sandbox, with on-premises Exchange 2016 defaults.

EWS's web.config caps a request at about 35 MB (IIS's maxAllowedContentLength, answered with 404.13 by IIS's
request filtering); items are capped separately (configurable; 35 MB here, the same default as the run's --max-item-mb), FindItem/FindFolder pages at 1000
entries (EWSFindCountLimit) and concurrent requests per account at EWSMaxConcurrency (27 in Exchange 2013+'s
default throttling policy). Restricted searches may lag behind writes (`search_lag_s`, 0 = consistent).
`REBUILD_SANDBOX_SEARCH_LAG_S` and `REBUILD_SANDBOX_MAX_CONCURRENCY` change the defaults, so a whole test
suite can run against the stricter settings. `max_request_bytes` is enforced before a body is held: a larger
Content-Length is refused unread, a chunked body as soon as its count passes the limit (bodies.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: How an oversized request is refused: IIS request filtering (404.13), a plain 413, or the 507 with
#: `Connection: close` that on-premises Exchange has been seen to answer.
OVERSIZE_ANSWERS = ("404.13", "413", "507")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Limits:
    max_request_bytes: int = 35 * 1024 * 1024
    max_item_bytes: int = 35 * 1024 * 1024
    max_page_entries: int = 1000
    oversize_answer: str = "404.13"
    #: EWSMaxConcurrency: requests one account may have in progress at once (0 = no limit).
    max_concurrency: int = field(default_factory=lambda: int(_env_float("REBUILD_SANDBOX_MAX_CONCURRENCY", 27)))
    #: Seconds during which a new or changed item is invisible to a FindItem with a Restriction.
    search_lag_s: float = field(default_factory=lambda: _env_float("REBUILD_SANDBOX_SEARCH_LAG_S", 0.0))
    #: RulesQuota (Set-Mailbox): the room a mailbox's inbox rules may take, 64 KB by default on premises
    #: (settable up to 256 KB); measured here as the rules' stored XML (how Exchange counts is not documented).
    rules_quota_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.oversize_answer not in OVERSIZE_ANSWERS:
            raise ValueError(f"oversize_answer must be one of {OVERSIZE_ANSWERS}")
