"""The Graph face against Microsoft's documentation, over plain HTTP (httpx): each test names the page it was
written from and checks what that page says Graph answers. Ledger: the graph-* lines of
pipeline/sandbox/README.md.
"""

from __future__ import annotations

import base64
import email
import email.policy
import time

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[graph]')")

from tests.sandbox.graph.faces import graph_face, token  # noqa: E402

USER = "carol@sandbox.local"
MIME = (
    b"From: Bob <bob@example.com>\r\nTo: carol@sandbox.local\r\nSubject: with headers\r\n"
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <headers@example.com>\r\n"
    b"X-Custom-Thing: yes\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody text\r\n"
)
THREE_MB = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    with graph_face(tmp_path_factory.mktemp("graph-documented"), USER, "app-doc", "secret-doc") as handle:
        yield handle


@pytest.fixture(scope="module")
def client(face):
    access = token(face, "app-doc", "secret-doc").json()["access_token"]
    with httpx.Client(
        base_url=f"{face.graph_url}/v1.0/users/{USER}", headers={"Authorization": f"Bearer {access}"}, timeout=60
    ) as c:
        yield c


def _import(client, mime: bytes = MIME) -> dict:
    url = str(client.base_url).replace("/v1.0/", "/beta/") + "/mailFolders/inbox/importMime"
    answer = client.post(url, content=base64.b64encode(mime), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_value_answers_the_messages_mime(client):
    """learn.microsoft.com/graph/outlook-get-mime-message: `GET /users/{id}/messages/{id}/$value` answers the
    message's MIME content; a message created from JSON has MIME too (Exchange converts it)."""
    imported = _import(client)
    answer = client.get(f"/messages/{imported['id']}/$value")
    assert answer.status_code == 200
    parsed = email.message_from_bytes(answer.content, policy=email.policy.default)
    assert parsed["Message-ID"] == "<headers@example.com>" and parsed["X-Custom-Thing"] == "yes"
    assert parsed.get_content().strip() == "body text"
    made = client.post("/mailFolders/drafts/messages", json={"subject": "from json"}).json()
    again = client.get(f"/messages/{made['id']}/$value")
    assert again.status_code == 200
    assert email.message_from_bytes(again.content, policy=email.policy.default)["Subject"] == "from json"
    assert client.get("/messages/AAAA/$value").status_code in (400, 404)


def test_internet_message_headers_come_with_select_only(client):
    """learn.microsoft.com/graph/api/resources/message (internetMessageHeaders: "Returned only on applying a
    $select query option"): the MIME's headers, name and value each."""
    imported = _import(client)
    plain = client.get(f"/messages/{imported['id']}").json()
    assert "internetMessageHeaders" not in plain
    selected = client.get(f"/messages/{imported['id']}", params={"$select": "subject,internetMessageHeaders"})
    assert selected.status_code == 200
    headers = {h["name"]: h["value"] for h in selected.json()["internetMessageHeaders"]}
    assert headers["X-Custom-Thing"] == "yes" and headers["Message-ID"] == "<headers@example.com>"
    assert selected.json()["subject"] == "with headers"
    listed = client.get("/mailFolders/inbox/messages", params={"$select": "internetMessageHeaders", "$top": "50"})
    assert listed.status_code == 200
    (mine,) = [m for m in listed.json()["value"] if m["id"] == imported["id"]]
    assert {h["name"]: h["value"] for h in mine["internetMessageHeaders"]}["X-Custom-Thing"] == "yes"


def test_batch_depends_on_answers_424_for_a_failed_dependency(client):
    """learn.microsoft.com/graph/json-batching: "If an individual request fails, any request that depends on
    that request fails with status code 424 (Failed Dependency)"; requests run in dependsOn order."""
    base = f"/users/{USER}"
    requests = [
        {
            "id": "1",
            "method": "POST",
            "url": f"{base}/mailFolders/drafts/messages",
            "headers": {"Content-Type": "application/json"},
            "body": {"subject": "batched first"},
        },
        {"id": "2", "method": "GET", "url": f"{base}/messages/not-an-id", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": f"{base}/mailFolders/drafts", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": f"{base}/mailFolders/inbox", "dependsOn": ["1"]},
    ]
    answer = httpx.post(
        str(client.base_url).split("/users/")[0] + "/$batch", headers=client.headers, json={"requests": requests}
    )
    assert answer.status_code == 200
    status = {r["id"]: r["status"] for r in answer.json()["responses"]}
    assert status["1"] == 201 and status["2"] in (400, 404) and status["3"] == 424 and status["4"] == 200
    unknown = httpx.post(
        str(client.base_url).split("/users/")[0] + "/$batch",
        headers=client.headers,
        json={"requests": [{**requests[3], "dependsOn": ["9"]}]},
    )
    assert unknown.status_code == 400


def test_batch_runs_independent_requests_at_once(face, client):
    """learn.microsoft.com/graph/json-batching ("individual requests can be executed in any order" unless
    dependsOn orders them) and the Outlook limit of 4 concurrent requests per mailbox
    (learn.microsoft.com/graph/throttling-limits#outlook-service-limits): 4 independent parts of 0.6 s each
    take about 0.6 s, not 2.4 s; chained by dependsOn they take the sum."""
    base = f"/users/{USER}"
    face.set_faults({"rules": [{"kind": "delay", "seconds": 0.6, "operations": ["Graph:GET:mailFolders"]}]})
    url = str(client.base_url).split("/users/")[0] + "/$batch"
    try:
        parts = [{"id": str(n), "method": "GET", "url": f"{base}/mailFolders/inbox"} for n in range(4)]
        began = time.monotonic()
        answer = httpx.post(url, headers=client.headers, json={"requests": parts}, timeout=60)
        loose = time.monotonic() - began
        chained = [{**p, "dependsOn": [str(n - 1)]} if n else p for n, p in enumerate(parts)]
        began = time.monotonic()
        answer2 = httpx.post(url, headers=client.headers, json={"requests": chained}, timeout=60)
        ordered = time.monotonic() - began
    finally:
        face.set_faults({})
    assert (
        {r["status"] for r in answer.json()["responses"]} == {200} == {r["status"] for r in answer2.json()["responses"]}
    )
    assert loose < 1.8, f"4 independent parts took {loose:.2f} s: run one after another"
    assert ordered >= 2.4, f"4 chained parts took {ordered:.2f} s: dependsOn not waited for"


def test_upload_sessions_refuse_small_files_and_answer_location(client):
    """learn.microsoft.com/graph/outlook-large-attachments: an upload session attaches a file "between 3 MB and
    150 MB" (under 3 MB: one POST of the attachment); the last range is answered 201 Created with the
    attachment's URL in Location."""
    message = client.post("/mailFolders/drafts/messages", json={"subject": "large file"}).json()
    url = f"/messages/{message['id']}/attachments/createUploadSession"
    small = client.post(url, json={"AttachmentItem": {"attachmentType": "file", "name": "s.bin", "size": 1000}})
    assert small.status_code == 400
    data = bytes(range(256)) * (THREE_MB // 256 + 10)
    session = client.post(
        url, json={"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": len(data)}}
    )
    assert session.status_code == 201
    upload = session.json()["uploadUrl"]
    half = len(data) // 2
    first = httpx.put(upload, content=data[:half], headers={"Content-Range": f"bytes 0-{half - 1}/{len(data)}"})
    assert first.status_code == 200 and first.json()["nextExpectedRanges"] == [f"{half}-"]
    last = httpx.put(
        upload, content=data[half:], headers={"Content-Range": f"bytes {half}-{len(data) - 1}/{len(data)}"}
    )
    assert last.status_code == 201
    location = last.headers["Location"]
    assert f"/messages/{message['id']}/attachments/" in location
    listed = client.get(f"/messages/{message['id']}/attachments").json()["value"]
    assert [a["id"] for a in listed] == [location.rsplit("/", 1)[1]]
    followed = httpx.get(location, headers=client.headers)
    assert followed.status_code == 200 and followed.json()["name"] == "big.bin"
    assert base64.b64decode(followed.json()["contentBytes"]) == data


def test_list_attachments_gives_file_attachments_with_their_bytes(client):
    """learn.microsoft.com/graph/api/message-list-attachments: `GET /users/{id}/messages/{id}/attachments`
    answers the attachments as fileAttachment objects (name, contentType, size, isInline, contentBytes)."""
    message = client.post(
        "/mailFolders/drafts/messages",
        json={
            "subject": "two files",
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "a.txt",
                    "contentType": "text/plain",
                    "contentBytes": base64.b64encode(b"first").decode(),
                },
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "b.bin",
                    "contentType": "application/octet-stream",
                    "contentBytes": base64.b64encode(b"\x00\x01second").decode(),
                },
            ],
        },
    ).json()
    answer = client.get(f"/messages/{message['id']}/attachments")
    assert answer.status_code == 200
    found = {a["name"]: a for a in answer.json()["value"]}
    assert set(found) == {"a.txt", "b.bin"}
    assert all(a["@odata.type"] == "#microsoft.graph.fileAttachment" for a in found.values())
    assert base64.b64decode(found["b.bin"]["contentBytes"]) == b"\x00\x01second" and found["a.txt"]["size"] == 5


def test_post_events_creates_in_the_default_calendar(client):
    """learn.microsoft.com/graph/api/user-post-events: `POST /users/{id}/events` creates the event in the
    user's default calendar and answers 201 with the event."""
    body = {
        "subject": "on the default calendar",
        "start": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2024-05-01T11:00:00", "timeZone": "UTC"},
    }
    answer = client.post("/events", json=body)
    assert answer.status_code == 201 and answer.json()["subject"] == body["subject"]
    listed = client.get("/calendar/events", params={"$top": "100"}).json()["value"]
    assert answer.json()["id"] in {e["id"] for e in listed}


def test_filter_on_an_extended_string_property_ignores_case(client):
    """learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get ($filter on value) with OData's
    string comparison as Graph evaluates it on Exchange: without regard to case."""
    prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
    made = client.post(
        "/mailFolders/drafts/messages",
        json={"subject": "green", "singleValueExtendedProperties": [{"id": prop, "value": "Green"}]},
    ).json()
    for literal in ("Green", "green", "GREEN"):
        flt = f"singleValueExtendedProperties/any(ep: ep/id eq '{prop}' and ep/value eq '{literal}')"
        found = client.get("/mailFolders/drafts/messages", params={"$filter": flt}).json()["value"]
        assert [m["id"] for m in found] == [made["id"]], literal
    flt = f"singleValueExtendedProperties/any(ep: ep/id eq '{prop}' and ep/value eq 'Greens')"
    assert client.get("/mailFolders/drafts/messages", params={"$filter": flt}).json()["value"] == []


def test_creating_a_todo_task_answers_the_whole_resource(client):
    """learn.microsoft.com/graph/api/todotasklist-post-tasks: the 201 answer is the created todoTask with the
    fields To Do filled in (importance, isReminderOn, status, body, dates), not only those sent."""
    (default,) = [t for t in client.get("/todo/lists").json()["value"] if t["wellknownListName"] == "defaultList"]
    answer = client.post(f"/todo/lists/{default['id']}/tasks", json={"title": "A new task"})
    assert answer.status_code == 201
    task = answer.json()
    assert task["title"] == "A new task" and task["id"]
    assert task["status"] == "notStarted" and task["importance"] == "normal" and task["isReminderOn"] is False
    assert task["body"] == {"content": "", "contentType": "text"} and task["createdDateTime"]
    assert task["lastModifiedDateTime"] and task["hasAttachments"] is False and task["categories"] == []
    assert client.get(f"/todo/lists/{default['id']}/tasks/{task['id']}").json()["status"] == "notStarted"
