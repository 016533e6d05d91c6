"""A MailboxJob as plain data (what a Temporal workflow carries): round trip, no password, path mapping."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.destination.ews.connect import Target
from pipeline.execution.base import MailboxJob
from pipeline.execution.wire import (
    WireError,
    job_from_wire,
    job_to_wire,
    map_path,
    parse_path_map,
    summary_from_wire,
)
from pipeline.rebuild.run import RunOptions, Summary

OPTIONS = RunOptions(
    ost=Path("/srv/osts/alice.ost"),
    mailbox="alice@corp.example",
    target_root="Recovered",
    only=("Inbox", "role:calendar"),
    exclude=("Inbox/Spam",),
    since=datetime(2024, 1, 31),
    recover=True,
    break_lease=True,
    folders=(5, 7),
    store_part=False,
)
TARGET = Target(
    server="https://mail.corp.example/EWS/Exchange.asmx",
    username="CORP\\svc",
    auth="ntlm",
    impersonate=True,
    ca_bundle="/etc/ca.pem",
    timeout=90,
    password="generated-secret",
)


def test_a_job_survives_json_and_loses_its_password():
    wire = job_to_wire(MailboxJob(OPTIONS, TARGET), "ews")
    text = json.dumps(wire)  # what the workflow input is: JSON, nothing else
    assert "generated-secret" not in text
    back = job_from_wire(json.loads(text))
    assert back.options == OPTIONS
    assert back.endpoint == Target(
        server=TARGET.server,
        username="CORP\\svc",
        auth="ntlm",
        impersonate=True,
        ca_bundle="/etc/ca.pem",
        timeout=90,
        password=None,
    )


def test_a_dry_run_job_has_no_endpoint():
    back = job_from_wire(json.loads(json.dumps(job_to_wire(MailboxJob(OPTIONS), "ews"))))
    assert back.endpoint is None and back.options == OPTIONS


def test_a_job_of_another_version_or_destination_is_refused():
    wire = job_to_wire(MailboxJob(OPTIONS, TARGET), "ews")
    with pytest.raises(WireError):
        job_from_wire({**wire, "version": 99})
    with pytest.raises(WireError, match="unknown destination"):
        job_from_wire({**wire, "destination": "carrier-pigeon"})


def test_path_map_rewrites_the_share_prefix_on_the_worker():
    pairs = parse_path_map(["//fs01/osts=/mnt/osts", "D:\\OST=/data/ost"])
    assert map_path("//fs01/osts/alice.ost", pairs) == "/mnt/osts/alice.ost"
    assert map_path("\\\\fs01\\osts\\team\\bob.ost", pairs) == "/mnt/osts/team/bob.ost"
    assert map_path("D:\\OST\\carol.ost", pairs) == "/data/ost/carol.ost"
    assert map_path("//fs01/osts-old/dave.ost", pairs) == "//fs01/osts-old/dave.ost"  # whole components only
    assert map_path("/mnt/osts/x.ost", parse_path_map(["/mnt/osts=E:\\osts"])) == "E:\\osts\\x.ost"
    wire = job_to_wire(MailboxJob(RunOptions(ost=Path("//fs01/osts/alice.ost"), mailbox="a@b.c")), "ews")
    assert job_from_wire(wire, pairs).options.ost == Path("/mnt/osts/alice.ost")


@pytest.mark.parametrize("bad", ["/mnt/osts", "=x", "x="])
def test_path_map_needs_old_and_new(bad: str):
    with pytest.raises(ValueError, match="OLD=NEW"):
        parse_path_map([bad])


def test_a_summary_survives_json():
    summary = Summary(
        "alice@corp.example",
        "/srv/osts/alice.ost",
        found=10,
        uploaded=7,
        present=1,
        skipped=Counter({"dry run": 1}),
        failed=Counter({"refused": 1}),
        failures=[
            {
                "folder": "Inbox",
                "item_class": "IPM.Note",
                "subject": "s",
                "kind": "refused",
                "reason": "refused: x",
                "node_id": 5,
            }
        ],
        status="failed-items",
        elapsed=1.5,
    )
    back = summary_from_wire(json.loads(json.dumps({**summary.as_dict(), "worker": "1@host"})))
    assert back == summary and back.failed_total == 1
