"""The house's shape, read from the code with `ast` (imports inside functions included): no import cycle
among the pipeline's modules, argparse only in the shell package, a small entrance hall.

The whole package is checked, the sandbox and the readers included (tests/sandbox/test_import_graph.py
says the same of the sandbox alone).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"
SHELL = "pipeline.cli"
OUTSIDE_THE_CYCLE_CHECK: tuple[str, ...] = ()
#: Modules at pipeline/ top level, __init__.py and __main__.py included.
TOP_LEVEL_AT_MOST = 12


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Every pipeline module `name` imports, at any depth of its code (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pipeline.x import y`: y is a module of its own, or a name of pipeline.x
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` names a.b.c; an attribute names its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    known = set(modules)
    return {name: _imported(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def _checked(name: str) -> bool:
    return not any(name == out or name.startswith(out + ".") for out in OUTSIDE_THE_CYCLE_CHECK)


def test_the_reader_of_imports_sees_a_cycle_hidden_in_a_function(tmp_path: Path):
    """The oracle itself: a cycle closed only by an import inside a function is found."""
    (tmp_path / "a.py").write_text("import pipeline.b\n")
    (tmp_path / "b.py").write_text("def f():\n    from pipeline.a import x\n")
    (tmp_path / "c.py").write_text("from pipeline import a\n")
    modules = {f"pipeline.{p.stem}": p for p in sorted(tmp_path.glob("*.py"))}
    graph = {name: _imported(name, path, set(modules)) for name, path in modules.items()}
    assert graph["pipeline.c"] == {"pipeline.a"}
    assert _cycles(graph) == [["pipeline.a", "pipeline.b"]]


def test_no_import_cycle_among_the_pipelines_modules():
    graph = _graph(_modules())
    checked = {name: {t for t in targets if _checked(t)} for name, targets in graph.items() if _checked(name)}
    assert len(checked) > 100 and sum(map(len, checked.values())) > 200  # the whole house was read
    assert _cycles(checked) == []


def test_argparse_only_in_the_shell_package():
    users = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "argparse" for a in node.names)) or (
                isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "argparse"
            ):
                users.add(name)
    # the sandbox is a separate program with its own command line (`rebuild sandbox`, `python -m pipeline.sandbox`)
    outside = {name for name in users if not name.startswith(SHELL + ".") and not name.startswith("pipeline.sandbox.")}
    assert "pipeline.cli.main" in users
    assert outside == set()
    # below the commands, the flags travel as frozen values (cli/options.py), never as the Namespace
    assert users & {"pipeline.cli.jobs", "pipeline.cli.closing", "pipeline.cli.report", "pipeline.cli.mapping"} == set()


def test_a_small_entrance_hall():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert "__main__.py" in top and len(top) <= TOP_LEVEL_AT_MOST, top


def test_nothing_below_the_shell_imports_it():
    """The shell sits on top: `python -m pipeline` (__main__.py) enters it, nothing else reaches up into it."""
    graph = _graph(_modules())
    shell = {name for name in graph if name == SHELL or name.startswith(SHELL + ".")}
    reaching_up = {
        name: sorted(targets & shell)
        for name, targets in graph.items()
        if name not in shell and name != "pipeline.__main__" and targets & shell
    }
    assert shell and reaching_up == {}


def test_the_identity_of_an_item_is_not_computed_by_the_conversion():
    """ARCHITECTURE.md: the fingerprint comes from source properties, never from conversion code."""
    targets = _graph(_modules())["pipeline.fingerprint"]
    assert "pipeline.props" in targets
    assert {t for t in targets if t == "pipeline.convert" or t.startswith("pipeline.convert.")} == set()


def _ews_only_field_names() -> set[str]:
    """exchangelib's own field names for the typed kinds (read from exchangelib, not from our mapping) that
    are not also a name of the item values: the words only EWS's vocabulary has ('legacy_free_busy_status',
    'company_name', 'reminder_minutes_before_start', ...); compound names only, so 'size' or 'type' pass."""
    import dataclasses

    from exchangelib import CalendarItem, Contact, DistributionList, Task

    from pipeline import item_values as v

    ews = {f.name for kind in (CalendarItem, Contact, DistributionList, Task) for f in kind.FIELDS}
    values = [getattr(v, name) for name in v.__all__ if dataclasses.is_dataclass(getattr(v, name))]
    ours = {f.name for kind in values for f in dataclasses.fields(kind)}
    return {name for name in ews - ours if not name.startswith("_") and "_" in name}


def test_only_the_ews_destination_speaks_exchangelibs_field_names():
    """Convert builds the typed item values; exchangelib's field names live in destination/ews alone (the
    sandbox, a separate program, names EWS's wire elements its own way)."""
    words = _ews_only_field_names()
    assert {"legacy_free_busy_status", "company_name", "required_attendees", "total_work"} <= words
    speakers: dict[str, set[str]] = {}
    for name, path in _modules().items():
        if name.startswith(("pipeline.destination.ews.", "pipeline.sandbox.")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in words:
                speakers.setdefault(name, set()).add(node.value)
            elif isinstance(node, ast.keyword) and node.arg in words:
                speakers.setdefault(name, set()).add(node.arg)
    assert speakers == {}
