"""UpdateItem: SetItemField/AppendToItemField/DeleteItemField on stored items, one message per change.

Covers what bulk_update sends for read state, subject, class, extended properties and echoed typed fields.
"""

from __future__ import annotations

import json
import sqlite3

from lxml import etree

from pipeline.sandbox import ids, props, soap
from pipeline.sandbox.operations import Context, ResponseError, T, local, operation
from pipeline.sandbox.operations.item_refs import NOT_FOUND, parse_ref
from pipeline.sandbox.shapes import INDEXED_ELEMENTS

_COLUMNS = {"Subject": "subject", "ItemClass": "item_class", "IsRead": "is_read"}


def _apply(ctx: Context, db: sqlite3.Connection, row_id: int, updates: etree._Element) -> None:
    fields_row = db.execute("SELECT fields FROM items WHERE id=?", (row_id,)).fetchone()
    fields = json.loads(fields_row[0])
    for change in updates:
        kind = local(change)
        path = change[0]
        path_kind = local(path)
        if path_kind == "ExtendedFieldURI":
            uri = props.parse_uri(path)
            if kind == "DeleteItemField":
                db.execute("DELETE FROM ext_props WHERE item_id=? AND key=?", (row_id, uri.key))
                continue
            prop = change.find(f".//{T}ExtendedProperty")
            if prop is None:
                raise ResponseError("ErrorInvalidPropertySet", "SetItemField without an ExtendedProperty.")
            uri, value = props.read_values(prop)
            stored = json.dumps(value) if isinstance(value, list) else value
            number = None if isinstance(value, list) else props.numeric(uri.ptype, value)
            db.execute(
                "INSERT OR REPLACE INTO ext_props(item_id, key, ptype, value, num) VALUES (?,?,?,?,?)",
                (row_id, uri.key, uri.ptype, stored, number),
            )
            if uri.key == props.TAG_MESSAGE_FLAGS and isinstance(value, str):
                db.execute(
                    "UPDATE items SET is_read=? WHERE id=?",
                    (int(bool(int(value) & props.MSGFLAG_READ)), row_id),
                )
            continue
        name = path.get("FieldURI", "").split(":", 1)[-1]
        name = INDEXED_ELEMENTS.get(name, name) if path_kind == "IndexedFieldURI" else name
        if kind == "DeleteItemField":
            fields.pop(name, None)
            continue
        holder = change[1] if len(change) > 1 else None
        value_elem = holder.find(f"{T}{name}") if holder is not None else None
        if value_elem is None:
            raise ResponseError("ErrorInvalidPropertySet", f"No value given for {name}.")
        if name in _COLUMNS:
            text = value_elem.text or ""
            value_sql: object = int(text.strip().lower() in ("true", "1")) if name == "IsRead" else text
            db.execute(f"UPDATE items SET {_COLUMNS[name]}=? WHERE id=?", (value_sql, row_id))
        else:
            fields[name] = etree.tostring(value_elem, encoding="unicode")
    db.execute(
        "UPDATE items SET fields=?, version=version+1, "
        "modified=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id=?",
        (json.dumps(fields), row_id),
    )


@operation("UpdateItem")
def update_item(ctx: Context, request: etree._Element) -> str:
    changes_elem = request.find(f"{{{soap.M_NS}}}ItemChanges")
    changes = list(changes_elem) if changes_elem is not None else []
    messages = []
    with ctx.store.write() as conn:
        for change in changes:
            try:
                ref = change.find(f"{T}ItemId")
                if ref is None:
                    raise ResponseError("ErrorInvalidRequest", "Only ItemId references are supported.")
                mailbox_id, row_id = parse_ref(ctx, ref)
                row = conn.execute(
                    "SELECT kind FROM items WHERE id=? AND mailbox_id=?", (row_id, mailbox_id)
                ).fetchone()
                if row is None:
                    raise NOT_FOUND
                updates = change.find(f"{T}Updates")
                conn.execute("SAVEPOINT one_change")
                try:
                    _apply(ctx, conn, row_id, updates if updates is not None else etree.Element("x"))
                except (ResponseError, props.PropertyError):
                    conn.execute("ROLLBACK TO one_change")
                    raise
                finally:
                    conn.execute("RELEASE one_change")
                version = conn.execute("SELECT version FROM items WHERE id=?", (row_id,)).fetchone()[0]
                messages.append(
                    soap.success(
                        "UpdateItem",
                        f'<m:Items><t:{row[0]}><t:ItemId Id="{ids.item_id(mailbox_id, row_id)}" '
                        f'ChangeKey="{ids.change_key(version)}"/></t:{row[0]}></m:Items>'
                        "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                    )
                )
            except props.PropertyError as exc:
                messages.append(
                    soap.error("UpdateItem", "ErrorInvalidExtendedPropertyValue", str(exc), "<m:Items/>")
                )
            except ResponseError as exc:
                messages.append(soap.error("UpdateItem", exc.code, exc.text, "<m:Items/>"))
    return soap.operation_response("UpdateItem", messages)
