"""The folder plan with folders that share a name (issue 26): the names and keys expected are written here."""

from __future__ import annotations

from pipeline.folder_plan import plan_folders
from pipeline.model import FolderRole, SourceFolder


def folder(
    node_id: int, path: tuple[str, ...], role: FolderRole = FolderRole.NONE, parent: int | None = 1, items: int = 1
) -> SourceFolder:
    return SourceFolder(node_id, path, path[-1] if path else "Top", "IPF.Note", role, items, parent)


TOP = folder(1, (), FolderRole.IPM_SUBTREE, None, 0)


def test_a_plain_folder_named_like_a_role_folder_takes_the_suffix_whatever_the_walk_order():
    plain, real = folder(10, ("Inbox",)), folder(11, ("Inbox",), FolderRole.INBOX)
    for walk in ([TOP, plain, real], [TOP, real, plain]):
        plan = plan_folders(walk)
        assert (plan[11].name, plan[10].name) == ("Inbox", "Inbox (2)")
        assert list(plan) == [f.node_id for f in walk], "the plan keeps the walk order"


def test_folders_sharing_a_path_are_recorded_apart_and_the_rest_by_their_source_path():
    walk = [
        TOP,
        folder(10, ("Inbox",)),
        folder(11, ("Inbox",), FolderRole.INBOX),
        folder(12, ("Inbox", "Sub"), parent=10),
        folder(13, ("Inbox", "Sub"), parent=11),
        folder(14, ("Junk E-mail",)),
        folder(15, ("Junk E-mail",), FolderRole.JUNK),
        folder(16, ("Projects", "Sub"), parent=17),
        folder(17, ("Projects",)),
    ]
    plan = plan_folders(walk)
    keys = {node_id: planned.folder_key for node_id, planned in plan.items()}
    assert keys == {
        1: "",
        10: "Inbox (2)",
        11: "Inbox",
        12: "Inbox (2)/Sub",
        13: "Inbox/Sub",
        14: "Junk E-mail (2)",
        15: "Junk E-mail",
        16: "Projects/Sub",
        17: "Projects",
    }
    assert plan[12].parent == 10 and plan[13].parent == 11
    # Unique paths stay the source's own: a journal of an earlier run still knows them.
    assert plan[17].unique_path is None and plan[17].folder_path == ("Projects",)
