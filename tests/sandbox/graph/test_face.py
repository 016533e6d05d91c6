"""The sandbox's Graph face, over HTTP with plain httpx: tokens, drafts vs imported mail, budgets answered
with 429 and Retry-After, $batch, paging, $filter on extended properties, metadata checks, the sent log.
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[graph]')")

from pipeline.sandbox import views  # noqa: E402
from pipeline.sandbox.graph import metadata  # noqa: E402
from pipeline.sandbox.store import SandboxStore  # noqa: E402
from tests.sandbox.graph.faces import graph_face  # noqa: E402
from tests.sandbox.graph.faces import token as app_token  # noqa: E402

USER = "alice@sandbox.local"
FP = "String {74594eaa-9d20-45ad-b806-df062a3740a3} Name RebuildFingerprint"
MIME = (
    b"From: Bob <bob@example.com>\r\nTo: alice@sandbox.local\r\nSubject: imported\r\n"
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <imported@example.com>\r\n"
    b"X-Rebuild-Fingerprint: fp-imported\r\n\r\nhello\r\n"
)


@pytest.fixture(scope="module")
def face(tmp_path_factory):
    with graph_face(tmp_path_factory.mktemp("graph-face"), USER, "app-1", "secret-1") as handle:
        yield handle


def token(face, secret: str = "secret-1") -> httpx.Response:
    return app_token(face, "app-1", secret)


@pytest.fixture(scope="module")
def client(face):
    answer = token(face)
    assert answer.status_code == 200
    with httpx.Client(
        base_url=face.graph_url, headers={"Authorization": f"Bearer {answer.json()['access_token']}"}, timeout=30
    ) as c:
        yield c


def test_token_endpoint_refuses_a_wrong_secret_and_requests_without_token(face):
    assert token(face, "wrong").status_code == 401
    assert token(face, "wrong").json()["error"] == "invalid_client"
    answer = httpx.get(f"{face.graph_url}/v1.0/users/{USER}/mailFolders/inbox")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_created_messages_are_drafts_unless_flags_say_sent_and_imported_ones_are_delivered(client):
    base = f"/v1.0/users/{USER}/mailFolders/inbox"
    draft = client.post(f"{base}/messages", json={"subject": "plain json"}).json()
    assert draft["isDraft"] is True
    sent = client.post(
        f"{base}/messages",
        json={
            "subject": "flags",
            "singleValueExtendedProperties": [
                {"id": "Integer 0x0E07", "value": "1"},
                {"id": "SystemTime 0x0E06", "value": "2023-05-06T07:08:09Z"},
            ],
        },
    ).json()
    assert sent["isDraft"] is False and sent["isRead"] is True and sent["receivedDateTime"] == "2023-05-06T07:08:09Z"
    assert (
        client.post(
            f"/v1.0/users/{USER}/mailFolders/inbox/importMime",
            content=base64.b64encode(MIME),
            headers={"Content-Type": "text/plain"},
        ).status_code
        == 400
    )  # beta only
    imported = client.post(
        f"/beta/users/{USER}/mailFolders/inbox/importMime",
        content=base64.b64encode(MIME),
        headers={"Content-Type": "text/plain"},
    )
    assert imported.status_code == 201
    body = imported.json()
    assert body["isDraft"] is False and body["internetMessageId"] == "<imported@example.com>"
    assert body["sentDateTime"] == "2024-01-01T10:00:00Z"
    # Content conversion keeps the X- header as a PS_INTERNET_HEADERS named property, which $filter finds.
    header = "String {00020386-0000-0000-c000-000000000046} Name X-Rebuild-Fingerprint"
    found = client.get(
        f"{base}/messages",
        params={"$filter": f"singleValueExtendedProperties/any(ep: ep/id eq '{header}' and ep/value eq 'fp-imported')"},
    ).json()
    assert [m["id"] for m in found["value"]] == [body["id"]]
    # PR_MESSAGE_FLAGS cannot be changed after creation.
    answer = client.patch(
        f"/v1.0/users/{USER}/messages/{body['id']}",
        json={"singleValueExtendedProperties": [{"id": "Integer 0x0E07", "value": "8"}]},
    )
    assert answer.status_code == 400


def test_paging_and_filter_on_extended_properties(client):
    folder = client.post(f"/v1.0/users/{USER}/mailFolders", json={"displayName": "paging"}).json()["id"]
    base = f"/v1.0/users/{USER}/mailFolders/{folder}/messages"
    for n in range(5):
        client.post(base, json={"subject": f"m{n}", "singleValueExtendedProperties": [{"id": FP, "value": f"fp{n}"}]})
    expand = f"singleValueExtendedProperties($filter=id eq '{FP}')"
    page = client.get(base, params={"$select": "id", "$expand": expand, "$top": "2"}).json()
    seen = [p["value"] for m in page["value"] for p in m["singleValueExtendedProperties"]]
    while "@odata.nextLink" in page:
        page = client.get(page["@odata.nextLink"]).json()
        seen += [p["value"] for m in page["value"] for p in m["singleValueExtendedProperties"]]
    assert seen == [f"fp{n}" for n in range(5)]
    flt = f"singleValueExtendedProperties/any(ep: ep/id eq '{FP}' and (ep/value eq 'fp1' or ep/value eq 'fp3'))"
    assert sorted(m["subject"] for m in client.get(base, params={"$filter": flt}).json()["value"]) == ["m1", "m3"]
    assert client.get(base, params={"$top": "1001"}).status_code == 400


def test_batch_holds_at_most_twenty_requests(client):
    one = {"id": "1", "method": "GET", "url": f"/users/{USER}/mailFolders/inbox"}
    answer = client.post("/v1.0/$batch", json={"requests": [{**one, "id": str(n)} for n in range(20)]})
    assert answer.status_code == 200 and {r["status"] for r in answer.json()["responses"]} == {200}
    assert client.post("/v1.0/$batch", json={"requests": [{**one, "id": str(n)} for n in range(21)]}).status_code == 400


def test_concurrency_beyond_the_budget_is_429_with_retry_after(face, client):
    face.set_graph({"concurrency": 2, "concurrency_retry_after": 3})
    face.set_faults({"rules": [{"kind": "delay", "seconds": 0.5, "operations": ["Graph:GET:mailFolders"]}]})
    answers: list[httpx.Response] = []
    try:
        threads = [
            threading.Thread(target=lambda: answers.append(client.get(f"/v1.0/users/{USER}/mailFolders/inbox")))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        face.set_faults({})
        face.set_graph({"concurrency": 4})
    throttled = [a for a in answers if a.status_code == 429]
    assert len([a for a in answers if a.status_code == 200]) >= 2 and throttled
    assert all(
        a.headers["Retry-After"] == "3" and "MailboxConcurrency" in a.json()["error"]["message"] for a in throttled
    )


def test_request_budget_answers_429_until_the_window_passes(face, client):
    face.set_graph({"requests": 3, "request_window": 60})
    try:
        codes = [client.get(f"/v1.0/users/{USER}/mailFolders/drafts").status_code for _ in range(5)]
    finally:
        face.set_graph({"requests": 10_000, "request_window": 600})
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


@pytest.mark.skipif(not metadata.available(), reason=f"Graph metadata not found at {metadata.path()}")
def test_bodies_are_checked_against_the_v1_metadata(face, client):
    before = face.stats()["counters"].get("schema_violations", 0)
    answer = client.post(f"/v1.0/users/{USER}/mailFolders/inbox/messages", json={"subject": "x", "isImported": True})
    assert answer.status_code == 400 and "isImported" in answer.json()["error"]["message"]
    assert face.stats()["counters"]["schema_violations"] == before + 1


def test_an_event_with_attendees_is_logged_as_sent_and_one_without_is_not(face, client):
    before = len(face.graph_sent())
    when = {
        "start": {"dateTime": "2024-01-01T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2024-01-01T11:00:00", "timeZone": "UTC"},
    }
    assert client.post(f"/v1.0/users/{USER}/calendar/events", json={"subject": "alone", **when}).status_code == 201
    assert len(face.graph_sent()) == before
    attendees = [{"emailAddress": {"address": "bob@example.com"}, "type": "required"}]
    assert (
        client.post(
            f"/v1.0/users/{USER}/calendar/events", json={"subject": "meeting", "attendees": attendees, **when}
        ).status_code
        == 201
    )
    sent = face.graph_sent()
    assert len(sent) == before + 1 and sent[-1]["what"] == "event.invitations"


def test_series_instances_can_be_deleted_and_changed(client):
    series = client.post(
        f"/v1.0/users/{USER}/calendar/events",
        json={
            "subject": "weekly",
            "start": {"dateTime": "2024-03-04T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2024-03-04T09:30:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2024-03-04", "numberOfOccurrences": 6},
            },
        },
    ).json()
    window = {"startDateTime": "2024-01-01T00:00:00Z", "endDateTime": "2025-01-01T00:00:00Z"}
    url = f"/v1.0/users/{USER}/events/{series['id']}/instances"
    instances = client.get(url, params=window).json()["value"]
    # 09:00 in Berlin: 08:00 UTC before the switch to summer time on 31 March, 07:00 after.
    assert [i["originalStart"][11:16] for i in instances] == ["08:00"] * 4 + ["07:00"] * 2
    assert client.delete(f"/v1.0/users/{USER}/events/{instances[1]['id']}").status_code == 204
    moved = client.patch(
        f"/v1.0/users/{USER}/events/{instances[2]['id']}",
        json={
            "subject": "moved",
            "start": {"dateTime": "2024-03-18T12:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2024-03-18T12:30:00", "timeZone": "UTC"},
        },
    )
    assert moved.status_code == 200
    after = client.get(url, params=window).json()["value"]
    assert len(after) == 5 and [i["subject"] for i in after].count("moved") == 1
    assert client.delete(f"/v1.0/users/{USER}/events/{instances[1]['id']}").status_code == 404


def test_graph_and_ews_ids_name_the_same_item(face, client, tmp_path: Path):
    created = client.post(f"/v1.0/users/{USER}/mailFolders/drafts/messages", json={"subject": "both faces"}).json()
    store = SandboxStore(face.data_dir)
    try:
        ews_ids = {i["item_id"] for i in views.items(store, USER, ("Drafts",))}
    finally:
        store.close()
    assert created["id"].replace("-", "+").replace("_", "/") in ews_ids


def test_upload_budget_answers_429_and_upload_sessions_take_ranges_in_order(face, client):
    face.set_graph({"upload_bytes": 3000, "upload_window": 60})
    try:
        big = {"subject": "x" * 4000}
        answer = client.post(f"/v1.0/users/{USER}/mailFolders/inbox/messages", json=big)
        assert answer.status_code == 429 and "UploadBytes" in answer.json()["error"]["message"]
        assert int(answer.headers["Retry-After"]) >= 1
    finally:
        face.set_graph({"upload_bytes": 150 * 1024 * 1024, "upload_window": 300})
    message = client.post(f"/v1.0/users/{USER}/mailFolders/drafts/messages", json={"subject": "with a file"}).json()
    size = 3 * 1024 * 1024 + 10  # upload sessions take 3 MB and more (test_documented.py)
    data = bytes(n % 251 for n in range(size))
    session = client.post(
        f"/v1.0/users/{USER}/messages/{message['id']}/attachments/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "f.bin", "size": size}},
    ).json()
    url = session["uploadUrl"]
    half = size // 2
    tail = {"Content-Range": f"bytes {half}-{size - 1}/{size}"}
    assert httpx.put(url, content=data[half:], headers=tail).status_code == 416
    assert (
        httpx.put(url, content=data[:half], headers={"Content-Range": f"bytes 0-{half - 1}/{size}"}).status_code == 200
    )
    assert httpx.put(url, content=data[half:], headers=tail).status_code == 201
    store = SandboxStore(face.data_dir)
    try:
        (item,) = [i for i in views.items(store, USER, ("Drafts",)) if i["subject"] == "with a file"]
    finally:
        store.close()
    import hashlib

    assert item["attachments"] == [("f.bin", hashlib.sha256(data).hexdigest())]
