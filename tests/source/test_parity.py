"""Differential test: the native reader and libpff (pypff) agree on every fixture format and sample file.

Oracles: pypff (an independent C implementation) for everything a reader hands over, value by value;
the fixture manifest (what the writer put in) for item counts and attachment bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import fixtures
from pipeline.model import SourceError
from pipeline.source import SourceOpenError, open_source
from pipeline.source.native import NativeSource
from pipeline.source.pff import PffSource
from tests.conftest import run_cli
from tests.source.parity import differences, source_view

FORMATS = ["pst", "ost", "ost4k", "ansi"]

#: Where libpff is wrong and the native reader is right, with the evidence (README "Readers").
KNOWN_DIFFERENCES = {
    # libpff: "table contains record entries but no value array" on Deleted Items, whose contents table has
    # an empty row index (BTH without a root) and no row matrix: an empty table by [MS-PST] 2.3.4. The
    # folder's own PR_CONTENT_COUNT is 0 and readpst reads the folder as empty without complaint.
    "damaged-Outlook_part0.pst": {"item (32866, 0): : ('error',) != None"},
}


@pytest.mark.parametrize("encryption", ["permute", "none"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_native_matches_libpff_on_fixtures(fmt: str, encryption: str) -> None:
    path = fixtures.cached("small", format=fmt, encryption=encryption)
    with PffSource(path) as pff, NativeSource(path) as native:
        expected, got = source_view(pff), source_view(native)
    assert differences(expected, got) == []
    assert sum(1 for v in got["items"].values() if isinstance(v, dict)) == 18


@pytest.mark.parametrize("fmt", FORMATS)
def test_native_reads_what_the_writer_wrote(fmt: str) -> None:
    """Against the fixture manifest: every item once, in its folder, with its attachments' exact bytes."""
    path, manifest = fixtures.cached_build("small", format=fmt)
    if fmt == "ost4k":  # Outlook 2013+ layout: data blocks stored as zlib streams where that saves space
        assert manifest.stats["compressed_blocks"] > 10
    wanted = {item.nid: {(a.name, a.sha256) for a in item.attachments if a.method == 1} for item in manifest.items}
    found: dict[int, set[tuple[str | None, str]]] = {}
    with NativeSource(path) as source:
        for folder in source.folders():
            for item in source.items(folder):
                assert not isinstance(item, SourceError), item
                found[item.node_id] = {
                    (a.filename, hashlib.sha256(a.read()).hexdigest()) for a in item.attachments if a.method == 1
                }
    assert found == wanted


@pytest.mark.parametrize("kind", ["item-bytes", "orphan-item", "item-crc"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_native_matches_libpff_on_damaged_fixtures(tmp_path: Path, fmt: str, kind: str) -> None:
    """Both readers report a garbled item and an item whose NBT entry names another folder. A flipped
    stored CRC is the documented difference: libpff never checks block CRCs and reads the item as if it
    were sound; the native reader reports it ("damaged block, CRC mismatch")."""
    source, manifest = fixtures.cached_build("small", format=fmt)
    path = tmp_path / f"damaged{source.suffix}"
    path.write_bytes(source.read_bytes())
    fixtures.apply(path, manifest, [fixtures.Damage(kind, "HTML with inline image")])
    with PffSource(path, recover=True) as pff, NativeSource(path, recover=True) as native:
        expected, got = source_view(pff), source_view(native)
        recovered = ([i.node_id for i in pff.recovered()], [i.node_id for i in native.recovered()])
    found = differences(expected, got)
    if kind == "item-crc":
        assert len(found) == 1 and found[0].endswith("!= ('error',)"), found
    else:
        assert found == []
    assert recovered[0] == recovered[1]
    assert sum(1 for v in got["items"].values() if v == ("error",)) == 1


def test_native_matches_libpff_on_every_sample(samples: Path) -> None:
    files = sorted(p for p in samples.iterdir() if p.suffix.lower() in (".pst", ".ost"))
    assert len(files) >= 9
    report = {}
    for path in files:
        with PffSource(path) as pff, NativeSource(path) as native:
            found = set(differences(source_view(pff), source_view(native), limit=100))
        report[path.name] = found - KNOWN_DIFFERENCES.get(path.name, set())
        assert found >= KNOWN_DIFFERENCES.get(path.name, set()), f"{path.name}: a documented difference is gone"
    assert report == {name: set() for name in report}


def test_open_source_picks_the_reader(tmp_path: Path) -> None:
    path = fixtures.cached("small", format="pst")
    with open_source(path, reader="native") as native, open_source(path, reader="libpff") as pff:
        assert isinstance(native, NativeSource) and isinstance(pff, PffSource)


def _exported(out: Path) -> dict[str, str]:
    """The items' files (the user's settings under _settings/ come from associated messages, which only the
    native reader reaches: libpff's Python binding has no call for them, see Source.associated)."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "manifest.json" and p.relative_to(out).parts[0] != "_settings"
    }


def test_rebuild_export_writes_the_same_bytes_with_either_reader(tmp_path: Path, samples: Path) -> None:
    """End to end through the CLI: every .eml/.ics/.vcf/.json the export writes is byte-identical."""
    for name, path in (("ost4k", fixtures.cached("small", format="ost4k")), ("outlook", samples / "Outlook.pst")):
        outputs = {}
        for reader in ("native", "libpff"):
            out = tmp_path / f"{name}-{reader}"
            result = run_cli("export", "--ost", str(path), "--out", str(out), "--reader", reader)
            assert result.returncode == 0, result.stderr
            outputs[reader] = _exported(out)
        assert outputs["native"] == outputs["libpff"], name
        assert len(outputs["native"]) >= 13


def test_cyclic_encryption_is_left_to_libpff(tmp_path: Path) -> None:
    """The native reader does not decode NDB_CRYPT_CYCLIC: open_source hands such a file to libpff (which
    here refuses it, the blocks not being really cyclic-encoded)."""
    from fixtures.crc import weak_crc32

    data = bytearray(fixtures.cached("small", format="pst", encryption="none").read_bytes())
    data[513] = 2  # bCryptMethod: cyclic
    data[524:528] = weak_crc32(bytes(data[8 : 8 + 516])).to_bytes(4, "little")
    path = tmp_path / "cyclic.pst"
    path.write_bytes(bytes(data))
    with pytest.raises(SourceOpenError, match="unsupported encryption"):  # libpff's refusal, in words
        open_source(path, reader="native")


@pytest.mark.parametrize("codepage", [None, 1251, 932])
@pytest.mark.parametrize("spec", ["ansi-cp1251", "ansi-cp932"])
def test_native_decodes_ansi_stores_as_libpff_does(spec: str, codepage: int | None) -> None:
    """ANSI stores: each item in its own code page, folder names in the store's dominant one (or --codepage,
    which beats both); the two readers choose alike and decode alike."""
    path = fixtures.cached(spec, format="ansi")
    with PffSource(path, codepage=codepage) as pff, NativeSource(path, codepage=codepage) as native:
        assert (native.info.codepage, native.info.codepage_source) == (pff.info.codepage, pff.info.codepage_source)
        assert differences(source_view(pff), source_view(native)) == []
    with open_source(path, codepage=codepage) as default:
        assert isinstance(default, NativeSource)  # ANSI stores are read natively by default
