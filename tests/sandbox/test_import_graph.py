"""The sandbox's import graph has no cycle, imports inside functions included.

The reader of imports is tests/unit/test_house.py's (every module parsed with `ast`, no project code
imported; checked there against a planted cycle); this file keeps the sandbox's own verdict beside its tests.
"""

from __future__ import annotations

from tests.unit.test_house import _cycles, _graph, _modules


def test_the_checker_sees_a_cycle_behind_a_function_level_import() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_sandbox_has_no_import_cycle() -> None:
    graph = _graph(_modules())
    assert len(graph) > 50 and any(graph.values())  # the walk found the package and its imports
    in_sandbox = [c for c in _cycles(graph) if any(m.startswith("pipeline.sandbox") for m in c)]
    assert in_sandbox == []
