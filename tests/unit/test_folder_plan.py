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


def test_a_plain_folder_named_like_the_servers_inbox_in_a_localized_store_takes_the_suffix():
    """A German store: its inbox is 'Posteingang' (mapped to the server's Inbox by role), and a plain folder at
    the top is called 'Inbox'. Found by name, it would be the server's Inbox too: two source folders in one
    server folder. Its planned name is 'Inbox (2)'; the role folders keep their own names; below the top, and
    in a store without an inbox, 'Inbox' is just a name."""
    posteingang = folder(11, ("Posteingang",), FolderRole.INBOX)
    plain, sub = folder(10, ("Inbox",)), folder(12, ("Projekte", "Inbox"), parent=13)
    projekte, sent = folder(13, ("Projekte",)), folder(14, ("Sent Items",), FolderRole.SENT)
    for walk in ([TOP, plain, posteingang, projekte, sub, sent], [TOP, sent, sub, projekte, posteingang, plain]):
        plan = plan_folders(walk)
        assert plan[10].name == "Inbox (2)"
        assert (plan[11].name, plan[14].name, plan[12].name) == ("Posteingang", "Sent Items", "Inbox")
    assert plan_folders([TOP, plain])[10].name == "Inbox"  # no inbox in the store: nothing to share


def test_a_localized_store_with_a_plain_inbox_keeps_both_folders_items_apart_on_the_server(tmp_path):
    """Through a run into the in-memory server (whose inbox is called 'Inbox'): the same message in the store's
    inbox ('Posteingang') and in a plain top folder 'Inbox' lands twice, in two server folders."""
    import fixtures
    from pipeline.destination.fake import FakeDestination
    from pipeline.rebuild.run import MailboxRun, RunOptions
    from pipeline.settings import load_settings
    from pipeline.state.journal import Journal

    mail = {
        "kind": "mail",
        "subject": "same",
        "sender": "a@example.com",
        "to": ["b@example.com"],
        "sent": "2024-03-01T10:00:00",
        "received": "2024-03-01T10:00:05",
        "message_id": "<same@x>",
    }
    spec = {
        "store": {"name": "Localized", "seed": 8},
        "folders": [{"name": "Posteingang", "role": "inbox", "items": [mail]}, {"name": "Inbox", "items": [mail]}],
    }
    ost, _ = fixtures.cached_build(spec, "ost", "permute")
    fake = FakeDestination()
    settings = load_settings({"state_dir": str(tmp_path)}, {})
    with Journal(tmp_path / "journal.sqlite") as journal:
        summary = MailboxRun(RunOptions(ost, "olaf@corp.example"), settings, fake, journal).run()
    assert summary.status == "ok" and summary.uploaded == 2
    assert fake.store.listing("olaf@corp.example") == {"Inbox": ["same"], "Inbox (2)": ["same"]}
