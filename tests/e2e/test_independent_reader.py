"""Every sample file rebuilt into a sandbox, then each item on the server (plain exchangelib GetItem) compared
with pffexport's dump of the same item (Debian pff-tools, an independent reader): subject, sender
address, recipients (kind and address), attachment names and sizes, embedded-message subjects, sent and
received times, read and unsent flags, categories, importance, flag status.

pffexport's raw property dumps (ItemValues.txt) are decoded here, by this test's own few lines, never by
the project's reader. Differences are printed item by item; the test fails on any difference that is not
in ALLOWED below, each entry with its reason.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import struct
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials, ExtendedProperty, FailFast
from exchangelib.attachments import FileAttachment, ItemAttachment
from exchangelib.items import Message

from tests.conftest import own_sandbox, run_cli

USER, PASSWORD = "reader@corp.example", "reader-pw"
#: Every file of ../shared/samples (test_every_sample_is_listed keeps this true). The real cached-mode OST and
#: Outlook's own PST run in the default test command; the others (about 5 s each) behind `-m slow`.
SAMPLES = [
    "SampleOstFile.ost",
    "Outlook.pst",
    "ansi-32-bit.pst",
    "variousBodyTypes.pst",
    "dist-list.pst",
    "notes.pst",
    "SampleContacts.pst",
    "PersonalStorageFile.ost",
    "damaged-Outlook_part0.pst",
]
DEFAULT = ("SampleOstFile.ost", "Outlook.pst")
#: Damaged on purpose: libpff (so pffexport too) cannot read some folders; the run exits 1 for them.
DAMAGED = ("damaged-Outlook_part0.pst",)
_ITEM_DIR = re.compile(r"^[A-Za-z]+\d{5}$")
_IPM_ROOTS = ("Top of Personal Folders", "IPM_SUBTREE", "Top of Outlook data file")

#: Differences that are not losses, each with its reason. Keyed by field; a function of (source, server)
#: values returns True when the difference is accepted.
ALLOWED = {
    # A legacyExchangeDN means nothing to the new server: it arrives as the SMTP address the store
    # caches for that DN (tests/e2e/test_fidelity.py proves the resolution) or as IMCEAEX-<DN>@domain,
    # which Exchange resolves to the X500 proxy. Either way the server never holds a bare DN.
    "ex-address": "legacyExchangeDN carried as its SMTP address or IMCEAEX form",
    # EWS sets DateTimeReceived itself for items that were never delivered (drafts, sent copies without a
    # delivery time): there is no source value to lose.
    "received-none": "no delivery time in the source",
    # An 'SMTP' address with no domain (an Exchange row holding a bare alias) is no address at all: it
    # travels IMCEA-encapsulated (IMCEASMTP-alias@domain), its text kept.
    "not-an-address": "SMTP-typed alias without a domain carried IMCEA-encapsulated",
    # A report's (NDR's) recipient table lists the original, failed recipients; the report itself was
    # addressed to the sender, which its cached transport headers (the MIME To) say.
    "report-recipients": "REPORT.* item: To is the report's addressee, the table the failed recipients",
    # OLE attachments (method 6) have no file name: pffexport calls each 'Attachment.txt', the server keeps
    # PR_DISPLAY_NAME; the sizes are compared.
    "ole-name": "OLE attachment named by its display name",
}


class _FlagStatus(ExtendedProperty):
    property_tag = 0x1090
    property_type = "Integer"


@dataclass
class SourceItem:
    """What pffexport says about one item."""

    path: str
    kind: str  # Message, Appointment, Contact, ...
    subject: str
    values: dict[int, tuple[int, bytes]]
    recipients: list[dict[int, tuple[int, bytes]]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)


# -- pffexport's dump, decoded here ---------------------------------------------------------------------
def _entries(text: str) -> dict[int, dict[int, tuple[int, bytes]]]:
    """ItemValues.txt: {set number: {property id: (value type, bytes)}}."""
    sets: dict[int, dict[int, tuple[int, bytes]]] = defaultdict(dict)
    for block in text.split("\n\n"):
        found = dict(re.findall(r"^(Set|Entry type|Value type):\s*(\S+)", block, re.M))
        if "Entry type" not in found:
            continue
        data = bytearray()
        for line in re.findall(r"^0x[0-9a-f]{8}: ((?:[0-9a-f]{2} +)+)", block, re.M):
            data += bytes.fromhex("".join(line.split()))
        prop_id = int(found["Entry type"], 16) & 0xFFFF
        sets[int(found.get("Set", "0"))][prop_id] = (int(found["Value type"], 16), bytes(data))
    return sets


def _string(value: tuple[int, bytes] | None) -> str | None:
    if value is None:
        return None
    ptype, data = value
    if ptype == 0x1F:
        text = data.decode("utf-16-le", "replace")
    elif ptype == 0x1E:
        text = data.decode("cp1252", "replace")
    else:
        return None
    return text.split("\x00", 1)[0]


def _int(value: tuple[int, bytes] | None) -> int | None:
    if value is None or len(value[1]) < 4:
        return None
    return struct.unpack_from("<i", value[1])[0]


def _time(value: tuple[int, bytes] | None) -> datetime | None:
    if value is None or value[0] != 0x40 or len(value[1]) < 8:
        return None
    ticks = struct.unpack_from("<Q", value[1])[0]
    if not ticks or ticks >= 0x7FFFFFFFFFFFFFFF:
        return None
    moment = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
    return moment.replace(microsecond=0) if moment.year < 4500 else None


def _subject(values: dict[int, tuple[int, bytes]]) -> str:
    subject = _string(values.get(0x0037)) or ""
    return subject[2:] if subject.startswith("\x01") else subject


def _read_item(folder_path: str, item_dir: Path) -> SourceItem:
    values = _entries((item_dir / "ItemValues.txt").read_text(errors="replace")).get(0, {})
    recipients_file = item_dir / "RecipientsItemValues.txt"
    recipients = (
        list(_entries(recipients_file.read_text(errors="replace")).values()) if recipients_file.exists() else []
    )
    item = SourceItem(folder_path, re.sub(r"\d+$", "", item_dir.name), _subject(values), values, recipients)
    attachments = item_dir / "Attachments"
    if attachments.is_dir():
        for child in sorted(attachments.iterdir()):
            if child.is_file() and child.name != "ItemValues.txt":
                item.files.append(
                    (child.name.split("_", 1)[1] if "_" in child.name else child.name, child.stat().st_size)
                )
            elif child.is_dir():
                for inner in child.iterdir():
                    if inner.is_dir() and (inner / "ItemValues.txt").exists():
                        item.embedded.append(
                            _subject(_entries((inner / "ItemValues.txt").read_text(errors="replace")).get(0, {}))
                        )
    return item


def pffexport_items(sample: Path, work: Path) -> list[SourceItem]:
    """Every item under the store's IPM subtree, Sync Issues excepted (Outlook's logs, skipped by design)."""
    target = work / "pff"
    subprocess.run(
        ["pffexport", "-q", "-d", "-m", "items", "-f", "text", "-t", str(target), str(sample)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    export = Path(f"{target}.export")
    # An OST also caches the public folders' tree (Root - Public): not the user's mailbox.
    roots = [
        p
        for depth in ("*", "*/*")
        for p in sorted(export.glob(depth))
        if p.is_dir() and p.name in _IPM_ROOTS and p.parent.name != "Root - Public"
    ]
    items = []
    for root in roots[:1]:
        for item_dir in sorted(root.rglob("*")):
            if not (item_dir.is_dir() and _ITEM_DIR.match(item_dir.name) and (item_dir / "ItemValues.txt").exists()):
                continue
            relative = item_dir.parent.relative_to(root).parts
            if "Attachments" in relative or (relative and relative[0] == "Sync Issues"):
                continue
            items.append(_read_item("/".join(relative), item_dir))
    return items


# -- the server, through plain exchangelib ----------------------------------------------------------------
def server_items(url: str) -> list[Any]:
    config = Configuration(
        service_endpoint=url, credentials=Credentials(USER, PASSWORD), auth_type=NTLM, retry_policy=FailFast()
    )
    account = Account(USER, config=config, autodiscover=False, access_type=DELEGATE)
    found = []
    for folder in account.msg_folder_root.walk():
        found.extend(folder.all())
    return found


# -- comparison -------------------------------------------------------------------------------------------
def _utc(moment: Any) -> datetime | None:
    """A server time as a plain UTC datetime to the second (exchangelib's EWSDateTime refuses timezone.utc)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC).replace(microsecond=0) if moment else None


def _is_dn(address: str | None) -> bool:
    return bool(address) and address.startswith("/")


def _address_ok(source: str | None, server: str | None) -> tuple[bool, str | None]:
    """(equal or allowed, allow-list key used)."""
    if (source or "").lower() == (server or "").lower():
        return True, None
    if _is_dn(source) and server and "@" in server and not server.startswith("/"):
        return True, "ex-address"
    if source and "@" not in source and (server or "").startswith(f"IMCEASMTP-{source}@"):
        return True, "not-an-address"
    return False, None


def _source_sender(item: SourceItem) -> str | None:
    for prop in (0x0065, 0x0C1F):  # sent representing, then sender e-mail address
        value = _string(item.values.get(prop))
        if value:
            return value
    return None


def compare(source: SourceItem, server: Any) -> tuple[list[str], set[str]]:
    """(differences not allowed, allow-list keys used) for one matched pair of mail items."""
    diffs: list[str] = []
    used: set[str] = set()

    def check(name: str, want: Any, got: Any) -> None:
        if want != got:
            diffs.append(f"{name}: pffexport {want!r} != server {got!r}")

    ok, key = _address_ok(_source_sender(source), server.author.email_address if server.author else None)
    if key:
        used.add(key)
    if not ok:
        check("sender", _source_sender(source), server.author.email_address if server.author else None)
    kinds = {1: "to", 2: "cc", 3: "bcc"}
    want = sorted(
        (kinds.get((_int(r.get(0x0C15)) or 1) & 0xF, "to"), _string(r.get(0x3003)) or "") for r in source.recipients
    )
    got = sorted(
        (kind, m.email_address or "")
        for kind, people in (("to", server.to_recipients), ("cc", server.cc_recipients), ("bcc", server.bcc_recipients))
        for m in people or []
    )
    # Each source recipient must find a server recipient of its kind, equal or allowed (DNs sort apart
    # from their SMTP forms, so not pairwise by position).
    left = list(got)
    missing = False
    for kind, address in want:
        pick = next(((k, a, key) for k, a in left if k == kind for ok, key in [_address_ok(address, a)] if ok), None)
        if pick is None:
            missing = True
            continue
        left.remove(pick[:2])
        if pick[2]:
            used.add(pick[2])
    if missing or left:
        if (_string(source.values.get(0x001A)) or "").upper().startswith("REPORT."):
            used.add("report-recipients")
        else:
            check("recipients", want, got)
    files = sorted((a.name, a.size) for a in server.attachments or [] if isinstance(a, FileAttachment))
    if (
        sorted(source.files) != files
        and sorted(size for _, size in source.files) == sorted(s for _, s in files)
        and all(name == "Attachment.txt" for name, _ in source.files if (name, _) not in files)
    ):
        used.add("ole-name")
    else:
        check("attachments", sorted(source.files), files)
    embedded = sorted(_embedded_subject(a) for a in server.attachments or [] if isinstance(a, ItemAttachment))
    check("embedded subjects", sorted(source.embedded), embedded)
    submit = _time(source.values.get(0x0039))
    if submit is not None:
        check("sent", submit, _utc(server.datetime_sent))
    delivery = _time(source.values.get(0x0E06))
    if delivery is not None:
        check("received", delivery, _utc(server.datetime_received))
    else:
        used.add("received-none")
    flags = _int(source.values.get(0x0E07)) or 0
    check("read", bool(flags & 0x1), bool(server.is_read))
    received = any(p in source.values for p in (0x0040, 0x0076, 0x003F))
    check("unsent", bool(flags & 0x8) and not received, bool(server.is_draft))
    categories = sorted(
        _string((0x1F, part)) or ""
        for prop_id, (ptype, data) in source.values.items()
        if prop_id >= 0x8000 and ptype == 0x101F
        for part in _mv_strings(data)
    )
    check("categories", categories, sorted(server.categories or []))
    importance = {0: "Low", 1: "Normal", 2: "High"}.get(_int(source.values.get(0x0017)) or 1, "Normal")
    check("importance", importance, server.importance)
    check("flag status", _int(source.values.get(0x1090)) or 0, server.rebuild_test_flag_status or 0)
    return diffs, used


def _embedded_subject(attachment: ItemAttachment) -> str:
    """The attached message's subject: its Subject field, else the Subject header of its MimeContent
    (GetAttachment may answer with the MIME only), decoded with the standard library."""
    item = attachment.item
    if item is not None and item.subject:
        return item.subject
    if item is not None and item.mime_content:
        parsed = email.message_from_bytes(item.mime_content, policy=email.policy.default)
        return str(parsed.get("Subject", "")).strip()
    return attachment.name or ""


def _mv_strings(data: bytes) -> list[bytes]:
    if len(data) < 4:
        return []
    count = struct.unpack_from("<I", data)[0]
    offsets = [*struct.unpack_from(f"<{count}I", data, 4), len(data)] if 4 + 4 * count <= len(data) else []
    return [data[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


@pytest.fixture(scope="module")
def flag_status_field():
    Message.register("rebuild_test_flag_status", _FlagStatus)
    yield
    Message.deregister("rebuild_test_flag_status")


def _marks(sample: str) -> list[Any]:
    return [] if sample in DEFAULT else [pytest.mark.slow]


def test_every_sample_is_listed(samples: Path):
    assert sorted(p.name for p in samples.iterdir() if p.suffix.lower() in (".pst", ".ost")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", [pytest.param(sample, marks=_marks(sample)) for sample in SAMPLES])
def test_server_matches_pffexport(tmp_path: Path, samples: Path, name: str, flag_status_field: None):
    if shutil.which("pffexport") is None:
        pytest.skip("pffexport not installed (apt-get install pff-tools)")
    sample = samples / name
    if not sample.exists():
        pytest.skip(f"{sample} not present")
    source = pffexport_items(sample, tmp_path)
    with own_sandbox(tmp_path / "data", {USER: (PASSWORD, False)}, [USER]) as (handle, _):
        result = run_cli(
            "run",
            "--ost",
            str(sample),
            "--mailbox",
            USER,
            "--server",
            handle.url,
            "--username",
            USER,
            "--state",
            str(tmp_path / "state"),
            "--log-level",
            "warning",
            env={"REBUILD_PASSWORD": PASSWORD},
        )
        assert result.returncode == (1 if name in DAMAGED else 0), result.stdout + result.stderr
        server = server_items(handle.url)
        # compared while the server runs: exchangelib fetches embedded messages on demand
        unmatched_server = list(server)
        report: list[str] = []
        used: set[str] = set()
        for item in source:
            candidates = [s for s in unmatched_server if (s.subject or "") == item.subject]
            if item.kind == "Message" and len(candidates) > 1:
                submit = _time(item.values.get(0x0039))
                candidates = [s for s in candidates if submit and _utc(s.datetime_sent) == submit] or candidates
            if not candidates:
                report.append(f"{item.path} | {item.kind} | {item.subject!r}: not on the server")
                continue
            match = candidates[0]
            unmatched_server.remove(match)
            if item.kind != "Message" or not isinstance(match, Message):
                continue  # typed items: their own fidelity tests compare fields; here presence and subject
            diffs, keys = compare(item, match)
            used |= keys
            report.extend(f"{item.path} | {item.subject!r}: {d}" for d in diffs)
        report.extend(f"server only: {type(s).__name__} {s.subject!r}" for s in unmatched_server)
    print(
        f"\n{name}: {len(source)} items compared; allowed differences used: "
        + (", ".join(f"{k} ({ALLOWED[k]})" for k in sorted(used)) or "none")
    )
    for line in report:
        print("  " + line)
    assert not report, f"{len(report)} difference(s) between the server and pffexport for {name}"
