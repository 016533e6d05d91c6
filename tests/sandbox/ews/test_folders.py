"""Folder discovery and creation: children, walk, glob, FolderClass, and the case-insensitive duplicate.

Compared with what exchangelib reads back and with the store's own view of the tree.
"""

from __future__ import annotations

import pytest
from exchangelib import Folder
from exchangelib.errors import ErrorFolderExists
from exchangelib.folders import Calendar, Contacts, Tasks

from pipeline.sandbox import views


def test_children_walk_and_glob(alice, store):
    names = {f.name for f in alice.msg_folder_root.children}
    assert {"Inbox", "Sent Items", "Deleted Items", "Drafts", "Calendar", "Contacts", "Tasks"} <= names
    walked = list(alice.root.walk())
    tree = views.folder_tree(store, "alice@sandbox.local")
    assert len(walked) == len(tree)  # the root itself is in neither
    assert [f.name for f in alice.root.glob("Top of Information Store/Sync Issues/*")] != []
    assert {f.name for f in alice.msg_folder_root.glob("Sync Issues/*")} == {
        "Conflicts",
        "Local Failures",
        "Server Failures",
    }


def test_create_folders_with_classes(alice, store, unique):
    parent = Folder(parent=alice.msg_folder_root, name=f"Restore-{unique}", folder_class="IPF.Note")
    parent.save()
    Calendar(parent=parent, name="Cal").save()
    Contacts(parent=parent, name="Con").save()
    Tasks(parent=parent, name="Tsk").save()
    Folder(parent=parent, name="Notes", folder_class="IPF.StickyNote").save()
    by_path = {f["path"]: f for f in views.folder_tree(store, "alice@sandbox.local")}
    base = (f"Restore-{unique}",)
    assert by_path[base]["folder_class"] == "IPF.Note"
    assert by_path[(*base, "Cal")]["folder_class"] == "IPF.Appointment"
    assert by_path[(*base, "Con")]["folder_class"] == "IPF.Contact"
    assert by_path[(*base, "Tsk")]["folder_class"] == "IPF.Task"
    assert by_path[(*base, "Notes")]["folder_class"] == "IPF.StickyNote"
    parent_again = alice.msg_folder_root / f"Restore-{unique}"
    kinds = {f.name: type(f).__name__ for f in parent_again.children}
    assert kinds["Cal"] == "Calendar" and kinds["Con"] == "Contacts"


def test_duplicate_folder_name_case_insensitive(alice, unique):
    """Ledger: folder-names."""
    Folder(parent=alice.inbox, name=f"Dup-{unique}").save()
    with pytest.raises(ErrorFolderExists):
        Folder(parent=alice.inbox, name=f"dup-{unique.upper()}").save()
    # the same name under another parent is fine
    Folder(parent=alice.drafts, name=f"Dup-{unique}").save()


def test_bulk_create_folders_one_message_each(alice, unique):
    from exchangelib.services import CreateFolder

    folders = [Folder(parent=alice.inbox, name=n) for n in (f"A-{unique}", f"B-{unique}", f"a-{unique}")]
    results = list(CreateFolder(account=alice).call(parent_folder=alice.inbox, folders=folders))
    assert len(results) == 3
    assert not isinstance(results[0], Exception) and not isinstance(results[1], Exception)
    assert isinstance(results[2], ErrorFolderExists)


def test_folder_filters_and_delete(alice, store, unique):
    parent = Folder(parent=alice.msg_folder_root, name=f"F-{unique}")
    parent.save()
    for name in ("One", "Two"):
        Folder(parent=parent, name=name).save()
    from exchangelib.folders.queryset import SingleFolderQuerySet

    assert [f.name for f in SingleFolderQuerySet(account=alice, folder=parent).filter(name="two")] == ["Two"]
    doomed = parent / "One"
    doomed.delete()
    assert [f.name for f in parent.children] == ["Two"]
    parent.delete()
    assert not any(f["path"][:1] == (f"F-{unique}",) for f in views.folder_tree(store, "alice@sandbox.local"))
    from exchangelib.errors import ErrorDeleteDistinguishedFolder

    with pytest.raises(ErrorDeleteDistinguishedFolder):
        alice.inbox.delete()
