"""Header fast paths against what they stand in for: dates written without the email package's parse and
format (email.utils), short headers without their segments (folding.fold of folding.words), and the
fingerprint's seconds without strftime."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from pipeline import fingerprint
from pipeline.convert import folding, headers
from pipeline.convert.headers import _date


def reference_date(name: str, value: str | datetime) -> str | None:
    """headers._date as it was before the rewrite (commit 04a0615)."""
    try:
        when = value if isinstance(value, datetime) else parsedate_to_datetime(value)
        return folding.fold(name, folding.words(format_datetime(when)))
    except Exception:
        return None


class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None


def _random_moment(rnd: random.Random) -> datetime:
    return datetime(
        rnd.choice([rnd.randint(1000, 9999), rnd.randint(1900, 2100)]),
        rnd.randint(1, 12),
        rnd.randint(1, 28),
        rnd.randint(0, 23),
        rnd.randint(0, 59),
        rnd.randint(0, 59),
        rnd.randint(0, 999999),
    )


ZONES = [
    None,
    UTC,
    timezone(timedelta(0)),
    timezone(timedelta(hours=9)),
    timezone(timedelta(hours=-5, minutes=-30)),
    timezone(timedelta(hours=23, minutes=59)),
    _NoOffset(),
]


def test_datetimes_format_as_format_datetime() -> None:
    rnd = random.Random(1)
    for _ in range(2000):
        when = _random_moment(rnd).replace(tzinfo=rnd.choice(ZONES))
        assert _date("Date", when) == reference_date("Date", when)


def _mangle(rnd: random.Random, text: str) -> str:
    """A canonical date string, or one edit away from it (where a fast path could go wrong)."""
    edits = [
        lambda t: t,
        lambda t: t,
        lambda t: t.replace(t[:3], rnd.choice(headers._DAYS)),  # wrong weekday
        lambda t: t.replace(" +", " -"),
        lambda t: t[:-5] + rnd.choice(["+2400", "-0000", "+0060", "GMT", "UT", "EST", "+9999", "-2359", "+00000"]),
        lambda t: t[:5] + rnd.choice(["31", "30", "29", "00", "32", "1", "7 "]) + t[7:],  # impossible days
        lambda t: t[:12] + rnd.choice(["0999", "0050", "10000", "99", "1000"]) + t[16:],
        lambda t: t[:17] + rnd.choice(["24", "23", "1", "99"]) + t[19:],
        lambda t: t.replace(":", rnd.choice([":", "."]), 1)[:-9] + rnd.choice(["60", "59", "61"]) + t[-6:],
        lambda t: t[5:],
        lambda t: t.lower(),
        lambda t: t.replace(" ", "  ", 1),
        lambda t: " " + t,
        lambda t: t + " ",
        lambda t: t.replace("Feb", "Fév"),
        lambda t: t.replace("0", "\u0660", 1),
        lambda t: t[:-6],
        lambda t: t + " (UTC)",
        lambda t: t + " (Pacific  Daylight Time)",
        lambda t: t + " (x",
        lambda t: t + " (é)",
        lambda t: t + " ((x))",
        lambda t: t[:-5] + rnd.choice(["GMT", "UT", "UTC", "Z", "gmt"]),
        lambda t: t[5:] if rnd.random() < 0.5 else t[:5] + t[6:] if t[5] == "0" else t,
    ]
    return rnd.choice(edits)(text)


def test_date_strings_come_out_as_parse_and_format_make_them() -> None:
    rnd = random.Random(2)
    fast = 0
    for _ in range(5000):
        zone = timezone(timedelta(minutes=rnd.randint(-1439, 1439)))
        text = _mangle(rnd, format_datetime(_random_moment(rnd).replace(tzinfo=rnd.choice([zone, UTC, None]))))
        assert _date("Date", text) == reference_date("Date", text), text
        fast += headers._fast_date(text) is not None
    assert fast > 1000  # the fast path was taken often, and agreed


@pytest.mark.parametrize(
    "text",
    [
        "Mon, 01 Apr 2024 13:35:00 +0000",
        "Thu, 29 Feb 2024 00:00:00 -0000",
        "Fri, 29 Feb 2023 00:00:00 +0000",
        "Sun, 31 Dec 9999 23:59:59 -2359",
        "Mon, 01 Jan 1000 00:00:00 +0100",
        "Tue, 01 Apr 2024 13:35:00 +0000",
        "",
        "x",
        "Mon, 1 Apr 2024 13:35:00 +0000",
        "01 Apr 2024 13:35:00 +0000",
    ],
)
def test_date_edges(text: str) -> None:
    assert _date("Date", text) == reference_date("Date", text)


def test_seconds_match_strftime() -> None:
    rnd = random.Random(3)
    for _ in range(3000):  # the years props.as_time lets through
        when = datetime(
            rnd.randint(1602, 4499),
            rnd.randint(1, 12),
            rnd.randint(1, 28),
            rnd.randint(0, 23),
            rnd.randint(0, 59),
            rnd.randint(0, 59),
            rnd.randint(0, 999999),
            tzinfo=UTC,
        )
        assert fingerprint._second(when) == when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fingerprint._second(None) == ""


def test_fold_words_matches_fold_of_words() -> None:
    rnd = random.Random(4)
    pieces = ["a", "word", "longerword", " ", "  ", "\t", " \t", "x" * 40, "y" * 90, "=?utf-8?q?a?=", "<a@b.c>"]
    for _ in range(3000):
        name = rnd.choice(["Subject", "X", "Received", "X-" + "h" * rnd.randint(0, 80)])
        value = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30)))
        for trail in (False, True):
            segments = folding.words(value)
            expected = folding.fold(name, folding._trail(segments) if trail else segments)
            assert folding.fold_words(name, value, trail) == expected, (name, value, trail)
