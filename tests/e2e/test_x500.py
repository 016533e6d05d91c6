"""`rebuild x500`: the old legacyExchangeDN of each mailbox as a CSV and a PowerShell script, run as a process.

Oracles: the fixture spec (the DN written as the owner's), and for the real cached-mode OST the DN its
Sent Items carry (literal below, as pffexport and readpst show it).
"""

from __future__ import annotations

import csv
import os
import tomllib
from pathlib import Path

import pytest

import fixtures
from tests.conftest import run_cli

SPEC = Path(fixtures.__file__).parent / "specs" / "exchange-senders.toml"
SAMPLE_DN = (
    "/o=Home Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=Saqib Razzaq2ee05199"
)


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "x500.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def owner_dn() -> str:
    spec = tomllib.loads(SPEC.read_text(encoding="utf-8"))
    sent = next(f for f in spec["folders"] if f.get("role") == "sentitems")
    return sent["items"][0]["sender"]["email"]


def test_fixture_owner_dn_becomes_a_proxy(tmp_path: Path):
    ost = fixtures.cached("exchange-senders", format="ost")
    result = run_cli("x500", "--ost", str(ost), "--mailbox", "owen@corp.example", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    dn = owner_dn()
    assert [(r["mailbox"], r["legacy_dn"], r["proxy_address"]) for r in rows(tmp_path)] == [
        ("owen@corp.example", dn, f"X500:{dn}")
    ]
    script = (tmp_path / "x500.ps1").read_bytes()
    assert script.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Windows PowerShell 5.1 reads it right"
    assert f"Set-Mailbox -Identity 'owen@corp.example' -EmailAddresses @{{add='X500:{dn}'}}\r\n" in script.decode(
        "utf-8-sig"
    )


def test_map_covers_every_row_and_reports_mailboxes_without_dn(tmp_path: Path, samples: Path):
    users = tmp_path / "users.csv"
    users.write_text(
        "ost,mailbox\n"
        f"{samples / 'SampleOstFile.ost'},saqib@ex2010.example\n"
        f"{fixtures.cached('small', format='pst')},plain@corp.example\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli("x500", "--map", str(users), "--out", str(out))
    assert result.returncode == 1, "a mailbox without any legacyExchangeDN is reported"
    assert "plain@corp.example: no legacyExchangeDN found" in result.stderr
    found = rows(out)
    assert [r["mailbox"] for r in found] == ["saqib@ex2010.example"]
    assert found[0]["legacy_dn"].casefold() == SAMPLE_DN.casefold()


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    junk = tmp_path / "junk.ost"
    junk.write_bytes(b"not an ost" * 100)
    result = run_cli("x500", "--ost", str(junk), "--mailbox", "a@b.example", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "junk.ost" in result.stderr


def test_links_planted_in_out_are_replaced_never_written_through(tmp_path: Path):
    if not hasattr(os, "symlink"):
        pytest.skip("no symbolic links on this platform")
    ost = fixtures.cached("exchange-senders", format="ost")
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    try:
        (out / "x500.csv").symlink_to(victim)
    except OSError:
        pytest.skip("cannot make symbolic links here")
    result = run_cli("x500", "--ost", str(ost), "--mailbox", "owen@corp.example", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert victim.read_text() == "precious"
    assert not (out / "x500.csv").is_symlink() and rows(out)
