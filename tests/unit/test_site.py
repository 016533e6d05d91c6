"""The site page's pure parts: rows from Temporal's states, the rate series, and a page whose data can hold any
text (a mailbox or reason with markup stays text: the data is JSON the page sets as text, never HTML)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from pipeline.site.model import MailboxRow, RateSeries, Snapshot, rows_from_temporal
from pipeline.site.page import render


def test_rows_from_temporal_states():
    summary = SimpleNamespace(status="fatal", fatal="ErrorAccessDenied: no")
    states = [
        SimpleNamespace(
            mailbox="a@x", state="running", done=5, total=9, failed=0, attempt=1, retrying="", summary=None
        ),
        SimpleNamespace(
            mailbox="b@x", state="completed", done=0, total=0, failed=0, attempt=1, retrying="", summary=summary
        ),
        SimpleNamespace(
            mailbox="c@x", state="running", done=1, total=4, failed=0, attempt=2, retrying="timeout", summary=None
        ),
    ]
    rows = rows_from_temporal(states)
    assert [(r.state, r.done, r.total, r.reason) for r in rows] == [
        ("running", 5, 9, ""),
        ("fatal", 0, None, "ErrorAccessDenied: no"),
        ("running", 1, 4, "attempt 2, retrying: timeout"),
    ]


def test_rate_series_is_items_a_second_between_samples():
    now = [0.0]
    series = RateSeries(every=1.0, clock=lambda: now[0])
    for t, done in ((0, 0), (0.5, 10), (2, 40), (4, 40), (5, 90)):
        now[0] = t
        series.sample(done)
    assert series.points() == [(2.0, 20.0), (4.0, 0.0), (5.0, 50.0)]


def test_page_keeps_hostile_text_as_data():
    hostile = "</script><script>alert(1)</script>"
    snap = Snapshot(title="__DATA__ <b>", rows=[MailboxRow(mailbox=hostile, state="fatal", reason=hostile)])
    page = render(snap)
    assert page.count("</script>") == 2 and "<b>" not in page  # the data block's and the code's own
    data = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["rows"][0]["mailbox"] == hostile
    assert "textContent" in page and "innerHTML" not in page
