"""`rebuild export` reads the store once: items whose Exchange parties need the whole store's address book
are written after the pass (issue 17). Oracle: the exchange-senders fixture spec (who is cached where), read
back from the exported .eml files with the email package; and the manifest's order is the source order."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

import fixtures
from tests.conftest import run_cli

OWNER = "owen@corp.example"


def senders(folder: Path) -> dict[str, tuple[str, str]]:
    out = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        address = message["From"].addresses[0]
        out[str(message["Subject"])] = (address.display_name, address.addr_spec)
    return out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_senders_resolved_by_later_items_and_other_folders(tmp_path: Path, workers: str):
    ost = fixtures.cached("exchange-senders", format="ost")
    out = tmp_path / "out"
    result = run_cli(
        "export",
        "--ost",
        str(ost),
        "--out",
        str(out),
        "--mailbox",
        OWNER,
        "--x500-domain",
        "x500.corp.example",
        "--workers",
        workers,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inbox, sent = senders(out / "Inbox"), senders(out / "Sent Items")
    # Carol's SMTP address is cached only on the Cc row of a LATER item of the Inbox: her first mail must
    # wait for the whole pass (with 2 workers, the two folders' books come from two processes).
    assert inbox["Notes from Carol"] == ("Carol Colleague", "carol@corp.example")
    assert inbox["Newsletter with Carol in copy"] == ("News", "news@example.org")
    name, ghost = inbox["From someone who left"]
    assert ghost.startswith("IMCEAEX-_o=Corp_ou=Exchange") and ghost.endswith("_cn=ghost@x500.corp.example")
    # The owner is known from Sent Items as a whole (the DN that sent them), mapped to --mailbox.
    assert sent["Report for Carol"] == ("Owen Owner", OWNER)
    assert sent["Reply to the outside"] == ("Owen Owner", OWNER)
    report = next(p for p in (out / "Sent Items").glob("*.eml") if "Report for Carol" in p.name)
    to = email.message_from_bytes(report.read_bytes(), policy=email.policy.default)["To"].addresses
    assert [a.addr_spec for a in to] == ["carol@corp.example"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = [(Path(entry["file"]).parent.name, Path(entry["file"]).name[:5]) for entry in manifest["items"]]
    # Listed as written: the newsletter (no Exchange party without a cached address) during the pass, the
    # four that needed the whole book after it, in source order.
    assert files == [
        ("Inbox", "00003"),
        ("Inbox", "00001"),
        ("Inbox", "00002"),
        ("Sent Items", "00001"),
        ("Sent Items", "00002"),
    ], files
    assert manifest["failures"] == [] and not list(out.glob("*.partial"))


def test_the_same_store_exports_the_same_bytes(tmp_path: Path):
    """Every file, manifest included, is the same from run to run and with one or two worker processes."""
    ost = fixtures.cached("small", format="ost")
    trees = []
    for run, workers in enumerate(("1", "2", "2")):
        out = tmp_path / f"out{run}"
        result = run_cli("export", "--ost", str(ost), "--out", str(out), "--workers", workers)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        trees.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert any(p.suffix == ".ics" for p in trees[0]) and len(trees[0]) > 15
    for other in trees[1:]:
        assert other.keys() == trees[0].keys()
        assert [p for p in other if other[p] != trees[0][p]] == []
