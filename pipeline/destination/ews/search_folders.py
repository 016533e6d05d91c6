"""Search folders on an EWS mailbox: the user's search folders listed (under the distinguished folder
`searchfolders`) and created with their criteria (CreateFolder of a SearchFolder with SearchParameters),
which exchangelib 5.6 has no field for: the request is built here, the call goes through exchangelib's
service machinery (its session, retries and error classes).

The criteria (convert/user_settings/search_criteria.py) map to EWS search expressions: and/or/not; compare
to IsEqualTo and its kin; contains to Contains with ContainmentMode and ContainmentComparison; exists to
Exists; bitmask = 0 to Excludes, <> 0 to Exists and Not(Excludes) (MAPI's BMR_NEZ never matches an item
without the property). The message class, subject, read flag and categories are item:ItemClass, item:Subject,
message:IsRead and item:Categories; other properties ExtendedFieldURIs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.folders.known_folders import SearchFolders
from exchangelib.services.common import EWSAccountService
from exchangelib.util import MNS, TNS
from lxml import etree

from pipeline.convert.user_settings.search_criteria import Condition, Property, SearchFolderCriteria

_KNOWN = {
    "item_class": "item:ItemClass",
    "subject": "item:Subject",
    "is_read": "message:IsRead",
    "categories": "item:Categories",
}
_TYPES = {
    0x0002: "Short",
    0x0003: "Integer",
    0x0005: "Double",
    0x0006: "Currency",
    0x0007: "ApplicationTime",
    0x000B: "Boolean",
    0x0014: "Long",
    0x001E: "String",
    0x001F: "String",
    0x0040: "SystemTime",
    0x0048: "CLSID",
    0x0102: "Binary",
}
_COMPARE = {
    "eq": "IsEqualTo",
    "ne": "IsNotEqualTo",
    "lt": "IsLessThan",
    "le": "IsLessThanOrEqualTo",
    "gt": "IsGreaterThan",
    "ge": "IsGreaterThanOrEqualTo",
}
_MODES = {"full": "FullString", "substring": "Substring", "prefix": "Prefixed"}


class UnsupportedCriteria(ValueError):
    """A condition EWS has no expression for (carries the condition's kind)."""


def _type(ptype: int) -> str:
    base = _TYPES.get(ptype & 0x0FFF)
    if base is None:
        raise UnsupportedCriteria(f"property type 0x{ptype:04X}")
    return base + ("Array" if ptype & 0x1000 else "")


def path_xml(prop: Property) -> str:
    if prop.known is not None:
        return f'<t:FieldURI FieldURI="{_KNOWN[prop.known]}"/>'
    ptype = _type(prop.ptype)
    if prop.tag is not None:
        return f'<t:ExtendedFieldURI PropertyTag="0x{prop.tag:04X}" PropertyType="{ptype}"/>'
    which = f"PropertyName={quoteattr(prop.name)}" if isinstance(prop.name, str) else f'PropertyId="{prop.name}"'
    return f'<t:ExtendedFieldURI PropertySetId="{prop.guid}" {which} PropertyType="{ptype}"/>'


def _constant(value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        text = base64.b64encode(value).decode("ascii")
    elif isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        text = str(value)
    return f"<t:Constant Value={quoteattr(text)}/>"


def _comparison(condition: Condition) -> str:
    if condition.loose:
        options = ["Loose"] + (["IgnoreCase"] if condition.ignore_case else [])
        options += ["IgnoreNonSpace"] if condition.ignore_nonspace else []
        return "And".join(options)
    if condition.ignore_case and condition.ignore_nonspace:
        return "IgnoreCaseAndNonSpacingCharacters"
    if condition.ignore_case:
        return "IgnoreCase"
    if condition.ignore_nonspace:
        return "IgnoreNonSpacingCharacters"
    return "Exact"


def condition_xml(condition: Condition) -> str:
    """One condition as an EWS search expression (the t: prefix is types.xsd's namespace)."""
    kind = condition.kind
    if kind in ("and", "or"):
        tag = "And" if kind == "and" else "Or"
        return f"<t:{tag}>" + "".join(condition_xml(c) for c in condition.children) + f"</t:{tag}>"
    if kind == "not":
        return "<t:Not>" + condition_xml(condition.children[0]) + "</t:Not>"
    assert condition.prop is not None
    path = path_xml(condition.prop)
    if kind == "exists":
        return f"<t:Exists>{path}</t:Exists>"
    if kind == "compare":
        tag = _COMPARE[condition.op or "eq"]
        return f"<t:{tag}>{path}<t:FieldURIOrConstant>{_constant(condition.value)}</t:FieldURIOrConstant></t:{tag}>"
    if kind == "contains":
        mode, comparison = _MODES[condition.match or "substring"], _comparison(condition)
        return (
            f'<t:Contains ContainmentMode="{mode}" ContainmentComparison="{comparison}">{path}'
            f"{_constant(condition.value)}</t:Contains>"
        )
    if kind == "bitmask":
        excludes = f'<t:Excludes>{path}<t:Bitmask Value="0x{condition.mask or 0:X}"/></t:Excludes>'
        return excludes if condition.zero else f"<t:And><t:Exists>{path}</t:Exists><t:Not>{excludes}</t:Not></t:And>"
    raise UnsupportedCriteria(kind)


def restriction_xml(condition: Condition | None) -> str:
    """The <t:Restriction> of a search folder; no condition: every item (an Exists on the item class)."""
    inner = (
        condition_xml(condition)
        if condition is not None
        else '<t:Exists><t:FieldURI FieldURI="item:ItemClass"/></t:Exists>'
    )
    return f"<t:Restriction>{inner}</t:Restriction>"


class _CreateSearchFolder(EWSAccountService):
    SERVICE_NAME = "CreateFolder"
    element_container_name = f"{{{MNS}}}Folders"

    def call(self, payload: Any) -> Any:
        return self._get_elements(payload=payload)


def create_payload(parent_id: str, criteria: SearchFolderCriteria, base_ids: list[str]) -> Any:
    bases = "".join(f"<t:FolderId Id={quoteattr(i)}/>" for i in base_ids)
    text = (
        f'<m:CreateFolder xmlns:m="{MNS}" xmlns:t="{TNS}"><m:ParentFolderId><t:FolderId Id={quoteattr(parent_id)}/>'
        f"</m:ParentFolderId><m:Folders><t:SearchFolder><t:DisplayName>{_text(criteria.name)}</t:DisplayName>"
        f'<t:SearchParameters Traversal="{"Deep" if criteria.deep else "Shallow"}">'
        f"{restriction_xml(criteria.condition)}<t:BaseFolderIds>{bases}</t:BaseFolderIds></t:SearchParameters>"
        "</t:SearchFolder></m:Folders></m:CreateFolder>"
    )
    return etree.fromstring(text)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class EwsSearchFolders:
    """The mailbox's search folders, read and created under the mailbox's retry policy (`call`)."""

    def __init__(self, account: Any, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.account, self._call = account, call

    def _root(self) -> Any:
        return self._call(lambda: SearchFolders.get_distinguished(root=self.account.root))

    def names(self) -> dict[str, str]:
        """Display name (case-folded, as Exchange compares) -> folder id, of the folders under searchfolders."""

        def listing() -> dict[str, str]:
            root = SearchFolders.get_distinguished(root=self.account.root)
            found: dict[str, str] = {}
            for child in FolderCollection(account=self.account, folders=[root]).find_folders(depth=SHALLOW):
                if isinstance(child, Exception):
                    raise child
                found.setdefault((child.name or "").casefold(), child.id)
            return found

        return self._call(listing)

    def create(self, criteria: SearchFolderCriteria, base_ids: list[str]) -> str:
        """The new search folder's id."""
        root = self._root()

        def create() -> str:
            service = _CreateSearchFolder(account=self.account)
            [answer] = list(service.call(create_payload(root.id, criteria, base_ids)))
            if isinstance(answer, Exception):
                raise answer
            folder_id = answer.find(f"{{{TNS}}}FolderId")
            return folder_id.get("Id") if folder_id is not None else ""

        return self._call(create)
