"""GetUserConfiguration, CreateUserConfiguration, UpdateUserConfiguration, DeleteUserConfiguration: user
configuration objects per folder and name, with dictionary, XML and binary data ([MS-OXWSUSRCFG]); Outlook
keeps them as IPM.Configuration.<name> associated messages (category list, work hours, calendar options).

Exchange's answers, as the realism ledger says (`user-config`): ErrorItemNotFound for a name the folder does
not hold, ErrorItemSave when creating a name it holds, names of letters, digits and dots only, under 237
characters, never starting with "IPM.Configuration" (ErrorInvalidRequest), dictionary values checked
against their type (ErrorInvalidValueForProperty) and answered in their canonical form (a Boolean sent as
1 comes back true).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from lxml import etree

from pipeline.sandbox import ids
from pipeline.sandbox import mailbox_settings as settings
from pipeline.sandbox.ews import soap
from pipeline.sandbox.ews.context import Context, M, T, folder_refs, local, resolve_folder
from pipeline.sandbox.ews.errors import ResponseError
from pipeline.sandbox.ews.registry import operation
from pipeline.sandbox.rows import FolderRow

_NAME = re.compile(r"[A-Za-z0-9.]{1,236}")
_INT_RANGES = {
    "Byte": (0, 255),
    "Integer32": (-(2**31), 2**31 - 1),
    "UnsignedInteger32": (0, 2**32 - 1),
    "Integer64": (-(2**63), 2**63 - 1),
    "UnsignedInteger64": (0, 2**64 - 1),
}
_ALL_PARTS = {"Id", "Dictionary", "XmlData", "BinaryData"}


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or name.casefold().startswith("ipm.configuration"):
        raise ResponseError("ErrorInvalidRequest", f"The user configuration name '{name}' is not valid.")


def _check_value(kind: str, values: list[str]) -> None:
    for value in values:
        try:
            if kind in _INT_RANGES:
                low, high = _INT_RANGES[kind]
                if not low <= int(value) <= high:
                    raise ValueError(value)
            elif kind == "Boolean" and value not in ("true", "false", "1", "0"):
                raise ValueError(value)
            elif kind == "DateTime":
                dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif kind == "ByteArray":
                base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ResponseError(
                "ErrorInvalidValueForProperty", f"The value '{value[:40]}' is not a valid {kind}."
            ) from exc
    if kind not in ("StringArray", "ByteArray") and len(values) != 1:
        raise ResponseError("ErrorInvalidValueForProperty", f"A {kind} holds one value.")


def _canonical(kind: str, value: str) -> str:
    """Values are kept typed, so they come back in their canonical form: a Boolean sent as 1 is true."""
    if kind == "Boolean":
        return "true" if value in ("true", "1") else "false"
    if kind in _INT_RANGES:
        return str(int(value))
    return value


def _object(elem: etree._Element) -> tuple[str, list[str]]:
    kind = elem.findtext(f"{T}Type") or ""
    values = [v.text or "" for v in elem.findall(f"{T}Value")]
    _check_value(kind, values)
    return kind, [_canonical(kind, v) for v in values]


def _dictionary(elem: etree._Element | None) -> list[settings.Entry] | None:
    if elem is None:
        return None
    entries: list[settings.Entry] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for entry in elem.findall(f"{T}DictionaryEntry"):
        key = _object(entry.find(f"{T}DictionaryKey"))
        if (key[0], tuple(key[1])) in seen:
            raise ResponseError("ErrorInvalidRequest", "A dictionary key appears twice.")
        seen.add((key[0], tuple(key[1])))
        value_elem = entry.find(f"{T}DictionaryValue")
        nil = value_elem is None or value_elem.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
        entries.append((key, None if nil else _object(value_elem)))
    return entries


def _base64(elem: etree._Element | None) -> bytes | None:
    return None if elem is None else base64.b64decode((elem.text or "").strip())


def _target(ctx: Context, conn, name_elem: etree._Element | None) -> tuple[FolderRow, str]:
    if name_elem is None:
        raise ResponseError("ErrorInvalidRequest", "UserConfigurationName is required.")
    name = name_elem.get("Name", "")
    refs = folder_refs(name_elem)
    if not refs:
        raise ResponseError("ErrorInvalidRequest", "The user configuration names no folder.")
    folder = resolve_folder(ctx, conn, refs[0])
    _check_name(name)
    return folder, name


def _object_xml(kind: str, values: list[str]) -> str:
    return f"<t:Type>{kind}</t:Type>" + "".join(f"<t:Value>{soap.esc(v)}</t:Value>" for v in values)


def _render(config: settings.UserConfiguration, folder: FolderRow, parts: set[str]) -> str:
    out = [
        f"<m:UserConfiguration><t:UserConfigurationName Name={soap.attr(config.name)}>"
        f'<t:FolderId Id="{ids.folder_id(folder.mailbox_id, folder.id)}" '
        f'ChangeKey="{ids.change_key(folder.version)}"/></t:UserConfigurationName>'
    ]
    if "Id" in parts:
        out.append(
            f'<t:ItemId Id="{ids.configuration_id(config.mailbox_id, config.id)}" '
            f'ChangeKey="{ids.change_key(config.version, config.id)}"/>'
        )
    if "Dictionary" in parts and config.dictionary is not None:
        out.append("<t:Dictionary>")
        for (key_kind, key_values), value in config.dictionary:
            out.append(f"<t:DictionaryEntry><t:DictionaryKey>{_object_xml(key_kind, key_values)}</t:DictionaryKey>")
            out.append(
                '<t:DictionaryValue xsi:nil="true"/>'
                if value is None
                else f"<t:DictionaryValue>{_object_xml(*value)}</t:DictionaryValue>"
            )
            out.append("</t:DictionaryEntry>")
        out.append("</t:Dictionary>")
    if "XmlData" in parts and config.xml is not None:
        out.append(f"<t:XmlData>{base64.b64encode(config.xml).decode('ascii')}</t:XmlData>")
    if "BinaryData" in parts and config.binary is not None:
        out.append(f"<t:BinaryData>{base64.b64encode(config.binary).decode('ascii')}</t:BinaryData>")
    out.append("</m:UserConfiguration>")
    return "".join(out)


@operation("GetUserConfiguration")
def get_user_configuration(ctx: Context, request: etree._Element) -> str:
    wanted = set((request.findtext(f"{M}UserConfigurationProperties") or "All").split())
    parts = _ALL_PARTS if "All" in wanted else wanted
    with ctx.store.connection() as conn:
        try:
            folder, name = _target(ctx, conn, request.find(f"{M}UserConfigurationName"))
            config = settings.configuration(conn, folder.id, name)
            if config is None:
                raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
            message = soap.success("GetUserConfiguration", _render(config, folder, parts))
        except ResponseError as exc:
            message = soap.error("GetUserConfiguration", exc.code, exc.text)
    return soap.operation_response("GetUserConfiguration", [message])


def _parts(config_elem: etree._Element) -> tuple[dict[str, Any], set[str]]:
    present = {local(child) for child in config_elem}
    values = {
        "dictionary": _dictionary(config_elem.find(f"{T}Dictionary")),
        "xml": _base64(config_elem.find(f"{T}XmlData")),
        "binary": _base64(config_elem.find(f"{T}BinaryData")),
    }
    named = {"Dictionary": "dictionary", "XmlData": "xml", "BinaryData": "binary"}
    return values, {named[p] for p in present if p in named}


def _changed(ctx: Context, operation: str, change: Callable[[sqlite3.Connection], None]) -> str:
    """One change in a write transaction, answered as Exchange does: success, or the error it raised."""
    with ctx.store.write() as conn:
        try:
            change(conn)
            message = soap.success(operation)
        except ResponseError as exc:
            message = soap.error(operation, exc.code, exc.text)
    return soap.operation_response(operation, [message])


def _given(
    ctx: Context, conn: sqlite3.Connection, request: etree._Element
) -> tuple[Any, str, dict[str, Any], set[str]]:
    """The folder and name of the UserConfiguration a create or update names, its values and which parts it
    holds."""
    config_elem = request.find(f"{M}UserConfiguration")
    folder, name = _target(ctx, conn, config_elem.find(f"{T}UserConfigurationName"))
    values, present = _parts(config_elem)
    return folder, name, values, present


def _existing(conn: sqlite3.Connection, folder_id: int, name: str) -> Any:
    config = settings.configuration(conn, folder_id, name)
    if config is None:
        raise ResponseError("ErrorItemNotFound", "The specified object was not found in the store.")
    return config


@operation("CreateUserConfiguration")
def create_user_configuration(ctx: Context, request: etree._Element) -> str:
    def create(conn: sqlite3.Connection) -> None:
        folder, name, values, _ = _given(ctx, conn, request)
        if settings.configuration(conn, folder.id, name) is not None:
            raise ResponseError("ErrorItemSave", "The user configuration object already exists.")
        settings.create_configuration(
            conn, folder.mailbox_id, folder.id, name, values["dictionary"], values["xml"], values["binary"]
        )

    return _changed(ctx, "CreateUserConfiguration", create)


@operation("UpdateUserConfiguration")
def update_user_configuration(ctx: Context, request: etree._Element) -> str:
    def update(conn: sqlite3.Connection) -> None:
        folder, name, values, present = _given(ctx, conn, request)
        config = _existing(conn, folder.id, name)
        settings.update_configuration(conn, config.id, replace=present, **values)  # type: ignore[arg-type]

    return _changed(ctx, "UpdateUserConfiguration", update)


@operation("DeleteUserConfiguration")
def delete_user_configuration(ctx: Context, request: etree._Element) -> str:
    def delete(conn: sqlite3.Connection) -> None:
        folder, name = _target(ctx, conn, request.find(f"{M}UserConfigurationName"))
        settings.delete_configuration(conn, _existing(conn, folder.id, name).id)

    return _changed(ctx, "DeleteUserConfiguration", delete)
