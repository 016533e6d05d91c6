"""Destinations: where a rebuilt mailbox is written, chosen by the `destination` setting.

base.py holds the Protocol a run needs and the typed values that cross it; ews/ speaks EWS with
exchangelib (Exchange on-premises, the sandbox); graph/ speaks Microsoft Graph (Exchange Online, the
sandbox's Graph face); fake.py is an in-memory destination for unit tests of the run, shipped in the
package like structlog.testing. A run imports base.py and open_destination() only.
"""

from __future__ import annotations

from typing import Any

from pipeline.destination.base import Destination
from pipeline.settings import Settings


def open_destination(endpoint: Any, settings: Settings) -> Destination:
    """The destination for an endpoint (plain, picklable connection data: ews.connect.Target for EWS)
    with the run's retry settings. Each process opens its own."""
    if settings.destination == "ews":
        from pipeline.destination.ews.mailbox import EwsDestination
        from pipeline.destination.ews.retry import RetryPolicy

        return EwsDestination(
            endpoint, RetryPolicy(settings.max_attempts, settings.backoff_initial, settings.backoff_max)
        )
    if settings.destination == "graph":
        from pipeline.destination.graph.mailbox import GraphDestination
        from pipeline.destination.graph.transport import RetryPolicy as GraphRetry

        return GraphDestination(
            endpoint, GraphRetry(settings.max_attempts, settings.backoff_initial, settings.backoff_max)
        )
    raise ValueError(f"unknown destination {settings.destination!r}")
