"""Microsoft's Graph v1.0 metadata (CSDL): which properties each entity and complex type declares.

Request bodies the face accepts and the objects it answers are checked against it: a property the type
does not declare is what Graph refuses with 400 RequestBodyRead. Without the file, checks are off.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from lxml import etree

_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
DEFAULT_PATH = Path(__file__).resolve().parents[3].parent / "shared" / "graph-metadata" / "v1.0-cleanMetadata.xml"
#: Annotations OData allows on any object.
_ANNOTATION_PREFIX = "@odata."

_lock = threading.Lock()
_types: dict[str, tuple[str | None, set[str]]] | None = None


def path() -> Path:
    return Path(os.environ.get("REBUILD_GRAPH_METADATA") or DEFAULT_PATH)


def available() -> bool:
    return path().is_file()


def _load() -> dict[str, tuple[str | None, set[str]]]:
    global _types
    with _lock:
        if _types is None:
            found: dict[str, tuple[str | None, set[str]]] = {}
            for _, elem in etree.iterparse(
                str(path()), events=("end",), tag=(f"{_EDM}EntityType", f"{_EDM}ComplexType")
            ):
                base = elem.get("BaseType")
                names = {c.get("Name") or "" for c in elem if c.tag in (f"{_EDM}Property", f"{_EDM}NavigationProperty")}
                found[elem.get("Name") or ""] = (base.split(".")[-1] if base else None, names)
                elem.clear()
            _types = found
        return _types


def properties(type_name: str) -> set[str]:
    """Every property the type declares, its base types' included (empty for an unknown type)."""
    types = _load()
    names: set[str] = set()
    current: str | None = type_name
    while current and current in types:
        base, own = types[current]
        names |= own
        current = base
    return names


def unknown_properties(type_name: str, body: dict) -> list[str]:
    """The keys of body that type_name does not declare (OData annotations and '@' keys allowed)."""
    if not available():
        return []
    declared = properties(type_name)
    if not declared:
        return []
    return [k for k in body if not k.startswith(_ANNOTATION_PREFIX) and "@" not in k and k not in declared]


_actions: dict[tuple[str, str], dict[str, bool]] | None = None


def action_parameters(name: str, binding: str) -> dict[str, bool] | None:
    """The parameters (name -> required) of the action `name` bound to the entity type `binding` (its
    binding parameter aside); None when the metadata declares no such action (or is absent)."""
    global _actions
    if not available():
        return None
    with _lock:
        if _actions is None:
            found: dict[tuple[str, str], dict[str, bool]] = {}
            for _, elem in etree.iterparse(str(path()), events=("end",), tag=f"{_EDM}Action"):
                params = [p for p in elem if p.tag == f"{_EDM}Parameter"]
                if elem.get("IsBound") == "true" and params:
                    bound = (params[0].get("Type") or "").split(".")[-1]
                    found[(elem.get("Name") or "", bound)] = {
                        p.get("Name") or "": p.get("Nullable") == "false" for p in params[1:]
                    }
                elem.clear()
            _actions = found
    return _actions.get((name, binding))
