"""Restriction and SortOrder of FindItem/FindFolder, translated into SQL over the items table.

Comparisons follow Exchange: strings compare case-insensitively, and an item that lacks the property never
matches a comparison (not even IsNotEqualTo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pipeline.sandbox import props
from pipeline.sandbox.ews import computed, extended
from pipeline.sandbox.ews.soap import T_NS

_T = f"{{{T_NS}}}"

#: FieldURI -> (column, kind) for the properties kept as typed columns.
ITEM_COLUMNS: dict[str, tuple[str, str]] = {
    "item:Subject": ("subject", "text"),
    "item:ItemClass": ("item_class", "text"),
    "item:DateTimeReceived": ("received", "time"),
    "item:DateTimeSent": ("sent", "time"),
    "item:DateTimeCreated": ("created", "time"),
    "item:LastModifiedTime": ("modified", "time"),
    "item:Size": ("size", "int"),
    "item:IsDraft": ("is_draft", "bool"),
    "message:IsRead": ("is_read", "bool"),
    "item:HasAttachments": ("has_attachments", "bool"),
    "message:InternetMessageId": ("message_id", "text"),
}

FOLDER_COLUMNS: dict[str, tuple[str, str]] = {
    "folder:DisplayName": ("name", "text"),
    "folder:FolderClass": ("folder_class", "text"),
}

_OPS = {
    "IsEqualTo": "=",
    "IsNotEqualTo": "!=",
    "IsGreaterThan": ">",
    "IsGreaterThanOrEqualTo": ">=",
    "IsLessThan": "<",
    "IsLessThanOrEqualTo": "<=",
}


#: Search expressions one Restriction may hold: "ErrorRestrictionTooLong: This error occurs if the restriction
#: contains more than 255 nodes" (learn.microsoft.com/exchange/client-developer/web-service-reference/responsecode).
MAX_NODES = 255
#: Nesting of And/Or/Not the SQL translation takes after double negations and same-kind And/Or are folded
#: away. SQLite's parser stack (100 entries) overflows near 30 levels of our clauses; deeper restrictions
#: are answered ErrorRestrictionTooComplex, "the restriction cannot be evaluated by Exchange Web Services"
#: (same page): the sandbox cannot evaluate them, and a client must not rely on that depth anyway.
MAX_DEPTH = 20

_EXPRESSIONS = frozenset(
    {
        "And",
        "Or",
        "Not",
        "Exists",
        "Excludes",
        "Contains",
        "IsEqualTo",
        "IsNotEqualTo",
        "IsGreaterThan",
        "IsGreaterThanOrEqualTo",
        "IsLessThan",
        "IsLessThanOrEqualTo",
    }
)


class RestrictionError(ValueError):
    """A restriction the sandbox cannot evaluate; answered with `code`."""

    def __init__(self, message: str, code: str = "ErrorUnsupportedQueryFilter") -> None:
        super().__init__(message)
        self.code = code


@dataclass(slots=True)
class Sql:
    where: str = "1"
    params: list[Any] = field(default_factory=list)


def _local(elem: etree._Element) -> str:
    return etree.QName(elem).localname


def _target(elem: etree._Element) -> etree._Element:
    for child in elem:
        if _local(child) in ("FieldURI", "ExtendedFieldURI", "IndexedFieldURI"):
            return child
    raise RestrictionError("restriction without a property path", "ErrorInvalidRestriction")


def _constant(elem: etree._Element) -> str:
    holder = elem.find(f"{_T}FieldURIOrConstant")
    if holder is None:
        raise RestrictionError("comparison without FieldURIOrConstant", "ErrorInvalidRestriction")
    constant = holder.find(f"{_T}Constant")
    if constant is None:
        raise RestrictionError("comparing two properties is not supported")
    return constant.get("Value", "")


def _column_value(kind: str, text: str) -> Any:
    if kind == "time":
        return props.normalize_datetime(text)
    if kind == "bool":
        return 1 if text.strip().lower() in ("true", "1") else 0
    if kind == "int":
        return int(text)
    return text


def _leaf(elem: etree._Element, local: str, columns: dict[str, tuple[str, str]], table: str) -> Sql:
    path = _target(elem)
    path_local = _local(path)
    if path_local == "ExtendedFieldURI":
        if table != "items":
            raise RestrictionError("extended properties in folder restrictions are not supported")
        return _ext_leaf(elem, local, extended.parse_uri(path))
    uri = path.get("FieldURI", "")
    if uri == "item:Categories" and table == "items":
        if local != "Exists":  # a multi-valued property: Exchange takes Exists; the sandbox no comparison
            raise RestrictionError(f"{local} on item:Categories is not supported", "ErrorUnsupportedPathForQuery")
        return Sql("json_extract(items.fields, '$.Categories') IS NOT NULL")
    if uri not in columns:
        raise RestrictionError(f"restriction on {uri} is not supported", "ErrorUnsupportedPathForQuery")
    column, kind = columns[uri]
    collate = " COLLATE NOCASE" if kind == "text" else ""
    if local == "Exists":
        return Sql(f"{column} IS NOT NULL")
    if local in _OPS:
        try:
            value = _column_value(kind, _constant(elem))
        except ValueError as exc:
            raise RestrictionError(str(exc), "ErrorInvalidValueForProperty") from exc
        return Sql(f"({column} IS NOT NULL AND {column} {_OPS[local]} ?{collate})", [value])
    if local == "Contains":
        return _contains(elem, column)
    raise RestrictionError(f"{local} is not supported")


def _computed_leaf(elem: etree._Element, local: str, column: computed.ItemColumn) -> Sql:
    """A comparison on a property Exchange computes (message class, IMAP number, recurring...): its column."""
    if local == "Exists":
        return Sql(f"{column.sql} IS NOT NULL")
    if local in _OPS:
        try:
            value = _column_value(column.kind, _constant(elem))
        except ValueError as exc:
            raise RestrictionError(str(exc), "ErrorInvalidValueForProperty") from exc
        collate = " COLLATE NOCASE" if column.kind == "text" else ""
        return Sql(f"({column.sql} IS NOT NULL AND {column.sql} {_OPS[local]} ?{collate})", [value])
    if local == "Contains" and column.kind == "text":
        return _contains(elem, column.sql)
    raise RestrictionError(f"{local} is not supported on this property")


def _ext_leaf(elem: etree._Element, local: str, uri: extended.ExtendedUri) -> Sql:
    column = computed.ITEM_SQL.get(uri.key)
    if column is not None:
        return _computed_leaf(elem, local, column)
    base = "items.id IN (SELECT item_id FROM ext_props WHERE key=?"
    if local == "Exists":
        return Sql(base + ")", [uri.key])
    if local in _OPS:
        try:
            value = props.normalize(uri.ptype, _constant(elem))
        except props.PropertyError as exc:
            raise RestrictionError(str(exc), "ErrorInvalidValueForProperty") from exc
        number = props.numeric(uri.ptype, value)
        if number is not None:
            return Sql(base + f" AND num {_OPS[local]} ?)", [uri.key, number])
        collate = " COLLATE NOCASE" if uri.ptype in ("String", "") else ""
        return Sql(base + f" AND value {_OPS[local]} ?{collate})", [uri.key, value])
    if local == "Contains":
        inner = _contains(elem, "value")
        return Sql(base + f" AND {inner.where})", [uri.key, *inner.params])
    if local == "Excludes":
        bitmask = elem.find(f"{_T}Bitmask")
        mask = int((bitmask.get("Value") if bitmask is not None else "0") or "0", 0)
        return Sql(base + " AND (CAST(num AS INTEGER) & ?) = 0)", [uri.key, mask])
    raise RestrictionError(f"{local} is not supported")


def _contains(elem: etree._Element, column: str) -> Sql:
    constant = elem.find(f"{_T}Constant")
    text = constant.get("Value", "") if constant is not None else ""
    mode = elem.get("ContainmentMode", "Substring")
    comparison = elem.get("ContainmentComparison", "IgnoreCase")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = {"FullString": escaped, "Prefixed": escaped + "%"}.get(mode, "%" + escaped + "%")
    if comparison.startswith("Exact"):
        if mode == "FullString":
            return Sql(f"{column} = ?", [text])
        if mode == "Prefixed":
            return Sql(f"substr({column}, 1, ?) = ?", [len(text), text])
        return Sql(f"instr({column}, ?) > 0", [text])
    return Sql(f"{column} LIKE ? ESCAPE '\\'", [pattern])


def check_size(restriction: etree._Element | None) -> None:
    """ErrorRestrictionTooLong for a restriction of more than MAX_NODES search expressions (counted without
    recursion, so any depth is safe to count)."""
    if restriction is None:
        return
    nodes = sum(1 for elem in restriction.iter() if isinstance(elem.tag, str) and _local(elem) in _EXPRESSIONS)
    if nodes > MAX_NODES:
        raise RestrictionError(
            f"The restriction has {nodes} nodes; at most {MAX_NODES} are allowed.", "ErrorRestrictionTooLong"
        )


def to_sql(restriction: etree._Element | None, table: str = "items") -> Sql:
    """WHERE clause for a <m:Restriction> element (None: everything)."""
    if restriction is None or len(restriction) == 0:
        return Sql()
    check_size(restriction)
    columns = ITEM_COLUMNS if table == "items" else FOLDER_COLUMNS
    return _node(restriction[0], columns, table, 0)


def _node(elem: etree._Element, columns: dict[str, tuple[str, str]], table: str, depth: int) -> Sql:
    local = _local(elem)
    if local == "Not":
        negations = 0
        while _local(elem) == "Not":  # NOT NOT x is x: fold pairs instead of nesting them
            if len(elem) != 1:
                raise RestrictionError("Not needs exactly one child", "ErrorInvalidRestriction")
            elem, negations = elem[0], negations + 1
        inner = _node(elem, columns, table, depth + negations % 2)
        return Sql(f"NOT ({inner.where})", inner.params) if negations % 2 else inner
    if depth > MAX_DEPTH:
        raise RestrictionError(
            f"The restriction nests And/Or/Not more than {MAX_DEPTH} levels deep.", "ErrorRestrictionTooComplex"
        )
    if local in ("And", "Or"):
        operands: list[etree._Element] = []
        pending = list(elem)
        while pending:  # (a AND (b AND c)) is (a AND b AND c): same-kind operands are lifted, not nested
            child = pending.pop(0)
            if _local(child) == local:
                pending[:0] = list(child)
            else:
                operands.append(child)
        parts = [_node(child, columns, table, depth + 1) for child in operands]
        if not parts:
            return Sql()
        joiner = " AND " if local == "And" else " OR "
        return Sql("(" + joiner.join(p.where for p in parts) + ")", [v for p in parts for v in p.params])
    return _leaf(elem, local, columns, table)


def order_by(sort_order: etree._Element | None) -> tuple[str, list[Any]]:
    """ORDER BY clause; without a SortOrder, newest received first as Exchange's default view does."""
    if sort_order is None or len(sort_order) == 0:
        return "received DESC, items.id DESC", []
    clauses: list[str] = []
    params: list[Any] = []
    for order in sort_order:
        direction = "DESC" if order.get("Order", "Ascending") == "Descending" else "ASC"
        path = _target(order)
        if _local(path) == "ExtendedFieldURI":
            uri = extended.parse_uri(path)
            known = computed.ITEM_SQL.get(uri.key)
            if known is not None:
                clauses.append(f"{known.sql}{' COLLATE NOCASE' if known.kind == 'text' else ''} {direction}")
                continue
            column = "num" if uri.ptype in props.NUMERIC_TYPES else "value"
            clauses.append(f"(SELECT {column} FROM ext_props WHERE item_id=items.id AND key=?) {direction}")
            params.append(uri.key)
            continue
        uri_text = path.get("FieldURI", "")
        if uri_text not in ITEM_COLUMNS:
            raise RestrictionError(f"sorting on {uri_text} is not supported", "ErrorUnsupportedPathForSortGroup")
        column, kind = ITEM_COLUMNS[uri_text]
        clauses.append(f"{column}{' COLLATE NOCASE' if kind == 'text' else ''} {direction}")
    clauses.append("items.id ASC")
    return ", ".join(clauses), params
