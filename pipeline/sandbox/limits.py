"""Size and paging limits of the sandbox, with on-premises Exchange 2016 defaults.

EWS's web.config caps a request at about 35 MB (maxRequestLength/maxAllowedContentLength); items are capped
separately (configurable, 25 MB here) and FindItem/FindFolder pages at 1000 entries (EWSFindCountLimit).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_request_bytes: int = 35 * 1024 * 1024
    max_item_bytes: int = 25 * 1024 * 1024
    max_page_entries: int = 1000
