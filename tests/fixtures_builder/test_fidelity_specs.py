"""The fidelity specs build files independent readers read as the spec says: readpst (libpst) finds the
top folder's mails in the top folder, and pffexport's raw dump holds the ANSI strings as bytes of the
spec's code page and the Exchange senders as legacyExchangeDNs. Skips without the Debian tools."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

import fixtures

SPECS = Path(fixtures.__file__).parent / "specs"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (apt-get install -y pst-utils pff-tools)")
    return path


def test_top_folder_items_are_in_the_top_folder(tmp_path: Path):
    readpst = _need("readpst")
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [readpst, "-q", "-e", "-o", str(out), str(fixtures.cached("top-folder", format="pst"))],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (top,) = out.iterdir()
    here = sorted(
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]) for p in top.glob("*.eml")
    )
    spec = tomllib.loads((SPECS / "top-folder.toml").read_text(encoding="utf-8"))
    assert here == sorted(i["subject"] for i in spec["items"])


@pytest.mark.parametrize(("name", "codec"), [("ansi-cp932", "cp932"), ("ansi-cp1251", "cp1251")])
def test_ansi_strings_are_bytes_of_the_code_page(tmp_path: Path, name: str, codec: str):
    pffexport = _need("pffexport")
    target = tmp_path / "pff"
    subprocess.run(
        [pffexport, "-q", "-d", "-t", str(target), str(fixtures.cached(name, format="ansi"))],
        capture_output=True,
        timeout=120,
        check=False,
    )
    dumps = b"".join(p.read_bytes() for p in Path(f"{target}.export").rglob("ItemValues.txt"))
    spec = tomllib.loads((SPECS / f"{name}.toml").read_text(encoding="utf-8"))
    for folder in spec["folders"]:
        for item in folder["items"]:
            raw = item["subject"].encode(codec)
            first_row = " ".join(f"{b:02x}" for b in raw[:8]).encode()  # pffexport's hex dump of the value
            assert first_row in dumps, (item["subject"], first_row)
