"""Top-level RFC 5322 headers: the cached transport headers when the item has them, else synthesized.

Transport headers keep what only the original delivery knew (Received, List-*, authentication
results); MIME structure headers are always ours. Each header is checked so no parser defect leaks out.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.utils import format_datetime

from pipeline import mapi
from pipeline.convert import addresses, props
from pipeline.model import SourceItem

#: Generation policy: CRLF line ends, 7-bit transfer so every server accepts the bytes as they are.
POLICY = email_policy.default.clone(linesep="\r\n", cte_type="7bit", max_line_length=78)

_HEADER_LINE = re.compile(r"^([!-9;-~]+):[ \t]?(.*)$")
_ADDRESS_HEADERS = {"from", "sender", "to", "cc", "bcc", "reply-to", "resent-from", "resent-to", "resent-cc"}
_SINGLE = {"from", "sender", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
           "reply-to", "importance", "sensitivity", "keywords", "x-priority"}
IMPORTANCE = {0: "low", 1: "normal", 2: "high"}
PRIORITY = {0: "5 (Lowest)", 1: "3 (Normal)", 2: "1 (Highest)"}
SENSITIVITY = {1: "Personal", 2: "Private", 3: "Company-Confidential"}


def parse_transport_headers(raw: str) -> list[tuple[str, str]]:
    """(name, unfolded value) pairs; a leading junk line (Exchange's 'Microsoft Mail Internet Headers
    Version 2.0') and anything after the first blank line are ignored."""
    pairs: list[tuple[str, str]] = []
    started = False
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if started:
                break
            continue
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}" if value else line.strip())
            continue
        match = _HEADER_LINE.match(line)
        if match:
            started = True
            pairs.append((match.group(1), match.group(2).strip()))
    return pairs


def is_structure_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("content-") or lowered == "mime-version"


def clean_header(name: str, value: object) -> object | None:
    """The header object if it folds and parses without defect, else None."""
    try:
        header = POLICY.header_factory(name, value)
        if header.defects:
            return None
        header.fold(policy=POLICY)
    except Exception:  # the email package raises assorted errors on pathological values
        return None
    return header


def _address(party: addresses.Party | None) -> Address | None:
    if party is None or not party.address:
        return None
    name = (party.name or "").replace("\r", " ").replace("\n", " ").strip()
    if name == party.address:
        name = ""
    try:
        return Address(display_name=name, addr_spec=party.address)
    except Exception:  # an address the header registry refuses: keep the name-less form if that works
        try:
            return Address(addr_spec=party.address)
        except Exception:
            return None


def _single_line(value: str) -> str:
    return " ".join(value.split())


def message_date(item: SourceItem) -> datetime | None:
    for prop_id in (mapi.PR_CLIENT_SUBMIT_TIME, mapi.PR_MESSAGE_DELIVERY_TIME, mapi.PR_CREATION_TIME,
                    mapi.PR_LAST_MODIFICATION_TIME):
        value = props.time(item, prop_id)
        if value is not None:
            return value
    return None


def synthesized(item: SourceItem, domain: str) -> list[tuple[str, object]]:
    """Headers built from MAPI properties, for items that never went through SMTP (or lost the cache)."""
    out: list[tuple[str, object]] = []
    author = addresses.sent_representing(item, domain)
    actual = addresses.sender(item, domain)
    from_address = _address(author)
    if from_address is not None:
        out.append(("From", [from_address]))
        sender_address = _address(actual)
        if sender_address is not None and sender_address.addr_spec.lower() != from_address.addr_spec.lower():
            out.append(("Sender", [sender_address]))
    codepage = props.item_codepage(item)
    for kind, header in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
        found = [_address(addresses.recipient(r, domain, codepage)) for r in item.recipients if r.kind == kind]
        found = [a for a in found if a is not None]
        if found:
            out.append((header, found))
    subject = props.text(item, mapi.PR_SUBJECT)
    if subject:
        out.append(("Subject", subject.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")))
    date = message_date(item)
    if date is not None:
        out.append(("Date", format_datetime(date)))
    for header, prop_id in (("Message-ID", mapi.PR_INTERNET_MESSAGE_ID), ("In-Reply-To", mapi.PR_IN_REPLY_TO_ID),
                            ("References", mapi.PR_INTERNET_REFERENCES)):
        value = props.text(item, prop_id)
        if value:
            out.append((header, _single_line(value)))
    return out


def annotations(item: SourceItem) -> list[tuple[str, object]]:
    """Importance, sensitivity and categories as headers (also stamped as MAPI properties)."""
    out: list[tuple[str, object]] = []
    importance = props.integer(item, mapi.PR_IMPORTANCE)
    if importance in (0, 2):
        out.append(("Importance", IMPORTANCE[importance]))
        out.append(("X-Priority", PRIORITY[importance]))
    sensitivity = props.integer(item, mapi.PR_SENSITIVITY)
    if sensitivity in SENSITIVITY:
        out.append(("Sensitivity", SENSITIVITY[sensitivity]))
    keywords = props.categories(item)
    if keywords:
        out.append(("Keywords", ", ".join(_single_line(k).replace(",", " ") for k in keywords)))
    return out


def top_headers(item: SourceItem, domain: str, use_transport: bool = True) -> tuple[list[tuple[str, object]],
                                                                                     list[str]]:
    """The top-level header list and warnings (names of headers dropped for defects, never values)."""
    warnings: list[str] = []
    ours = synthesized(item, domain) + annotations(item)
    raw = props.text(item, mapi.PR_TRANSPORT_MESSAGE_HEADERS) if use_transport else None
    chosen: list[tuple[str, object]] = []
    if raw:
        transport = [(n, v) for n, v in parse_transport_headers(raw) if not is_structure_header(n)]
        present = {n.lower() for n, _ in transport}
        if "from" in present or "date" in present or "received" in present:
            dropped = []
            for name, value in transport:
                header = clean_header(name, value)
                if header is None:
                    dropped.append(name)
                    continue
                chosen.append((name, header))
            seen = {n.lower() for n, _ in chosen}
            # Fill what the transport copy lacks (or lost to a defect) from the properties.
            chosen += [(n, v) for n, v in ours if n.lower() not in seen]
            dropped = [n for n in dropped if n.lower() not in seen and n.lower() != "message-id"]
            if dropped:
                warnings.append("transport headers dropped as malformed: " + ", ".join(sorted(set(dropped))))
        else:
            chosen = list(ours)
    else:
        chosen = list(ours)
    result: list[tuple[str, object]] = []
    counts: dict[str, int] = {}
    for name, value in chosen:
        lowered = name.lower()
        if lowered in _SINGLE and counts.get(lowered):
            continue  # a second From/Subject/... is itself a defect
        header = value if not isinstance(value, str | list) else clean_header(name, value)
        if header is None:
            if lowered == "message-id":
                warnings.append("Message-ID is not RFC 5322; carried as PR_INTERNET_MESSAGE_ID only")
            else:
                warnings.append(f"header {name} dropped as malformed")
            continue
        counts[lowered] = counts.get(lowered, 0) + 1
        result.append((name, header))
    return result, warnings
