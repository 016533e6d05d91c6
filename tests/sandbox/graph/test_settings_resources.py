"""The Graph face's user-settings resources against Microsoft's pages, over plain HTTP (httpx): master
categories, mailbox settings, inbox message rules and mail search folders. Ledger: graph-master-categories,
graph-mailbox-settings, graph-message-rules, graph-search-folders in pipeline/sandbox/README.md.
"""

from __future__ import annotations

import base64

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[graph]')")

from pipeline.sandbox.store import SandboxStore  # noqa: E402
from tests.sandbox.graph.faces import graph_face, token  # noqa: E402

USER = "dora@sandbox.local"


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    with graph_face(tmp_path_factory.mktemp("graph-settings"), USER, "app-settings", "secret-settings") as handle:
        yield handle


@pytest.fixture(scope="module")
def client(face):
    access = token(face, "app-settings", "secret-settings").json()["access_token"]
    with httpx.Client(
        base_url=f"{face.graph_url}/v1.0/users/{USER}", headers={"Authorization": f"Bearer {access}"}, timeout=60
    ) as c:
        yield c


def _error(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def test_master_categories(client, face):
    """learn.microsoft.com/graph/api/outlookuser-post-mastercategories: displayName and a preset colour; the
    list answers them with an id. The same list is the calendar's CategoryList over EWS."""
    made = client.post("/outlook/masterCategories", json={"displayName": "Projekt X", "color": "preset7"})
    assert made.status_code == 201 and made.json()["color"] == "preset7"
    listed = client.get("/outlook/masterCategories").json()["value"]
    assert [(c["displayName"], c["color"]) for c in listed] == [("Projekt X", "preset7")]
    assert client.get(f"/outlook/masterCategories/{made.json()['id']}").json()["displayName"] == "Projekt X"
    assert _error(client.post("/outlook/masterCategories", json={"displayName": "projekt x"}))[0] == 409
    assert _error(client.post("/outlook/masterCategories", json={"displayName": "Y", "color": "blue"}))[0] == 400
    assert _error(client.post("/outlook/masterCategories", json={"displayName": "Y", "shortcut": 1})) == (
        400,
        "RequestBodyRead",
    )
    xml = calendar_configuration(face, "CategoryList")
    assert b'name="Projekt X" color="7"' in xml


def calendar_configuration(face, name: str) -> bytes | None:
    from pipeline.sandbox import mailbox_settings

    store = SandboxStore(face.data_dir)
    try:
        with store.connection() as conn:
            calendar = store.distinguished(conn, store.mailbox(USER).id, "calendar")
            found = mailbox_settings.configuration(conn, calendar.id, name)
    finally:
        store.close()
    return found.xml if found is not None else None


def test_mailbox_settings(client, face):
    """learn.microsoft.com/graph/api/user-update-mailboxsettings: PATCH the working hours and time zone; the
    other settings are kept; a time zone Exchange does not know is refused. The work hours are the calendar's
    WorkHours object (WorkingHours.xsd), as the EWS face and Outlook read it."""
    before = client.get("/mailboxSettings").json()
    assert before["workingHours"]["daysOfWeek"] == ["monday", "tuesday", "wednesday", "thursday", "friday"]
    hours = {
        "daysOfWeek": ["monday", "tuesday"],
        "startTime": "09:30:00.0000000",
        "endTime": "16:00:00.0000000",
        "timeZone": {"name": "Pakistan Standard Time"},
    }
    patched = client.patch("/mailboxSettings", json={"workingHours": hours, "timeZone": "Pakistan Standard Time"})
    assert patched.status_code == 200, patched.text
    after = client.get("/mailboxSettings").json()
    assert after["workingHours"] == hours and after["timeZone"] == "Pakistan Standard Time"
    assert after["language"] == before["language"]
    import xml.etree.ElementTree as ET

    root = ET.fromstring(calendar_configuration(face, "WorkHours"))
    ns = {"w": "WorkingHours.xsd"}
    assert root.findtext(".//w:TimeZone/w:Name", namespaces=ns) == "Pakistan Standard Time"
    assert root.findtext(".//w:TimeZone/w:Bias", namespaces=ns) == "-300"  # UTC = local + bias
    assert (root.findtext(".//w:Start", namespaces=ns), root.findtext(".//w:WorkDays", namespaces=ns)) == (
        "09:30:00",
        "Monday Tuesday",
    )
    assert _error(client.patch("/mailboxSettings", json={"timeZone": "Mars Standard Time"})) == (
        400,
        "ErrorInvalidTimeZone",
    )
    assert (
        _error(client.patch("/mailboxSettings", json={"workingHours": {**hours, "daysOfWeek": ["funday"]}}))[0] == 400
    )
    assert _error(client.patch("/mailboxSettings", json={"workingHours": {**hours, "colour": 1}})) == (
        400,
        "RequestBodyRead",
    )


def test_message_rules(client):
    """learn.microsoft.com/graph/api/mailfolder-post-messagerules: displayName, sequence and actions; a
    moveToFolder must be a folder of the mailbox; rules live on the Inbox."""
    archive = client.post("/mailFolders/msgfolderroot/childFolders", json={"displayName": "Rule target"}).json()
    rule = {
        "displayName": "From partner",
        "sequence": 2,
        "isEnabled": True,
        "conditions": {"senderContains": ["partner.example"]},
        "exceptions": {"importance": "high"},
        "actions": {"moveToFolder": archive["id"], "stopProcessingRules": True},
    }
    made = client.post("/mailFolders/inbox/messageRules", json=rule)
    assert made.status_code == 201, made.text
    listed = client.get("/mailFolders/inbox/messageRules").json()["value"]
    assert [(r["displayName"], r["conditions"], r["exceptions"], r["actions"]) for r in listed] == [
        ("From partner", rule["conditions"], rule["exceptions"], rule["actions"])
    ]
    assert _error(client.post("/mailFolders/inbox/messageRules", json={**rule, "actions": {}}))[0] == 400
    assert _error(client.post("/mailFolders/inbox/messageRules", json={**rule, "displayName": ""}))[0] == 400
    bad_folder = {**rule, "actions": {"moveToFolder": "not-an-id"}}
    assert _error(client.post("/mailFolders/inbox/messageRules", json=bad_folder))[0] == 400
    assert _error(client.post("/mailFolders/sentitems/messageRules", json=rule))[0] == 400
    assert client.delete(f"/mailFolders/inbox/messageRules/{made.json()['id']}").status_code == 204


def test_search_folder_lists_what_its_filter_matches(client):
    """learn.microsoft.com/graph/api/mailsearchfolder-post: a mailSearchFolder under searchfolders with a
    filterQuery over source folders; its messages are those matching, as the mailbox changes."""
    source = client.post("/mailFolders/msgfolderroot/childFolders", json={"displayName": "Searched"}).json()
    below = client.post(f"/mailFolders/{source['id']}/childFolders", json={"displayName": "Below"}).json()
    made = {}
    for folder, subject, categories in ((source, "one", ["Red"]), (below, "two", []), (source, "three", [])):
        url = str(client.base_url).replace("/v1.0/", "/beta/") + f"/mailFolders/{folder['id']}/importMime"
        mime = f"From: a@example.com\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\nbody\r\n".encode()
        answer = client.post(url, content=base64.b64encode(mime), headers={"Content-Type": "text/plain"})
        assert answer.status_code == 201, answer.text
        made[subject] = answer.json()["id"]
        client.patch(f"/messages/{made[subject]}", json={"isRead": subject != "two", "categories": categories})
    body = {
        "@odata.type": "microsoft.graph.mailSearchFolder",
        "displayName": "Unread or red",
        "includeNestedFolders": True,
        "sourceFolderIds": [source["id"]],
        "filterQuery": "isRead eq false or categories/any(c:c eq 'red')",
    }
    created = client.post("/mailFolders/searchfolders/childFolders", json=body)
    assert created.status_code == 201, created.text
    folder = created.json()
    assert folder["filterQuery"] == body["filterQuery"] and folder["@odata.type"].endswith("mailSearchFolder")

    def listed() -> set[str]:
        return {m["subject"] for m in client.get(f"/mailFolders/{folder['id']}/messages").json()["value"]}

    assert listed() == {"one", "two"}
    client.patch(f"/messages/{made['three']}", json={"isRead": False})
    assert listed() == {"one", "two", "three"}
    flat = client.post(
        "/mailFolders/searchfolders/childFolders", json={**body, "displayName": "Flat", "includeNestedFolders": False}
    )
    assert {m["subject"] for m in client.get(f"/mailFolders/{flat.json()['id']}/messages").json()["value"]} == {
        "one",
        "three",
    }
    children = {f["displayName"]: f for f in client.get("/mailFolders/searchfolders/childFolders").json()["value"]}
    assert children["Unread or red"]["sourceFolderIds"] == [source["id"]]
    bad = client.post(
        "/mailFolders/searchfolders/childFolders",
        json={**body, "displayName": "Bad", "filterQuery": "categories/any(c:startswith(c,'r'))x"},
    )
    assert _error(bad) == (400, "ErrorInvalidUrlQueryFilter")
    no_source = client.post(
        "/mailFolders/searchfolders/childFolders", json={**body, "displayName": "None", "sourceFolderIds": []}
    )
    assert _error(no_source)[0] == 400
