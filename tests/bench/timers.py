"""Exclusive wall-time buckets for instrumenting a run in-process: wrap functions, nested time is not double-counted.

`wrap(owner, name, bucket)` patches a function or method; `wrap_iter` times each next() of a generator method.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

totals: dict[str, float] = defaultdict(float)
counts: dict[str, int] = defaultdict(int)
_stack: list[float] = []  # child time accumulated by each open frame


def _timed(bucket: str, call: Callable[[], Any]) -> Any:
    _stack.append(0.0)
    start = time.perf_counter()
    try:
        return call()
    finally:
        elapsed = time.perf_counter() - start
        child = _stack.pop()
        totals[bucket] += elapsed - child
        counts[bucket] += 1
        if _stack:
            _stack[-1] += elapsed


def wrap(owner: Any, name: str, bucket: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _timed(bucket, lambda: original(*args, **kwargs))

    setattr(owner, name, wrapper)


def wrap_iter(owner: Any, name: str, bucket: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inner = original(*args, **kwargs)
        while True:
            try:
                value = _timed(bucket, lambda: next(inner))
            except StopIteration:
                return
            yield value

    setattr(owner, name, wrapper)


def timed(bucket: str) -> Any:
    """Context manager form for code of the benchmark's own."""

    class _Ctx:
        def __enter__(self) -> None:
            _stack.append(0.0)
            self.start = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            elapsed = time.perf_counter() - self.start
            child = _stack.pop()
            totals[bucket] += elapsed - child
            counts[bucket] += 1
            if _stack:
                _stack[-1] += elapsed

    return _Ctx()


def snapshot() -> dict[str, float]:
    return {k: round(v, 3) for k, v in sorted(totals.items())}
