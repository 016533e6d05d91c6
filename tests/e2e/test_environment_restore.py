"""The rest of the user's environment restored over EWS (issue 23): the nickname cache and the search folders of
SampleOstFile.ost, the CLI as a process against a sandbox over HTTP. Judged by plain exchangelib written here:
the Autocomplete stream read back and decoded by a parser written here from [MS-OXOCFG] 2.2.5.2; each search
folder's listing compared with every item of the mailbox filtered in Python by what the definition says
(never by the sandbox's own restriction engine); reruns compared property by property."""

from __future__ import annotations

import csv
import json
import os
import struct
import tomllib
from pathlib import Path

import pytest
from exchangelib import Account, ExtendedProperty, Message
from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.folders.known_folders import SearchFolders
from exchangelib.properties import EWS_ID, HEX_ENTRY_ID, AlternateId

import fixtures
from tests.conftest import own_sandbox, run_cli
from tests.e2e.conftest import ews_run
from tests.e2e.connection import ews_account
from tests.nickname_oracle import nickname_rows

SERVICE, PASSWORD = "svc-environment", "S3cret-for-environment"
ALICE = "alice@corp.example"
X500_SMTP = "saqib.razzaq@ex2010.local"  # the SMTP address Outlook cached beside the sample's X500 entry
#: What "Unread Mail" leaves out ([MS-OXOSRCH]: Outlook's template): these classes, and these folders.
NOT_MAIL = ("IPM.Appointment", "IPM.Contact", "IPM.DistList", "IPM.Activity", "IPM.StickyNote", "IPM.Task")
NOT_SEARCHED = {"Deleted Items", "Junk E-Mail", "Drafts", "Outbox"}


def one_entry(name: str, address: str, weight: int) -> bytes:
    """A row written here: display name, address type, e-mail address, SMTP address, a weight (0x6004 long)."""
    props = b""
    for tag, text in ((0x3001001F, name), (0x3002001F, "SMTP"), (0x3003001F, address), (0x39FE001F, address)):
        data = (text + "\0").encode("utf-16-le")
        props += struct.pack("<II", tag, 0) + bytes(8) + struct.pack("<I", len(data)) + data
    props += struct.pack("<IIi", 0x60040003, 0, weight) + bytes(4)
    return struct.pack("<I", 5) + props


def server_list() -> bytes:
    """The new mailbox's own list, made since the rebuild: one entry the source does not have."""
    return struct.pack("<4I", 0xBAADF00D, 12, 0, 1) + one_entry("Bob", "bob@corp.example", 777) + struct.pack("<I", 0)


@pytest.fixture
def sandbox(tmp_path: Path):
    with own_sandbox(tmp_path / "sandbox-data", {SERVICE: (PASSWORD, True)}, [ALICE]) as running:
        yield running


def account(handle):
    return ews_account(handle, ALICE, username=SERVICE, password=PASSWORD)


def rebuild(handle, state: Path, ost: Path, *args: str):
    return ews_run(
        handle,
        state,
        ost,
        ALICE,
        "--settings",
        "autocomplete,searchfolders,junk,shortcuts",
        *args,
        username=SERVICE,
        password=PASSWORD,
    )


def search_folders(alice: Account) -> dict[str, object]:
    root = SearchFolders.get_distinguished(root=alice.root)
    return {f.name: f for f in FolderCollection(account=alice, folders=[root]).find_folders(depth=SHALLOW)}


def every_item(alice: Account) -> list[tuple[str, object]]:
    """(folder name, item) of every item in the mailbox's folders, listed without any restriction."""
    found = []
    for folder in alice.msg_folder_root.walk():
        if folder.name in ("Finder",) or getattr(folder, "folder_class", None) is None and folder.name is None:
            continue
        fields = ["item_class", "categories"] + (
            ["is_read"] if (folder.folder_class or "").startswith("IPF.Note") else []
        )
        for item in folder.all().only(*fields):
            found.append((folder.name, item))
    return found


class WlinkEntryId(ExtendedProperty):
    property_tag = 0x684C
    property_type = "Binary"


def links(alice: Account) -> dict[str, bytes]:
    """Subject -> PidTagWlinkEntryId of the WunderBar links in Common Views' associated contents."""
    [views] = [f for f in alice.root.children if (f.name or "").casefold() == "common views"]
    assert list(views.all().depth("Shallow")) == []  # associated items are not the folder's contents
    Message.register("wlink_entry_id", WlinkEntryId)
    try:
        found = views.all().depth("Associated").only("subject", "item_class", "wlink_entry_id")
        return {m.subject: m.wlink_entry_id for m in found if m.item_class == "IPM.Microsoft.WunderBar.Link"}
    finally:
        Message.deregister("wlink_entry_id")


def entry_id(alice: Account, folder) -> bytes:
    """The folder's entry id as ConvertId gives it (HexEntryId), not as our client read it."""
    [converted] = alice.protocol.convert_ids(
        [AlternateId(id=folder.id, format=EWS_ID, mailbox=ALICE)], destination_format=HEX_ENTRY_ID
    )
    return bytes.fromhex(converted.id)


def listed(folder) -> set[str]:
    return {item.id for item in folder.all().only("subject")}


@pytest.mark.samples
def test_autocomplete_and_search_folders_restored_and_left_alone(samples: Path, sandbox, tmp_path: Path):
    ost = samples / "SampleOstFile.ost"
    handle, _ = sandbox
    alice = account(handle)
    alice.inbox.create_user_configuration(name="Autocomplete", dictionary={"Keep": 7}, binary_data=server_list())

    first = rebuild(handle, tmp_path / "state", ost)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)["settings"]
    by_setting = {}
    for entry in report:
        by_setting.setdefault(entry["setting"], []).append(entry)
    [autocomplete] = by_setting["autocomplete"]
    assert autocomplete["action"] == "merged" and autocomplete["added"] == [X500_SMTP], autocomplete
    assert {e["action"] for e in by_setting["search_folder"]} == {"created"}
    restored_links = {e["name"] for e in by_setting["shortcut"] if e["action"] == "created"}
    assert restored_links == {"Inbox", "Sent Items", "Calendar"}, by_setting["shortcut"]
    written = links(alice)
    assert written == {
        "Inbox": entry_id(alice, alice.inbox),
        "Sent Items": entry_id(alice, alice.sent),
        "Calendar": entry_id(alice, alice.calendar),
    }

    # The nickname cache: the server's own entry first, with its weight; the X500 entry now an SMTP entry.
    stream = alice.inbox.get_user_configuration(name="Autocomplete", properties="All")
    rows = nickname_rows(stream.binary_data)
    assert stream.dictionary["Keep"] == 7  # the object's other parts untouched
    assert [r[0x3003001F] for r in rows] == ["bob@corp.example", X500_SMTP]
    assert struct.unpack_from("<i", rows[0][0x60040003])[0] == 777
    restored = rows[1]
    assert (restored[0x3002001F], restored[0x39FE001F], restored[0x3001001F]) == ("SMTP", X500_SMTP, "Saqib Razzaq")
    assert restored[0x300B0102] == b"SMTP:" + X500_SMTP.upper().encode() + b"\0"
    assert not any(isinstance(v, str) and v.lower().startswith("/o=") for v in restored.values())

    # Search folders: each lists what its definition selects among every item of the mailbox.
    found = search_folders(alice)
    assert {"Unread Mail", "Categorized Mail"} <= set(found)
    marked = []
    for folder in (alice.inbox, alice.sent, alice.trash):  # made unread: the sample's mail is all read
        for item in list(folder.all().only("is_read"))[:1]:
            item.is_read = False
            item.save(update_fields=["is_read"])
            marked.append((folder.name, item.id))
    assert len(marked) >= 2, marked
    everything = every_item(alice)
    unread = {
        item.id
        for folder, item in everything
        if folder not in NOT_SEARCHED
        and getattr(item, "is_read", None) is False
        and not any(item.item_class == c or item.item_class.startswith(c + ".") for c in NOT_MAIL)
    }
    assert unread and {i for f, i in marked if f not in NOT_SEARCHED} <= unread
    assert listed(found["Unread Mail"]) == unread
    assert listed(found["Categorized Mail"]) == {item.id for _, item in everything if item.categories}
    inbox_item = next(iter(alice.inbox.all().only("subject", "categories")))
    inbox_item.categories = ["Red Category"]
    inbox_item.save(update_fields=["categories"])  # a search folder follows the mailbox as it changes
    assert inbox_item.id in listed(found["Categorized Mail"])

    # A rerun changes nothing: the stream (bytes, dictionary, change key), the search folders (ids, names).
    again = rebuild(handle, tmp_path / "state", ost)
    assert again.returncode == 0, again.stderr
    actions = {(e["setting"], e["action"]) for e in json.loads(again.stdout)["settings"]}
    assert ("autocomplete", "kept") in actions and ("search_folder", "kept") in actions
    assert not {a for a in actions if a[1] in ("created", "merged")}, actions
    now = alice.inbox.get_user_configuration(name="Autocomplete", properties="All")
    assert (now.binary_data, now.dictionary, now.changekey) == (stream.binary_data, stream.dictionary, stream.changekey)
    assert {name: f.id for name, f in search_folders(alice).items()} == {name: f.id for name, f in found.items()}
    assert links(alice) == written  # no second link


SETTINGS_SPEC = Path(fixtures.__file__).parent / "specs" / "settings.toml"


def spec_associated(kind: str) -> dict:
    spec = tomllib.loads(SETTINGS_SPEC.read_text(encoding="utf-8"))
    found = [a for f in spec["folders"] for a in f.get("associated", []) if a["kind"] == kind]
    return found[0]


def test_fixture_unresolved_x500_kept_junk_lists_as_a_script_search_folders_by_the_spec(sandbox, tmp_path: Path):
    """The settings fixture: its autocomplete list (an SMTP entry, an X500 entry with its SMTP cached, one without)
    junk rule and search folders, judged against the fixture's spec; `rebuild x500` lists the DN nothing resolves."""
    ost = fixtures.cached("settings", format="ost")
    handle, _ = sandbox
    alice = account(handle)
    result = rebuild(handle, tmp_path / "state", ost)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["settings"]
    addresses = spec_associated("autocomplete")["addresses"]
    gone = next(a["email"] for a in addresses if a["email"].startswith("/") and "smtp" not in a)
    [autocomplete] = [e for e in report if e["setting"] == "autocomplete"]
    assert autocomplete["unresolved"] == [gone] and autocomplete["action"] == "created"

    rows = nickname_rows(alice.inbox.get_user_configuration(name="Autocomplete", properties="All").binary_data)
    expected = [(a["name"], a.get("smtp") or a["email"]) for a in addresses]
    assert [(r[0x3001001F], r[0x3003001F]) for r in rows] == expected
    assert [r[0x3002001F] for r in rows] == ["SMTP", "SMTP", "EX"]  # the unresolved one kept as it was

    junk = spec_associated("junk_rule")
    [entry] = [e for e in report if e["setting"] == "junk_rule"]
    assert entry["action"] == "not restored" and "EWS writes no junk e-mail list" in entry["reason"]
    script = Path(entry["script"]).read_bytes()
    assert script.startswith(b"\xef\xbb\xbf")
    line = next(ln for ln in script.decode("utf-8-sig").splitlines() if ln.startswith("Set-MailboxJunk"))
    trusted = ",".join(f"'{a}'" for a in junk["safe_senders"] + junk["safe_recipients"])
    blocked = ",".join(f"'{a}'" for a in junk["blocked_senders"])
    assert f"-Identity '{ALICE}'" in line
    assert (
        f"-TrustedSendersAndDomains @{{Add={trusted}}}" in line
        and f"-BlockedSendersAndDomains @{{Add={blocked}}}" in line
    )
    if os.name != "nt":
        assert Path(entry["script"]).stat().st_mode & 0o077 == 0

    searches = {e["name"]: e for e in report if e["setting"] == "search_folder"}
    assert {name: e["action"] for name, e in searches.items()} == {"Unread Mail": "created", "Invoices": "created"}
    # the spec's folders and, searched deep (fixtures write deep search), the folders under them
    assert sorted(searches["Invoices"]["folders"]) == ["Inbox", "Inbox/Newsletters", "Inbox/Receipts"]
    spec = tomllib.loads(SETTINGS_SPEC.read_text(encoding="utf-8"))
    inbox = next(f for f in spec["folders"] if f.get("role") == "inbox")
    found = search_folders(alice)
    unread = {i.subject for i in found["Unread Mail"].all().only("subject")}
    assert unread == {i["subject"] for i in inbox["items"] if i.get("read") is False}
    assert {i.subject for i in found["Invoices"].all().only("subject")} == {
        i["subject"] for i in inbox["items"] if "invoice" in i["subject"].lower()
    }
    receipt = alice.inbox / "Receipts"
    from exchangelib import Message

    Message(account=alice, folder=receipt, subject="Your INVOICE 42").save()
    assert {i.subject for i in found["Invoices"].all().only("subject")} >= {"Your INVOICE 42"}

    # The user's own change on the new server is not overwritten by a later run (the stamp no longer matches).
    mine = server_list()
    alice.inbox.update_user_configuration(name="Autocomplete", binary_data=mine)
    changed = alice.inbox.get_user_configuration(name="Autocomplete", properties="All")
    again = rebuild(handle, tmp_path / "state", ost)
    assert again.returncode == 0, again.stderr
    [kept] = [e for e in json.loads(again.stdout)["settings"] if e["setting"] == "autocomplete"]
    assert kept["action"] == "kept" and "changed on the new server" in kept["reason"]
    after = alice.inbox.get_user_configuration(name="Autocomplete", properties="All")
    assert (after.binary_data, after.changekey) == (mine, changed.changekey)

    out = tmp_path / "x500"
    x500 = run_cli("x500", "--ost", str(ost), "--mailbox", ALICE, "--out", str(out))
    with (out / "x500-unresolved.csv").open(encoding="utf-8", newline="") as fh:
        unresolved = list(csv.DictReader(fh))
    assert [(r["legacy_dn"], r["proxy_address"], r["in_autocomplete_of"]) for r in unresolved] == [
        (gone, f"X500:{gone}", ALICE)
    ], x500.stdout + x500.stderr
