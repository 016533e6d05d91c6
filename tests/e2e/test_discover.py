"""`rebuild discover DIR...` as an admin runs it: a folder of caches whose names hide their owners.

Three owners' fixture files (Alice's desktop and laptop OSTs and her archive PST from the cache set, Bob's
OST known only by his sent mail, Carol's Outlook PST known by her sent mail and the Inbox delivery stamp),
a file claiming two owners, a file that does not open, and (when ../shared is present) the real samples.
Judged against the specs' own addresses and, for the samples, the literal addresses pffexport shows in
their Sent Items and Inbox; the CSVs are read with the csv module.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import fixtures
from fixtures.caches import cache_specs, load_cache_set
from tests.conftest import SAMPLES, run_cli

DN = "/o=Corp/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn="


def _mail(subject: str, **extra: object) -> dict:
    return {"subject": subject, "sent": "2025-01-02T03:04:05", **extra}


def _files(top: Path) -> dict[str, str | None]:
    """Builds the folder; returns file -> the owner's SMTP address the test expects (None: not assigned)."""
    expected: dict[str, str | None] = {}
    for name, (fmt, spec) in cache_specs(load_cache_set("alice")).items():
        target = top / f"pc-{name}" / ("outlook.ost" if fmt.startswith("ost") else "archive.pst")
        fixtures.build(spec, target, format=fmt)
        expected[str(target)] = "alice@corp.example" if fmt.startswith("ost") else None  # the archive: no owner
    bob = {"name": "Bob", "email": DN + "bob", "smtp": "bob@corp.example"}
    fixtures.build(
        {
            "folders": [
                {"name": "Inbox", "role": "inbox", "items": [_mail("hi bob", to=[bob])]},
                {
                    "name": "Sent Items",
                    "role": "sentitems",
                    "items": [_mail("from bob", sender=bob), _mail("again", sender=bob)],
                },
            ]
        },
        top / "laptop7" / "mail.ost",
        format="ost",
    )
    expected[str(top / "laptop7" / "mail.ost")] = "bob@corp.example"
    carol = "Carol <carol@corp.example>"
    fixtures.build(
        {
            "folders": [
                {"name": "Inbox", "role": "inbox", "items": [_mail("to carol", received_by=carol)]},
                {"name": "Sent Items", "role": "sentitems", "items": [_mail("from carol", sender=carol)]},
            ]
        },
        top / "share" / "OLD.PST",
        format="pst",
    )
    expected[str(top / "share" / "OLD.PST")] = "carol@corp.example"
    fixtures.build(
        {
            "owner": {"name": "Dave", "email": DN + "dave"},
            "folders": [
                {
                    "name": "Sent Items",
                    "role": "sentitems",
                    "items": [_mail("from erin", sender="Erin <erin@corp.example>")],
                },
            ],
        },
        top / "share" / "two.ost",
        format="ost",
    )
    expected[str(top / "share" / "two.ost")] = None
    (top / "share" / "broken.ost").write_bytes(b"not an outlook file" * 10)
    expected[str(top / "share" / "broken.ost")] = None
    (top / "share" / "notes.txt").write_text("not a data file")  # not *.ost/*.pst: not looked at
    try:  # a link to a folder already walked: not followed (no second row for the same files)
        (top / "again").symlink_to(top / "share", target_is_directory=True)
    except OSError:
        pass  # Windows without the privilege to make links
    return expected


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_discover_assigns_every_file_whose_owner_the_file_names(tmp_path: Path) -> None:
    top, out = tmp_path / "disks", tmp_path / "out"
    expected = _files(top)
    dirs = [str(top)]
    if SAMPLES.is_dir():
        dirs.append(str(SAMPLES))
        for sample in SAMPLES.iterdir():
            if sample.suffix.lower() in (".ost", ".pst"):
                expected[str(sample.absolute())] = {  # as pffexport shows them (the last test below)
                    "SampleOstFile.ost": "saqib.razzaq@ex2010.local",  # its Sent Items' sender
                    "Outlook.pst": "saqib.razzaq@xp.local",  # its Sent Items' sender
                    "damaged-Outlook_part0.pst": "saqib.razzaq@xp.local",  # its Inbox's PR_RECEIVED_BY
                }.get(sample.name)
    result = run_cli("discover", *dirs, "--out", str(out), "--state", str(tmp_path / "state"))
    assert result.returncode == 1, result.stderr  # some files are not assigned
    assert "Traceback" not in result.stderr + result.stdout
    users = {row["ost"]: row["mailbox"] for row in _rows(out / "users.csv")}
    unassigned = {row["ost"]: row["reason"] for row in _rows(out / "unassigned.csv")}
    expected = {str(Path(k).absolute()): v for k, v in expected.items()}
    assert users == {path: owner for path, owner in expected.items() if owner}
    assert set(unassigned) == {path for path, owner in expected.items() if not owner}
    assert list(csv.reader((out / "users.csv").open(encoding="utf-8")))[0] == ["ost", "mailbox"]
    # two rows of one mailbox: Alice's desktop and laptop
    assert sorted(users.values()).count("alice@corp.example") == 2
    share = top / "share"
    assert unassigned[str(share / "two.ost")].startswith("two owners claimed:")
    assert "erin@corp.example" in unassigned[str(share / "two.ost")] and "cn=dave" in unassigned[str(share / "two.ost")]
    assert unassigned[str(top / "pc-archive" / "archive.pst")].startswith("no owner found")
    assert unassigned[str(share / "broken.ost")].startswith("does not open:")
    assert str(share / "notes.txt") not in unassigned
    evidence = {row["ost"]: row for row in _rows(out / "owners.csv")}
    assert evidence[str(top / "pc-desktop" / "outlook.ost")]["legacy_dn"] == DN + "alice"
    assert "store owner entry" in evidence[str(top / "pc-desktop" / "outlook.ost")]["evidence"]
    assert "Inbox received-by" in evidence[str(share / "OLD.PST")]["evidence"]


def test_discover_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = run_cli("discover", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "not a folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("pffexport") is None, reason="pffexport (pff-tools) is not installed")
def test_the_samples_owner_addresses_are_what_pffexport_shows(samples: Path, tmp_path: Path) -> None:
    """The oracle of the literal addresses above: pffexport's own dump of the samples' messages."""
    import subprocess

    subprocess.run(
        ["pffexport", "-q", "-d", "-t", str(tmp_path / "d"), str(samples / "damaged-Outlook_part0.pst")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    values = " ".join(p.read_text(errors="replace") for p in (tmp_path / "d.export").rglob("ItemValues.txt"))
    received = "73 00 61 00 71 00 69 00  62 00 2e 00 72 00 61 00"  # 's.a.q.i.b...r.a' in UTF-16: saqib.razzaq@xp.local
    assert "Entry type:\t\t\t0x00000076" in values and received in values

    subprocess.run(
        ["pffexport", "-q", "-t", str(tmp_path / "x"), str(samples / "SampleOstFile.ost")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    sent = tmp_path / "x.export" / "Root - Mailbox" / "IPM_SUBTREE" / "Sent Items"
    headers = " ".join(p.read_text(errors="replace") for p in sent.rglob("OutlookHeaders.txt"))
    assert "Saqib Razzaq2ee05199" in headers  # the owner's DN sent the Sent Items
    inbox = tmp_path / "x.export" / "Root - Mailbox" / "IPM_SUBTREE" / "Inbox"
    assert "saqib.razzaq@ex2010.local" in " ".join(p.read_text(errors="replace") for p in inbox.rglob("*.txt"))
