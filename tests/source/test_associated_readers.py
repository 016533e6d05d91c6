"""Differential test of folder-associated (FAI) contents (issue 23): the native reader and the libpff reader
(pypff, reaching libpff's associated contents through its C API) agree on every sample and on every fixture
format that writes them, message by message: node id, class, subject, every property, recipients, attachments,
and the configuration streams (0x7C07 dictionary, 0x7C08 XML, 0x7C09 binary) byte for byte.

Oracles beside the two readers: the fixture spec (what the writer put in each folder) and Debian's libpff
(tests/source/libpff_fai.py, a walk written in the test over another build of the library) for counts and
classes. pffexport offers no third opinion: it exports no associated contents ("TODO add support for sub
associated contents" in its export_handle.c; `pffexport -m all` writes none).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fixtures
from fixtures.spec import load_spec
from pipeline.model import SourceError, SourceItem
from pipeline.source import libpff_capi, pff_associated
from pipeline.source.native import NativeSource
from pipeline.source.pff import PffSource
from tests.conftest import run_cli
from tests.source.libpff_fai import UNREADABLE, associated_contents
from tests.source.parity import item_view

CONFIGURATION_STREAMS = (0x7C07, 0x7C08, 0x7C09)
FORMATS = ["pst", "ost", "ost4k", "ansi"]
SPECS = ["settings", "rules"]
#: The common views folder as the fixture writer names it: as Exchange does in an OST, as Outlook in a PST.
VIEWS = {"pst": "IPM_COMMON_VIEWS", "ansi": "IPM_COMMON_VIEWS", "ost": "Common Views", "ost4k": "Common Views"}


def associated_view(source: Any) -> dict[tuple[str, ...], dict[int, dict[str, Any]]]:
    """{folder path: {node id: everything the reader hands over}} for the folders that have associated
    messages; an entry the reader cannot read fails the test with its reason."""
    found: dict[tuple[str, ...], dict[int, dict[str, Any]]] = {}
    for folder in source.folders():
        for entry in source.associated(folder):
            assert not isinstance(entry, SourceError), entry
            assert isinstance(entry, SourceItem) and entry.associated and entry.folder_path == folder.path
            found.setdefault(folder.path, {})[entry.node_id] = item_view(entry) | {"subject": entry.subject}
    return found


def both(path: Path) -> tuple[dict, dict]:
    if pff_associated.unavailable() is not None:
        pytest.skip(f"the libpff reader cannot reach associated contents here: {pff_associated.unavailable()}")
    with NativeSource(path) as native, PffSource(path) as pff:
        return associated_view(native), associated_view(pff)


def classes(view: dict) -> Counter:
    return Counter((path[-1], item["class"]) for path, items in view.items() for item in items.values())


def agree(native: dict, libpff: dict) -> None:
    assert classes(libpff) == classes(native)
    for path, items in native.items():
        assert set(libpff[path]) == set(items), path
        for nid, item in items.items():
            other = libpff[path][nid]
            assert (other["class"], other["subject"]) == (item["class"], item["subject"]), (path, nid)
            for prop in CONFIGURATION_STREAMS:
                assert other["props"].get(prop) == item["props"].get(prop), (path, nid, hex(prop))
            assert other == item, (path, nid)


def debian_libpff(path: Path) -> Counter | None:
    """(folder name, class) of every associated message Debian's libpff opens, outside search folders."""
    found = associated_contents(path)
    if found is None:
        return None
    return Counter(
        (where[-1], cls)
        for where, entries in found.items()
        if "Finder" not in where  # search folders: libpff lists their search results, and cannot open them
        for cls, _ in entries
        if cls != UNREADABLE
    )


@pytest.mark.samples
def test_both_readers_and_debians_libpff_agree_on_every_sample(samples: Path):
    files = sorted(p for p in samples.iterdir() if p.suffix.lower() in (".pst", ".ost"))
    assert len(files) >= 9
    totals = {}
    for path in files:
        native, libpff = both(path)
        agree(native, libpff)
        oracle = debian_libpff(path)
        if oracle is not None:
            assert classes(native) == oracle, path.name
        totals[path.name] = sum(classes(native).values())
    # the counts, and the distribution list sample's three
    assert {k: v for k, v in totals.items() if v} == {"SampleOstFile.ost": 21, "Outlook.pst": 10, "dist-list.pst": 3}


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_both_readers_agree_on_the_fixtures_that_write_them(spec: str, fmt: str):
    path = fixtures.cached(spec, fmt, "permute")
    native, libpff = both(path)
    agree(native, libpff)
    store = load_spec(spec)
    written = Counter(folder.name for folder in _walk(store.folders) for _ in folder.associated)
    written[VIEWS[fmt]] += len(store.common_views)
    assert Counter(path[-1] for path, items in native.items() for _ in items) == +written
    oracle = debian_libpff(path)
    if oracle is not None:
        assert classes(native) == oracle


def _walk(folders: Any) -> Any:
    for folder in folders:
        yield folder
        yield from _walk(folder.folders)


@pytest.mark.samples
def test_inspect_lists_the_same_settings_with_either_reader(samples: Path):
    """Through the CLI, as an admin runs it: `inspect --reader libpff` lists the settings native lists."""
    listed = {}
    for reader in ("native", "libpff"):
        result = run_cli("inspect", "--ost", str(samples / "SampleOstFile.ost"), "--json", "--reader", reader)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        listed[reader] = {f["path"]: f["settings"] for f in report["folders"] if f["settings"]}
    assert listed["libpff"] == listed["native"]
    assert sum(len(s) for s in listed["libpff"].values()) == 21  # the count


def test_a_function_pypff_does_not_export_is_a_reason_not_a_crash():
    with pytest.raises(libpff_capi.CApiUnavailable) as caught:
        libpff_capi.function("libpff_no_such_function", ())
    assert caught.value.name == "libpff_no_such_function" and "does not export it" in caught.value.reason


def test_without_the_c_api_the_libpff_reader_says_why_once(monkeypatch):
    """Where pypff exports no libpff function (a Windows wheel), the libpff reader hands over one error
    naming the reason, never an empty answer that looks like a store without settings, never a crash."""
    reason = "libpff_folder_get_sub_associated_content is not reachable through pypff: pypff does not export it"
    monkeypatch.setattr(pff_associated, "unavailable", lambda: reason)
    with PffSource(fixtures.cached("settings", "ost", "permute")) as pff:
        found = [entry for folder in pff.folders() for entry in pff.associated(folder)]
    [error] = found
    assert isinstance(error, SourceError) and error.what == "associated contents" and reason in error.reason


def test_without_the_c_api_an_embedded_message_is_unreadable_not_a_crash(monkeypatch):
    """The same fallback for embedded messages (embedded.py shares libpff_capi.py): the attachment stays,
    its message reads as unreadable (None), as one libpff cannot open."""

    def embedded_of(path: Path) -> list[Any]:
        with PffSource(path) as pff:
            return [
                attachment.embedded()
                for folder in pff.folders()
                for item in pff.items(folder)
                if isinstance(item, SourceItem)
                for attachment in item.attachments
                if attachment.method == 5
            ]

    path = fixtures.cached("small", "pst", "permute")
    assert embedded_of(path) and all(e is not None for e in embedded_of(path))  # with the C API

    def unexported(name: str, *args: Any) -> Any:
        raise libpff_capi.CApiUnavailable(name, "pypff does not export it")

    monkeypatch.setattr(libpff_capi, "function", unexported)
    found = embedded_of(path)
    assert found and all(e is None for e in found)
