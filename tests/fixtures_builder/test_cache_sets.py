"""Issue 24's fixtures: several caches of one mailbox (fixtures/caches.py, specs/cache-sets/alice.toml).

The native reader reads back what the spec wrote: each OST's replica map, each item's message id (its REPLID
in that file and its global counter, laid out here by hand from [MS-OXCDATA]), change number and search key;
a PST exported from Exchange its PR_SOURCE_KEY; the store's owner entry. Then the identities the pipeline
computes (source/cache_identity.py) group the copies exactly as the spec's item keys do, and the merged
expectation is the one written out below from the spec's comments.
"""

from __future__ import annotations

import hashlib
import struct
import tomllib
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

import fixtures
from fixtures.caches import build_caches, expected, load_cache_set
from pipeline import mapi
from pipeline.source import open_source
from pipeline.source.cache_identity import identities
from pipeline.source.owner import owner_of

SET = Path(fixtures.__file__).parent / "specs" / "cache-sets" / "alice.toml"


def _spec() -> dict:
    data = tomllib.loads(SET.read_text(encoding="utf-8"))
    # plus a PST exported from Exchange holding the report: it keeps PR_SOURCE_KEY
    data["caches"].append({"name": "exported", "kind": "export", "format": "pst"})
    data["items"][0]["copies"].append({"cache": "exported", "folder": "Inbox"})
    return data


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("caches")
    return build_caches(load_cache_set(_spec()), folder)


def _mid(replid: int, counter: int) -> int:
    return struct.unpack("<q", struct.pack("<H", replid) + counter.to_bytes(6, "big"))[0]


def _read(path: Path, reader: str = "native"):  # noqa: ANN202
    with open_source(path, reader=reader) as source:
        items = [item for folder in source.folders() for item in source.items(folder)]
        return source.replica_map(), items, owner_of(source)


def test_the_reader_reads_back_what_the_spec_wrote(built: dict[str, Path]) -> None:
    data = _spec()
    guids = {name: uuid.UUID(text).bytes_le for name, text in data["mailbox"]["replicas"].items()}
    by_subject = {item["subject"]: item for item in data["items"]}
    for cache in data["caches"]:
        replicas, items, owner = _read(built[cache["name"]])
        if cache["kind"] == "ost":  # the store's owner entry, and the SMTP address its Sent Items cache for the DN
            assert (owner.mailbox, owner.legacy_dn) == ("alice@corp.example", data["mailbox"]["owner"]["email"])
        else:  # no owner entry, no sent mail
            assert not owner.assigned
        held = {
            item["subject"]: copy for item in data["items"] for copy in item["copies"] if copy["cache"] == cache["name"]
        }
        assert sorted(item.subject for item in items) == sorted(held)
        if cache["kind"] == "ost":
            assert dict(replicas.guids) == {replid: guids[name] for name, replid in cache["replicas"].items()}
        else:
            assert replicas.guids == {} and replicas.where == "none"
        for item in items:
            spec, copy = by_subject[item.subject], held[item.subject]
            assert item.folder_path[-1] == copy["folder"]
            key = spec.get("key")
            assert item.properties[mapi.PR_SEARCH_KEY] == hashlib.md5(f"search:{key}".encode()).digest()
            replica = spec.get("replica", "server")
            if cache["kind"] == "ost":
                assert item.properties[0x67F4] == _mid(cache["replicas"][replica], spec["counter"])
                assert item.properties.get(0x6743) == copy.get("change")
            else:
                assert 0x67F4 not in item.properties and 0x6743 not in item.properties
            if cache["kind"] == "export":
                assert item.properties[0x65E0] == guids[replica] + spec["counter"].to_bytes(6, "big")
            else:
                assert 0x65E0 not in item.properties


@pytest.mark.parametrize("reader", ["native", "libpff"])
def test_identities_group_the_copies_as_the_spec_keys_do(built: dict[str, Path], reader: str) -> None:
    data = _spec()
    key_of = {item["subject"]: item["key"] for item in data["items"]}
    by_key: dict[str, set[str]] = defaultdict(set)
    content_of: dict[str, set[str]] = defaultdict(set)
    for path in built.values():
        replicas, items, _ = _read(path, reader)
        for one in identities(items, replicas):
            by_key[key_of[one.item.subject]].add(str(one.identity))
            content_of[key_of[one.item.subject]].add(one.content)
    # every key's copies share one content key (the archive's copies link to the OSTs' through it)
    assert all(len(found) == 1 for found in content_of.values())
    assert len({next(iter(found)) for found in content_of.values()}) == len(data["items"])
    # OST and exported copies share the server item's source key; the archive's have content identities
    assert by_key["report"] == {
        f"source-key:{(uuid.UUID(data['mailbox']['replicas']['server']).bytes_le + (0x1001).to_bytes(6, 'big')).hex()}"
    }
    assert len(by_key["sent"]) == 1  # REPLID 2 on the laptop, 3 on the desktop: one GUID, one key
    assert by_key["plan"] != by_key["invoice"]
    assert {i.split(":")[0] for i in by_key["thread"]} == {"source-key", "content"}  # laptop OST + archive
    assert {i.split(":")[0] for i in by_key["draft"]} == {"content"}  # local, never synchronized
    assert {i.split(":")[0] for i in by_key["budget"]} == {"content"}


def test_the_merged_expectation() -> None:
    found = {e.key: e for e in expected(load_cache_set(SET))}
    assert len(found) == 8
    assert (found["plan"].folder, found["plan"].decided_by) == ("Projects", "desktop")  # moved since
    invoice = found["invoice"]
    assert (invoice.decided_by, invoice.read, invoice.flag, invoice.categories) == (
        "laptop",
        True,
        "followup",
        ("Finance",),
    )
    assert found["thread"].caches == ("archive", "laptop") and found["thread"].read is True  # the OST's copy
    assert found["budget"].folder == "Archive2019" and found["draft"].folder == "Drafts"


def test_the_command_line_builds_a_cache_set_and_its_expectation(tmp_path: Path) -> None:
    import json

    from fixtures.cli import main

    assert main(["caches", str(SET), str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.pst", "desktop.ost", "expected.json", "laptop.ost"]
    written = json.loads((tmp_path / "expected.json").read_text(encoding="utf-8"))
    assert [(e["key"], e["folder"], e["decided_by"]) for e in written] == [
        (e.key, e.folder, e.decided_by) for e in expected(load_cache_set(SET))
    ]
    assert main(["caches", str(tmp_path / "missing.toml"), str(tmp_path / "x")]) == 2
