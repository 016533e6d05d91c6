"""Search folders: CreateFolder of a SearchFolder with SearchParameters, written here as raw XML and sent through
exchangelib's service plumbing, then read with plain exchangelib (FindItem on the search folder), and associated items. Ledgers:
search-folders, associated-items. The oracle: the items the test itself made, and which of them the criteria select."""

from __future__ import annotations

from typing import Any

import pytest
from exchangelib import Folder, Message
from exchangelib.errors import ErrorFolderNotFound
from exchangelib.folders import FolderCollection
from exchangelib.services.common import EWSAccountService
from exchangelib.util import MNS, TNS
from lxml import etree


class CreateRaw(EWSAccountService):
    SERVICE_NAME = "CreateFolder"
    element_container_name = f"{{{MNS}}}Folders"

    def call(self, payload: Any) -> Any:
        return self._get_elements(payload=payload)


def create_search_folder(account, name: str, restriction: str, bases: list[str], traversal: str) -> Any:
    ids = "".join(f'<t:FolderId Id="{i}"/>' for i in bases)
    text = (
        f'<m:CreateFolder xmlns:m="{MNS}" xmlns:t="{TNS}"><m:ParentFolderId>'
        '<t:DistinguishedFolderId Id="searchfolders"/></m:ParentFolderId><m:Folders><t:SearchFolder>'
        f'<t:DisplayName>{name}</t:DisplayName><t:SearchParameters Traversal="{traversal}">'
        f"<t:Restriction>{restriction}</t:Restriction><t:BaseFolderIds>{ids}</t:BaseFolderIds>"
        "</t:SearchParameters></t:SearchFolder></m:Folders></m:CreateFolder>"
    )
    [answer] = list(CreateRaw(account=account).call(etree.fromstring(text)))
    if isinstance(answer, Exception):
        raise answer
    return Folder(root=account.root, id=answer.find(f"{{{TNS}}}FolderId").get("Id"))


NEEDLE = (
    '<t:Contains ContainmentMode="Substring" ContainmentComparison="IgnoreCase">'
    '<t:FieldURI FieldURI="item:Subject"/><t:Constant Value="needle"/></t:Contains>'
)


@pytest.fixture
def tree(alice, unique):
    top = Folder(parent=alice.msg_folder_root, name=f"Search-{unique}", folder_class="IPF.Note")
    top.save()
    below = Folder(parent=top, name="below", folder_class="IPF.Note")
    below.save()
    yield top, below
    top.delete()


def subjects(folder, **filters) -> set[str]:
    query = folder.all() if not filters else folder.filter(**filters)
    return {item.subject for item in query.only("subject")}


def test_a_search_folder_lists_what_its_restriction_matches_in_its_base_folders(alice, tree, unique):
    """Ledger: search-folders."""
    top, below = tree
    for folder, subject, read in ((top, "a NEEDLE here", True), (top, "hay", False), (below, "needle below", False)):
        Message(account=alice, folder=folder, subject=subject, is_read=read).save()
    shallow = create_search_folder(alice, f"Shallow {unique}", NEEDLE, [top.id], "Shallow")
    deep = create_search_folder(alice, f"Deep {unique}", NEEDLE, [top.id], "Deep")
    assert subjects(shallow) == {"a NEEDLE here"}
    assert subjects(deep) == {"a NEEDLE here", "needle below"}
    assert subjects(deep, is_read=False) == {"needle below"}  # the request's restriction ANDed with its own
    Message(account=alice, folder=below, subject="late needle").save()  # current at every request
    assert subjects(deep) == {"a NEEDLE here", "needle below", "late needle"}


def test_a_base_folder_that_does_not_exist_and_a_restriction_it_cannot_evaluate(alice, tree, unique):
    """Ledger: search-folders."""
    top, _ = tree
    gone = Folder(parent=alice.msg_folder_root, name=f"Gone-{unique}", folder_class="IPF.Note")
    gone.save()
    gone_id = gone.id
    gone.delete()
    with pytest.raises(ErrorFolderNotFound):
        create_search_folder(alice, f"Orphan {unique}", NEEDLE, [gone_id], "Shallow")
    unsupported = (
        '<t:IsEqualTo><t:FieldURI FieldURI="item:Categories"/>'
        '<t:FieldURIOrConstant><t:Constant Value="Red"/></t:FieldURIOrConstant></t:IsEqualTo>'
    )
    with pytest.raises(Exception, match="Categories"):
        create_search_folder(alice, f"Bad {unique}", unsupported, [top.id], "Shallow")


class CreateItemRaw(EWSAccountService):
    SERVICE_NAME = "CreateItem"
    element_container_name = f"{{{MNS}}}Items"

    def call(self, payload: Any) -> Any:
        return self._get_elements(payload=payload)


def test_an_associated_item_is_apart_from_the_folders_contents(alice, tree):
    """Ledger: associated-items."""
    top, _ = tree
    Message(account=alice, folder=top, subject="content").save()
    text = (
        f'<m:CreateItem xmlns:m="{MNS}" xmlns:t="{TNS}" MessageDisposition="SaveOnly"><m:SavedItemFolderId>'
        f'<t:FolderId Id="{top.id}"/></m:SavedItemFolderId><m:Items><t:Message>'
        "<t:ItemClass>IPM.Microsoft.WunderBar.Link</t:ItemClass><t:Subject>a link</t:Subject>"
        "<t:IsAssociated>true</t:IsAssociated></t:Message></m:Items></m:CreateItem>"
    )
    [answer] = list(CreateItemRaw(account=alice).call(etree.fromstring(text)))
    assert not isinstance(answer, Exception), answer
    assert subjects(top) == {"content"}
    assert {i.subject for i in top.all().depth("Associated").only("subject")} == {"a link"}
    [fresh] = [
        f for f in FolderCollection(account=alice, folders=[alice.msg_folder_root]).find_folders() if f.id == top.id
    ]
    assert fresh.total_count == 1  # the folder's contents only
