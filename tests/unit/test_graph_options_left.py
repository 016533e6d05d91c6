"""Over Graph the other configuration objects are listed as left, with the reason, when `options` is selected
(v1.0 has no resource for them): nothing is written, nothing dropped silently."""

from __future__ import annotations

from typing import Any

from pipeline.convert.user_settings import read_setting
from pipeline.destination.base import SettingsLinks
from pipeline.destination.graph.user_settings import GraphSettings
from pipeline.model import SourceItem

DICTIONARY = b'<UserConfiguration><Data><e k="18-piRemindDefault" v="9-15"/></Data></UserConfiguration>'


class Server:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str]] = []

    def pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        return []

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.writes.append((method, path))
        return {}


def test_options_listed_as_left_over_graph():
    messages = [
        read_setting(
            SourceItem(n, (folder,), f"IPM.Configuration.{name}", {0x7C07: DICTIONARY}, {}, [], [], associated=True)
        )
        for n, (folder, name) in enumerate((("Calendar", "Calendar"), ("Inbox", "ConversationPrefs"), ("Inbox", "ELC")))
    ]
    server = Server()
    links = SettingsLinks(lambda _e: None, lambda _p: None, "ROOT")
    outcomes = list(GraphSettings(server).restore(messages, ("options",), links))  # type: ignore[arg-type]
    assert server.writes == []
    [outcome] = outcomes
    assert outcome.action == "not restored" and "EWS UpdateUserConfiguration" in outcome.reason
    left = " ".join(outcome.left)
    assert "IPM.Configuration.Calendar (1 options)" in left and "IPM.Configuration.ConversationPrefs" in left
    assert "ELC" not in left  # the server's own: not the user's to restore, over either face
