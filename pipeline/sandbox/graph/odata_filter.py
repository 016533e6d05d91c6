"""The OData `$filter` subset a mail search folder's `filterQuery` is written in, parsed and evaluated over
a message as the Graph face answers it (its JSON, and its class as the extended property String 0x001A).

Understood: `and`, `or`, `not`, parentheses; `<path> eq|ne|gt|ge|lt|le <literal>` (strings compared without
regard to case, as Exchange compares them); `contains(<path>,'…')`, `startswith(<path>,'…')`;
`<collection>/any(<v>:<expression>)` over `categories` and `singleValueExtendedProperties` (`<v>/id`,
`<v>/value`). Anything else is refused as Graph refuses a filter it cannot run: 400
ErrorInvalidUrlQueryFilter, "The query filter contains one or more invalid nodes."
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.sandbox.graph.wire import GraphError

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w/.]*)|(?P<sym>[(),:]))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_PROPERTY_ID = re.compile(r"^\s*(\w+)\s+0x([0-9a-f]{1,4})\s*$", re.IGNORECASE)


def invalid() -> GraphError:
    return GraphError(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # and, or, not, cmp, func, any, literal, path
    args: tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise invalid()
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1].lower() != value):
            raise invalid()
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "name" and token[1].lower() in words

    def expression(self) -> Node:
        left = self.conjunction()
        while self.word("or"):
            self.take()
            left = Node("or", (left, self.conjunction()))
        return left

    def conjunction(self) -> Node:
        left = self.unary()
        while self.word("and"):
            self.take()
            left = Node("and", (left, self.unary()))
        return left

    def unary(self) -> Node:
        if self.word("not"):
            self.take()
            return Node("not", (self.unary(),))
        return self.primary()

    def value(self) -> Node:
        kind, text = self.take()
        if kind == "str":
            return Node("literal", (text[1:-1].replace("''", "'"),))
        if kind == "num":
            return Node("literal", (float(text) if "." in text else int(text),))
        if kind == "name" and text.lower() in ("true", "false", "null"):
            return Node("literal", ({"true": True, "false": False, "null": None}[text.lower()],))
        if kind == "name":
            return Node("path", (text,))
        raise invalid()

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise invalid()
        if token[1] == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        kind, text = self.take()
        if kind != "name":
            raise invalid()
        if self.peek() == ("sym", "("):
            self.take("(")
            if text.lower().endswith("/any"):
                collection = text[: -len("/any")]
                if collection not in ("categories", "singleValueExtendedProperties"):
                    raise invalid()
                variable = self.take()[1]
                self.take(":")
                body = self.expression()
                self.take(")")
                return Node("any", (collection, variable, body))
            if text.lower() not in ("contains", "startswith", "endswith"):
                raise invalid()
            target = self.value()
            self.take(",")
            needle = self.value()
            self.take(")")
            return Node("func", (text.lower(), target, needle))
        operator = self.take()[1].lower()
        if operator not in _COMPARE:
            raise invalid()
        return Node("cmp", (operator, Node("path", (text,)), self.value()))


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise invalid()
    return node


def _property_key(text: Any) -> tuple[str, int] | Any:
    """An extended property id compared as Graph compares them: type case aside, 0x1A = 0x001A."""
    match = _PROPERTY_ID.match(str(text)) if isinstance(text, str) else None
    return (match.group(1).lower(), int(match.group(2), 16)) if match else str(text).casefold()


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _resolve(node: Node, item: dict[str, Any], scope: dict[str, Any]) -> Any:
    if node.kind == "literal":
        return node.args[0]
    steps = node.args[0].split("/")
    current: Any = scope[steps[0]] if steps[0] in scope else item.get(steps[0])
    for step in steps[1:]:
        current = current.get(step) if isinstance(current, dict) else None
    return current


def _compare(operator: str, left: Any, right: Any) -> bool:
    left, right = _fold(left), _fold(right)
    if operator == "eq":
        return left == right
    if operator == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[operator]
    except TypeError:
        return False


def matches(node: Node, item: dict[str, Any], scope: dict[str, Any] | None = None) -> bool:
    """Whether the message (its Graph JSON, plus `singleValueExtendedProperties` as a list) passes."""
    scope = scope or {}
    if node.kind == "and":
        return matches(node.args[0], item, scope) and matches(node.args[1], item, scope)
    if node.kind == "or":
        return matches(node.args[0], item, scope) or matches(node.args[1], item, scope)
    if node.kind == "not":
        return not matches(node.args[0], item, scope)
    if node.kind == "cmp":
        operator, left, right = node.args
        left_value, right_value = _resolve(left, item, scope), _resolve(right, item, scope)
        if left.kind == "path" and left.args[0].lower().endswith("/id"):
            return _compare(operator, _property_key(left_value), _property_key(right_value))
        return _compare(operator, left_value, right_value)
    if node.kind == "func":
        name, target, needle = node.args
        text, part = _fold(_resolve(target, item, scope)), _fold(_resolve(needle, item, scope))
        if not isinstance(text, str) or not isinstance(part, str):
            return False
        return {"contains": part in text, "startswith": text.startswith(part), "endswith": text.endswith(part)}[name]
    if node.kind == "any":
        collection, variable, body = node.args
        values = item.get(collection)
        if collection not in ("categories", "singleValueExtendedProperties") or not isinstance(values, list):
            return False
        return any(matches(body, item, {**scope, variable: value}) for value in values)
    raise invalid()
