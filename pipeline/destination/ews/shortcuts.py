"""Navigation shortcuts on an EWS mailbox: the IPM.Microsoft.WunderBar.Link messages of [MS-OXOCFG] 2.2.9, kept
as folder-associated items of the Common Views folder (under the root, a system folder with that fixed name).

EWS creates an associated item with CreateItem and `<t:IsAssociated>true</t:IsAssociated>` (types.xsd's
ItemType; the EWS Managed API's Item.IsAssociated, which clients use to write these very links) and lists
them with FindItem Traversal="Associated". A link names its folder by entry id and its mailbox by store entry
id: both are read from the rebuilt folder (PR_ENTRYID 0x0FFF, PR_STORE_ENTRYID 0x0FFB). exchangelib 5.6 has
no field for IsAssociated on create nor a place for these properties that would not join every other request,
so the requests are written here and sent through exchangelib's service machinery.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.services.common import EWSAccountService
from exchangelib.util import MNS, TNS
from lxml import etree

COMMON_VIEWS = "common views"  # compared case-folded
LINK_CLASS = "IPM.Microsoft.WunderBar.Link"
_T = f"{{{TNS}}}"


class _Raw(EWSAccountService):
    """An EWS operation whose request is written by the caller; answers the elements of its container."""

    def call(self, payload: Any) -> Any:
        return self._get_elements(payload=payload)


def _service(name: str, container: str) -> type[_Raw]:
    # exchangelib reads both names from the class (the response's element names are made of them)
    return type(f"Raw{name}", (_Raw,), {"SERVICE_NAME": name, "element_container_name": f"{{{MNS}}}{container}"})


_SERVICES = {
    name: _service(name, container)
    for name, container in (("GetFolder", "Folders"), ("FindItem", "RootFolder"), ("CreateItem", "Items"))
}


def _request(operation: str, attributes: str, inner: str) -> Any:
    return etree.fromstring(f'<m:{operation} xmlns:m="{MNS}" xmlns:t="{TNS}"{attributes}>{inner}</m:{operation}>')


def _binary(element: Any) -> dict[int, bytes]:
    found = {}
    for prop in element.iter(f"{_T}ExtendedProperty"):
        uri, value = prop.find(f"{_T}ExtendedFieldURI"), prop.find(f"{_T}Value")
        if uri is not None and value is not None and value.text:
            found[int(uri.get("PropertyTag", "0"), 16)] = base64.b64decode(value.text)
    return found


def _value(kind: str, value: int | str | bytes) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


class EwsShortcuts:
    """The mailbox's navigation shortcuts, read and written under the mailbox's retry policy (`call`)."""

    def __init__(self, account: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.account, self._call = account, call
        self._common_views: str | None = None

    def _run(self, service: str, container: str, inner: str, attributes: str = "") -> list[Any]:
        def send() -> list[Any]:
            payload = _request(service, attributes, inner)
            answers = list(_SERVICES[service](account=self.account).call(payload))
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
            return answers

        return self._call(send)

    def common_views(self) -> str | None:
        """The id of the Common Views folder under the root (None when the mailbox shows none)."""
        if self._common_views is None:

            def find() -> str | None:
                children = FolderCollection(account=self.account, folders=[self.account.root])
                for child in children.find_folders(depth=SHALLOW):
                    if isinstance(child, Exception):
                        raise child
                    if (child.name or "").casefold() == COMMON_VIEWS:
                        return child.id
                return None

            self._common_views = self._call(find)
        return self._common_views

    def entry_ids(self, folder_id: str) -> tuple[bytes | None, bytes | None]:
        """(PR_ENTRYID, PR_STORE_ENTRYID) of a folder of the mailbox."""
        [folder] = self._run(
            "GetFolder",
            "Folders",
            "<m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
            '<t:ExtendedFieldURI PropertyTag="0x0FFF" PropertyType="Binary"/>'
            '<t:ExtendedFieldURI PropertyTag="0x0FFB" PropertyType="Binary"/>'
            f"</t:AdditionalProperties></m:FolderShape><m:FolderIds><t:FolderId Id={quoteattr(folder_id)}/>"
            "</m:FolderIds>",
        )
        values = _binary(folder)
        return values.get(0x0FFF), values.get(0x0FFB)

    def linked(self) -> set[bytes]:
        """The folder entry ids the links of Common Views point at."""
        views = self.common_views()
        if views is None:
            return set()
        [root] = self._run(
            "FindItem",
            "RootFolder",
            "<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
            '<t:AdditionalProperties><t:FieldURI FieldURI="item:ItemClass"/>'
            '<t:ExtendedFieldURI PropertyTag="0x684C" PropertyType="Binary"/></t:AdditionalProperties>'
            f"</m:ItemShape><m:ParentFolderIds><t:FolderId Id={quoteattr(views)}/></m:ParentFolderIds>",
            ' Traversal="Associated"',
        )
        found = set()
        for item in root.iter(f"{_T}Message"):
            if (item.findtext(f"{_T}ItemClass") or "").casefold() == LINK_CLASS.casefold():
                entry_id = _binary(item).get(0x684C)
                if entry_id:
                    found.add(entry_id)
        return found

    def create(self, name: str, properties: list[tuple[int, str, int | str | bytes]]) -> None:
        views = self.common_views()
        if views is None:
            raise LookupError("the mailbox shows no Common Views folder")
        extended = "".join(
            f'<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x{prop_id:04X}" PropertyType="{kind}"/>'
            f"<t:Value>{escape(_value(kind, value))}</t:Value></t:ExtendedProperty>"
            for prop_id, kind, value in properties
        )
        self._run(
            "CreateItem",
            "Items",
            f"<m:SavedItemFolderId><t:FolderId Id={quoteattr(views)}/></m:SavedItemFolderId><m:Items><t:Message>"
            f"<t:ItemClass>{LINK_CLASS}</t:ItemClass><t:Subject>{escape(name)}</t:Subject>{extended}"
            "<t:IsAssociated>true</t:IsAssociated></t:Message></m:Items>",
            ' MessageDisposition="SaveOnly"',
        )
