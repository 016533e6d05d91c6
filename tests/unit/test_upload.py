"""Unit tests of the uploader's retry and idempotency logic against a scripted in-memory server."""

from __future__ import annotations

import pytest
from exchangelib import errors as ews

from pipeline.destination.base import FailureKind
from pipeline.destination.ews import upload as upload_module
from pipeline.destination.ews.errors import MailboxFatalError
from pipeline.destination.ews.retry import RetryPolicy
from pipeline.destination.ews.upload import Batcher, Uploader
from pipeline.item_values import MailMessage
from pipeline.model import ExtendedProperty, UploadItem


def item(n: int, size: int = 10) -> UploadItem:
    return UploadItem(
        kind="message",
        item_class="IPM.Note",
        folder_path=("Inbox",),
        identity=f"fp{n}",
        subject=f"s{n}",
        source_node_id=n,
        mime=b"x" * size,
    )


class FakeServer:
    """Stores fingerprints; script is a list of actions consumed one per bulk_create call."""

    version = None  # read by the uploader for the fast path (patched out below)

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.stored: list[str] = []
        self.calls = 0

    # account API
    def bulk_create(self, folder, items, **kwargs):
        self.calls += 1
        action = self.script.pop(0) if self.script else "ok"
        if action == "busy":
            raise ews.ErrorServerBusy("busy", back_off=0.01)
        if action == "drop":  # commit-then-drop: stored, but the client hears nothing
            self.stored.extend(u.identity for u in items)
            raise ConnectionResetError("connection reset by peer")
        if action == "too-big-second":
            results = []
            for i, u in enumerate(items):
                if i == 1:
                    results.append(ews.ErrorMessageSizeExceeded("too large"))
                else:
                    self.stored.append(u.identity)
                    results.append(type("R", (), {"id": f"id-{u.identity}"})())
            return results
        if action == "refuse-class":
            return [
                ews.ErrorInvalidPropertyRequest("no")
                if getattr(u.value, "item_class", None)
                else type("R", (), {"id": "x"})()
                for u in items
            ]
        if action == "refuse-extras":
            return [
                ews.ErrorInvalidExtendedPropertyValue("no") if u.extra_extended else type("R", (), {"id": "x"})()
                for u in items
            ]
        if action == "item-busy":
            return [ews.ErrorInternalServerTransientError("try later") for _ in items]
        if action == "unauthorized":
            raise ews.ErrorAccessDenied("no")
        if action == "schema":
            raise ews.ErrorSchemaValidation("bad request")
        self.stored.extend(u.identity for u in items)
        return [type("R", (), {"id": f"id-{u.identity}"})() for u in items]


class FakeFolder:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self._filter: list[str] | None = None

    def filter(self, **kwargs):
        (values,) = kwargs.values()
        clone = FakeFolder(self.server)
        clone._filter = list(values)
        return clone

    def all(self):
        return FakeFolder(self.server)

    def only(self, *names):
        return self

    def values_list(self, *names, flat=False):
        values = [fp for fp in self.server.stored if self._filter is None or fp in self._filter]
        if flat or len(names) == 1:
            return values
        if names[0] == "id":
            return [(f"id-{fp}", fp, None)[: len(names)] for fp in values]  # (id, stamp, pending flag)
        return [(fp, None) for fp in values]  # (stamp, pending flag)


@pytest.fixture(autouse=True)
def no_ews_items(monkeypatch):
    monkeypatch.setattr(upload_module, "build_item", lambda upload, account, folder: upload)
    monkeypatch.setattr(upload_module, "prebuilt_item", lambda upload, version: None)


def make(script: list[str]) -> tuple[Uploader, FakeServer, FakeFolder, list]:
    server = FakeServer(script)
    outcomes: list = []
    uploader = Uploader(
        server, outcomes.extend, RetryPolicy(max_attempts=4, initial=0.001, maximum=0.002), sleep=lambda s: None
    )
    return uploader, server, FakeFolder(server), outcomes


def test_commit_then_drop_makes_no_duplicate():
    uploader, server, folder, outcomes = make(["drop"])
    uploader.send(folder, [item(1), item(2)])
    assert sorted(server.stored) == ["fp1", "fp2"]
    assert {o.item.identity: o.state for o in outcomes} == {"fp1": "present", "fp2": "present"}
    assert server.calls == 1
    assert uploader.stats.in_doubt_found == 2


def test_throttling_retries_then_succeeds():
    uploader, server, folder, outcomes = make(["busy", "busy", "ok"])
    uploader.send(folder, [item(1)])
    assert server.stored == ["fp1"] and server.calls == 3
    assert [o.state for o in outcomes] == ["uploaded"]


def test_server_failing_every_request_stops_the_mailbox():
    uploader, server, folder, outcomes = make(["busy"] * 10)
    with pytest.raises(MailboxFatalError, match="after 4 attempts"):
        uploader.send(folder, [item(1)])
    assert server.calls == 4 and outcomes == []


def test_item_refused_every_time_is_recorded_and_the_run_goes_on():
    uploader, server, folder, outcomes = make(["item-busy"] * 10)
    uploader.send(folder, [item(1)])
    assert server.calls == 4
    assert [o.state for o in outcomes] == ["failed"]
    assert outcomes[0].failure.kind is FailureKind.GAVE_UP and "after 4 attempts" in outcomes[0].error


def test_one_item_too_large_the_rest_lands():
    uploader, server, folder, outcomes = make(["too-big-second"])
    uploader.send(folder, [item(1), item(2), item(3)])
    states = {o.item.identity: o.state for o in outcomes}
    assert states == {"fp1": "uploaded", "fp2": "failed", "fp3": "uploaded"}
    assert "ErrorMessageSizeExceeded" in next(o.error for o in outcomes if o.state == "failed")


def test_request_refused_for_content_is_split_to_find_the_culprit():
    uploader, server, folder, outcomes = make(["schema", "ok", "schema", "ok"])
    uploader.send(folder, [item(1), item(2), item(3)])
    states = {o.item.identity: o.state for o in outcomes}
    assert states == {"fp1": "uploaded", "fp2": "failed", "fp3": "uploaded"}


def test_fatal_error_stops_the_mailbox():
    uploader, server, folder, outcomes = make(["unauthorized"])
    with pytest.raises(MailboxFatalError):
        uploader.send(folder, [item(1)])


def test_batcher_bounds_count_and_bytes():
    batcher = Batcher(max_items=3, max_bytes=100)
    full = [b for b in (batcher.add(item(i, size=10)) for i in range(7)) if b]
    assert [len(b) for b in full] == [3, 3]
    batcher = Batcher(max_items=100, max_bytes=100)
    assert batcher.add(item(1, size=60)) is None
    assert [u.identity for u in batcher.add(item(2, size=60))] == ["fp1"]


def test_refused_extra_properties_are_dropped_and_the_item_lands():
    uploader, server, folder, outcomes = make(["refuse-extras", "ok"])
    extra = item(1)
    extra.extra_extended = [ExtendedProperty("Integer", 5, tag=0x6A00)]
    uploader.send(folder, [extra])
    assert [o.state for o in outcomes] == ["uploaded"]
    assert outcomes[0].item.extra_extended == []
    assert any("extra properties dropped" in str(w) for w in outcomes[0].item.warnings)


def test_refused_item_class_falls_back_to_a_plain_message():
    uploader, server, folder, outcomes = make(["refuse-class", "ok"])
    note = item(1)
    note.value = MailMessage(note.mime or b"", "IPM.Schedule.Meeting.Request")
    note.item_class = "IPM.Schedule.Meeting.Request"
    uploader.send(folder, [note])
    assert [o.state for o in outcomes] == ["uploaded"]
    assert outcomes[0].item.value.item_class is None
    assert any("kept as a plain message" in str(w) for w in outcomes[0].item.warnings)
