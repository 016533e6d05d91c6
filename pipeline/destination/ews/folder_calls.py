"""CreateFolder and DeleteFolder under a parent the caller holds, without exchangelib's folder-tree cache.

exchangelib's `Folder.save()` and `Folder.delete()` keep the account's whole folder tree cached: the first
one in a mailbox loads it (a GetFolder of every well-known folder, then a deep FindFolder of the root), a
quarter of what a small mailbox's first round spent before its first upload (measured on the usable-site
bench). The folder recreator and the lease always hold the parent's object, so that cache is never needed.
"""

from __future__ import annotations

from typing import Any

from exchangelib.folders import Folder
from exchangelib.items import HARD_DELETE
from exchangelib.services import CreateFolder, DeleteFolder


def create_folder(parent: Any, name: str, folder_class: str) -> Any:
    """A new folder `name` under `parent`, its id and change key set (ErrorFolderExists when one of that
    name is there: only one CreateFolder of a name succeeds under a parent)."""
    folder = Folder(parent=parent, name=name, folder_class=folder_class)
    created = CreateFolder(account=parent.account).get(parent_folder=parent, folders=[folder])
    folder.id, folder.changekey = created.id, created.changekey
    return folder


def delete_folder(folder: Any, delete_type: str = HARD_DELETE) -> None:
    """Delete the folder by its id (ErrorFolderNotFound when it is gone already)."""
    DeleteFolder(account=folder.account).get(folders=[folder], delete_type=delete_type)
