"""pipeline/state/filenames.py: names valid everywhere and capped in bytes, files never written through a link.

Oracles: byte lengths from str.encode, the file system read back with os.lstat and plain reads, and
literal expectations. The folder tests run twice: with directory descriptors (POSIX) and with the path and
lstat fallback the module uses where the OS has no dir_fd/O_NOFOLLOW (Windows).
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from pipeline.state import filenames as filenames
from pipeline.state.filenames import Folder, UnsafePath, descend, numbered, safe_name, unique

LINKS = hasattr(os, "symlink") and os.name == "posix"


def test_names_are_valid_on_windows_and_posix():
    assert safe_name("report?.pdf") == safe_name("report*.pdf") == "report_.pdf"
    assert safe_name('a<b>c:d"e/f\\g|h\x00i\x1fj.txt') == "a_b_c_d_e_f_g_h_i_j.txt"
    for reserved in ("CON", "nul.txt", "Com1.log", "LPT9", "aux .txt", "CONOUT$", "COM¹"):
        assert safe_name(reserved).startswith("_"), reserved
    assert safe_name("CONTRACT.pdf") == "CONTRACT.pdf"
    assert safe_name("ends with dots... ") == "ends with dots"
    assert safe_name("") == "_" and safe_name("..") == "_" and safe_name(" . ") == "_"
    assert safe_name(".bashrc") == "_.bashrc", "never hidden, never one of our temporary names"


def test_names_are_capped_in_bytes_never_mid_character():
    emoji = "😀" * 80  # 320 bytes, 80 characters
    capped = safe_name(emoji)
    assert len(capped.encode("utf-8")) <= filenames.NAME_BYTES and emoji.startswith(capped)
    long_pdf = "é" * 300 + ".pdf"
    capped = safe_name(long_pdf)
    assert capped.endswith(".pdf") and len(capped.encode("utf-8")) <= filenames.NAME_BYTES
    assert capped[:-4] == "é" * len(capped[:-4])
    folder = safe_name("Reports v1.2 " + "x" * 300, file=False)
    assert folder.startswith("Reports v1.2 x") and len(folder.encode()) <= filenames.NAME_BYTES
    full = "a" * 251 + ".pdf"  # already 255 bytes: the numbered variant still fits
    assert numbered(full, 1234).endswith(" (1234).pdf") and len(numbered(full, 1234).encode()) == 255
    assert numbered("manifest.json", 2, file=False) == "manifest.json (2)"


def test_unique_compares_as_case_and_normalization_insensitive_file_systems_do():
    taken: set[str] = set()
    nfc = unicodedata.normalize("NFC", "Café.pdf")
    nfd = unicodedata.normalize("NFD", "Café.pdf")
    assert [unique(n, taken) for n in ("scan.pdf", "SCAN.pdf", nfc, nfd)] == [
        "scan.pdf",
        "SCAN (2).pdf",
        nfc,
        unicodedata.normalize("NFD", "Café (2).pdf"),
    ]


@pytest.fixture(params=["dir_fd", "paths"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "dir_fd" and not filenames.DIR_FD:
        pytest.skip("this OS has no dir_fd/O_NOFOLLOW")
    if request.param == "paths":
        monkeypatch.setattr(filenames, "DIR_FD", False)
    return request.param


def test_add_keeps_both_files_of_one_name_and_reuses_the_same_bytes(tmp_path: Path, mode: str):
    with Folder.open(tmp_path) as folder:
        first = folder.add("scan.pdf", b"first")
        second = folder.add("scan.pdf", b"second")
        again = folder.add("scan.pdf", b"second")
    assert (first.name, first.new, second.name, second.new) == ("scan.pdf", True, "scan (2).pdf", True)
    assert (again.name, again.new) == ("scan (2).pdf", False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan (2).pdf", "scan.pdf"]
    assert (tmp_path / "scan.pdf").read_bytes() == b"first" and (tmp_path / "scan (2).pdf").read_bytes() == b"second"


def test_a_write_that_fails_leaves_nothing(tmp_path: Path, mode: str):
    with Folder.open(tmp_path) as folder, pytest.raises(TypeError):
        folder.replace("item.ics", object())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not LINKS, reason="planting symbolic links needs a POSIX system")
def test_files_are_never_written_through_a_link(tmp_path: Path, mode: str):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "item.eml").symlink_to(victim)
    (out / "scan.pdf").symlink_to(victim)
    (out / "dangling.pdf").symlink_to(tmp_path / "nowhere.pdf")
    with Folder.open(out) as folder:
        folder.replace("item.eml", b"mail")
        added = folder.add("scan.pdf", b"keep me")  # the link's target holds these bytes: still not reused
        dangling = folder.add("dangling.pdf", b"new")
    assert victim.read_text() == "keep me" and not (tmp_path / "nowhere.pdf").exists()
    assert not (out / "item.eml").is_symlink() and (out / "item.eml").read_bytes() == b"mail"
    assert added.name == "scan (2).pdf" and (out / "scan.pdf").is_symlink()
    assert dangling.name == "dangling (2).pdf"


@pytest.mark.skipif(not LINKS, reason="planting symbolic links needs a POSIX system")
def test_folders_that_are_links_or_files_are_refused(tmp_path: Path, mode: str):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "Inbox").symlink_to(elsewhere, target_is_directory=True)
    (out / "Calendar").write_text("a file")
    with Folder.open(out) as root:
        with pytest.raises(UnsafePath, match="symbolic link"):
            descend(root, ("Inbox", "Sub"))
        with pytest.raises(UnsafePath, match="not a folder"):
            root.child("Calendar")
        with descend(root, ("Contacts", "Family")) as made:
            made.replace("a.vcf", b"x")
    assert list(elsewhere.iterdir()) == []
    assert (out / "Contacts" / "Family" / "a.vcf").read_bytes() == b"x"
