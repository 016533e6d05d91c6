"""The EWS operations by name: each operation module registers its function with `@operation("Name")`.

An operation is a function (ctx, request element) -> <m:XResponse> XML.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from pipeline.sandbox.ews.context import Context

Operation = Callable[[Context, etree._Element], str]
REGISTRY: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(func: Operation) -> Operation:
        REGISTRY[name] = func
        return func

    return register
