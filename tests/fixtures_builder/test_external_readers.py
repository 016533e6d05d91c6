"""Reads built files with independent tools: readpst (libpst) and pffexport (libpff's C exporter).

Skips with a clear message when the Debian tools are not installed.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import fixtures

# readpst exports these classes (the rest - tasks, sticky notes, distribution lists - it skips, as it does
# for Outlook-made files).
READPST_EXPORTS = {"mail", "smime", "appointment", "meeting", "contact", "journal"}


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (apt-get install -y pst-utils pff-tools)")
    return path


@pytest.mark.parametrize(("fmt", "enc"), [("pst", "permute"), ("ost", "none"), ("ost4k", "permute"), ("ansi", "none")])
def test_readpst_exports_every_item(tmp_path: Path, fmt: str, enc: str) -> None:
    readpst = _need("readpst")
    src = tmp_path / f"small.{fmt}"
    # readpst (libpst 0.6.76) skips compressed 4 KiB-page blocks without a word (0 items, exit 0): it reads
    # the same layout written uncompressed.
    manifest = fixtures.build("small", src, format=fmt, encryption=enc, compress=False)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([readpst, "-e", "-o", str(out), str(src)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    subjects = []
    for path in out.rglob("*"):
        if path.suffix == ".eml":
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            subjects.append(str(msg["Subject"]))
        elif path.suffix in (".ics", ".vcf"):
            text = path.read_text("utf-8", "replace")
            field = "SUMMARY" if path.suffix == ".ics" else "FN"
            found = re.search(rf"^{field}[^:]*:(.*)$", text, re.M)
            assert found, path
            subjects.append(found.group(1).strip().replace("\\,", ","))
    expected = [i.subject for i in manifest.items if i.kind in READPST_EXPORTS]
    if fmt == "ansi":  # 8-bit strings: characters outside cp1252 were stored as '?' (headers keep them)
        expected = [s.encode("cp1252", "replace").decode("cp1252") for s in expected]
        subjects = [s.encode("cp1252", "replace").decode("cp1252") for s in subjects]

    def words(text: str) -> str:  # readpst names contacts "Surname, Given"
        return " ".join(sorted(w for w in re.split(r"[ ,]+", text) if w))

    assert sorted(map(words, subjects)) == sorted(map(words, expected))


def test_pffexport_opens_embedded_messages(tmp_path: Path) -> None:
    pffexport = _need("pffexport")
    src = tmp_path / "small.pst"
    fixtures.build("small", src, format="pst", encryption="permute")
    target = tmp_path / "export"
    proc = subprocess.run([pffexport, "-q", "-t", str(target), str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = Path(str(target) + ".export")
    headers = [p.read_text("utf-8", "replace") for p in root.rglob("OutlookHeaders.txt")]
    subjects = {m.group(1).strip() for h in headers for m in re.finditer(r"^Subject:\s*(.*)$", h, re.M)}
    assert {"Level 1 embedded", "Level 2 embedded", "Level 3 embedded", "Plain hello — grüße 你好"} <= subjects
    deepest = list(root.rglob("*deepest.txt"))
    assert deepest and deepest[0].read_text() == "bottom of the stack"
