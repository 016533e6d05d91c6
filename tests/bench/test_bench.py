"""pytest entry for the benchmarks: `pytest -m bench -s tests/bench` runs the quick suite (prints, never asserts
on timings). Deselected from the default `pytest -q` by pyproject's addopts."""

from __future__ import annotations

import pytest

from tests.bench.__main__ import main


@pytest.mark.bench
def test_bench_quick_suite() -> None:
    assert main(["--quick"]) == 0
