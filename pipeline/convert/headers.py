"""Top-level RFC 5322 headers: the cached transport headers when the item has them, else synthesized.

Transport headers keep what only the original delivery knew (Received, List-*, authentication
results); MIME structure headers are always ours. Each header is checked so no parser defect leaks out:
cheaply (folding.py) for the shapes seen every day, by the email package's header registry otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy as email_policy
from email.headerregistry import Address
from email.utils import format_datetime, parsedate_to_datetime

from pipeline import mapi, props
from pipeline.convert import addresses, folding
from pipeline.model import SourceItem

#: Policy of the slow path: CRLF line ends, 7-bit transfer so every server accepts the bytes as they are.
POLICY = email_policy.default.clone(linesep="\r\n", cte_type="7bit", max_line_length=78)

_HEADER_LINE = re.compile(r"^([!-9;-~]+):[ \t]?(.*)$")
#: Headers the registry parses as addresses (anything it does not list is unstructured to it).
_ADDRESS_HEADERS = {
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "resent-from",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-sender",
}
_SINGLE_ADDRESS = {"sender", "resent-sender"}
_DATES = {"date", "resent-date", "orig-date"}
_REGISTRY_ONLY = {"mime-version", "content-type", "content-disposition", "content-transfer-encoding"}
_SINGLE = {
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "reply-to",
    "importance",
    "sensitivity",
    "keywords",
    "x-priority",
    "orig-date",
}
IMPORTANCE = {0: "low", 1: "normal", 2: "high"}
PRIORITY = {0: "5 (Lowest)", 1: "3 (Normal)", 2: "1 (Highest)"}
SENSITIVITY = {1: "Personal", 2: "Private", 3: "Company-Confidential"}
_ZERO = timedelta(0)

# Cached address headers written back as they are: atoms or a plain quoted string, then <addr-spec>.
_ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~"
_ADDR = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_NAME = rf'(?:[{_ATEXT}]+(?:[ \t]+[{_ATEXT}]+)*[ \t]+|"[ !#-\[\]-~]*"[ \t]*)'
_MAILBOX = rf"(?:{_NAME}?<{_ADDR}>|{_ADDR})"
_ONE_MAILBOX = re.compile(rf"{_MAILBOX}\Z")
_MAILBOX_LIST = re.compile(rf"{_MAILBOX}(?:[ \t]*,[ \t]*{_MAILBOX})*\Z")


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
    """The header object if it folds and parses without defect, else None (the email package's way:
    slow, so only for values the fast renderers in folding.py decline)."""
    try:
        header = POLICY.header_factory(name, value)
        if header.defects:
            return None
        header.fold(policy=POLICY)
    except Exception:  # the email package raises assorted errors on pathological values
        return None
    return header


def _slow(name: str, value: object) -> str | None:
    header = clean_header(name, value)
    if header is None:
        return None
    try:
        return header.fold(policy=POLICY)  # type: ignore[attr-defined]
    except Exception:  # clean_header folded it once already; kept for symmetry
        return None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox ready for a header: tokens when folding.py can write it, None to leave it to `email`."""

    name: str
    addr: str
    tokens: list[str] | None


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


def mailbox(party: addresses.Party | None) -> Mailbox | None:
    """The party as a mailbox, or None when it has no address the header registry would accept."""
    if party is None or not party.address:
        return None
    name = (party.name or "").replace("\r", " ").replace("\n", " ").strip()
    if name == party.address:
        name = ""
    tokens = folding.address(name, party.address)
    if tokens is not None:
        return Mailbox(name, party.address, tokens)
    found = _address(party)
    if found is None:
        return None
    return Mailbox(found.display_name, found.addr_spec, None)


def _mailbox_header(name: str, boxes: list[Mailbox]) -> tuple[str | None, bool]:
    if all(box.tokens is not None for box in boxes):
        text = folding.address_list(name, [box.tokens for box in boxes if box.tokens is not None])
        if text is not None:
            return text, False
    text = _slow(name, [Address(display_name=box.name, addr_spec=box.addr) for box in boxes])
    return text, text is not None


def _transport_addresses(name: str, value: str) -> str | None:
    """A cached address header as it is, when its shape is one the parser certainly takes without defect."""
    if "=?" in value or not value.isascii():
        return None
    pattern = _ONE_MAILBOX if name.lower() in _SINGLE_ADDRESS else _MAILBOX_LIST
    if not pattern.match(value):
        return None
    return folding.fold_words(name, value)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: The dates of everyday mail (RFC 5322 with a 4-digit year, a numeric or GMT/UT/UTC/Z zone, maybe a comment
#: after it): what parsedate_to_datetime and format_datetime make of them, _fast_date writes directly.
_COMMON_DATE = re.compile(
    rf"(?:(?:{'|'.join(_DAYS)}), )?([0-9]{{1,2}}) ({'|'.join(_MONTHS)}) ([1-9][0-9]{{3}}) "
    r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]) "
    r"([+-](?:[01][0-9]|2[0-3])[0-5][0-9]|GMT|UTC|UT|Z)(?: \([ -'*-~]*\))?\Z"
)
_UTC_NAMES = {"GMT", "UTC", "UT", "Z"}


def _fast_date(value: str) -> str | None:
    """format_datetime(parsedate_to_datetime(value)) for a _COMMON_DATE (the weekday is worked out again,
    as there), None for anything else."""
    match = _COMMON_DATE.match(value)
    if match is None:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    try:
        weekday = date(int(year), _MONTHS.index(month) + 1, int(day)).weekday()
    except ValueError:  # 31 Feb and the like
        return None
    zone = "+0000" if zone in _UTC_NAMES else zone
    return f"{_DAYS[weekday]}, {int(day):02d} {month} {year} {hour}:{minute}:{second} {zone}"


def _format_date(when: datetime) -> str:
    """format_datetime(when), written directly for the naive and UTC values properties hold."""
    if when.tzinfo is None:
        zone = "-0000"
    elif when.utcoffset() == _ZERO:
        zone = "+0000"
    else:
        return format_datetime(when)
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {zone}"
    )


def _date(name: str, value: str | datetime) -> str | None:
    """Dates are rewritten the way the header registry does (format_datetime of the parsed value).
    The email package's parse and format were 5% of a mail's conversion: common shapes are written directly."""
    try:
        if isinstance(value, datetime):
            text = _format_date(value)
        else:
            text = _fast_date(value) or format_datetime(parsedate_to_datetime(value))
        return folding.fold_words(name, text)
    except Exception:  # unparseable: left to the registry, which reports the defect
        return None


def render(name: str, value: str | datetime | list[Mailbox]) -> tuple[str | None, bool]:
    """(the folded header line, or None if it cannot be written without a parser defect; whether the
    email package rendered the line, which makes a parse-back check of the result worthwhile)."""
    if isinstance(value, list):
        return _mailbox_header(name, value)
    lowered = name.lower()
    if lowered in _DATES:
        text = _date(name, value)
    elif isinstance(value, datetime):
        text = None
    elif lowered in _ADDRESS_HEADERS:
        text = _transport_addresses(name, value)
    elif lowered == "message-id":
        return message_id(name, value), False
    elif lowered in _REGISTRY_ONLY:
        text = None
    else:
        text = folding.unstructured(name, value)
    if text is not None:
        return text, False
    text = _slow(name, format_datetime(value) if isinstance(value, datetime) else value)
    return text, text is not None


def message_id(name: str, value: str) -> str | None:
    """The Message-ID line: RFC 5322 ids folded as usual; any other id written as it is, on one line, as
    Exchange's MIME writer copies PidTagInternetMessageId ([MS-OXCMAIL] 2.1.3.2.11). Clients thread on the
    string (In-Reply-To and References, written as they are too, name it the same way), so an id with two
    '@' or a space still threads; only what no header can hold (non-ASCII, control characters, longer than
    a line) is left out, and then travels as the property alone."""
    if folding.MSG_ID.match(value):
        return folding.fold(name, [("", value)])
    text = _single_line(value)
    if not text or not text.isascii() or not text.isprintable() or len(name) + 2 + len(text) > 998:
        return None
    return f"{name}: {text}\r\n"


def _single_line(value: str) -> str:
    return " ".join(value.split())


def message_date(item: SourceItem) -> datetime | None:
    for prop_id in (
        mapi.PR_CLIENT_SUBMIT_TIME,
        mapi.PR_MESSAGE_DELIVERY_TIME,
        mapi.PR_CREATION_TIME,
        mapi.PR_LAST_MODIFICATION_TIME,
    ):
        value = props.time(item, prop_id)
        if value is not None:
            return value
    return None


HeaderValue = str | datetime | list[Mailbox]


def synthesized(item: SourceItem, domain: str, skip: frozenset[str] = frozenset()) -> list[tuple[str, HeaderValue]]:
    """Headers built from MAPI properties, for items that never went through SMTP (or lost the cache);
    headers named (lower-case) in skip are not even worked out."""
    out: list[tuple[str, HeaderValue]] = []
    if "from" not in skip or "sender" not in skip:
        author = mailbox(addresses.sent_representing(item, domain))
        if author is not None:
            out.append(("From", [author]))
            actual = mailbox(addresses.sender(item, domain))
            if actual is not None and actual.addr.lower() != author.addr.lower():
                out.append(("Sender", [actual]))
    codepage = props.item_codepage(item)
    for kind, header in (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc")):
        if kind in skip:
            continue
        found = [mailbox(addresses.recipient(r, domain, codepage)) for r in item.recipients if r.kind == kind]
        boxes = [box for box in found if box is not None]
        if boxes:
            out.append((header, boxes))
    subject = props.text(item, mapi.PR_SUBJECT) if "subject" not in skip else None
    if subject:
        out.append(("Subject", subject.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")))
    date = message_date(item) if "date" not in skip else None
    if date is not None:
        out.append(("Date", date))
    for header, prop_id in (
        ("Message-ID", mapi.PR_INTERNET_MESSAGE_ID),
        ("In-Reply-To", mapi.PR_IN_REPLY_TO_ID),
        ("References", mapi.PR_INTERNET_REFERENCES),
    ):
        value = props.text(item, prop_id) if header.lower() not in skip else None
        if value:
            out.append((header, _single_line(value)))
    return [(name, value) for name, value in out if name.lower() not in skip]


def marking_headers(item: SourceItem) -> list[tuple[str, HeaderValue]]:
    """Importance, sensitivity and categories as headers (also stamped as MAPI properties)."""
    out: list[tuple[str, HeaderValue]] = []
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


@dataclass(slots=True)
class HeaderBlock:
    """The top-level header lines (name, folded text), warnings (header names, never values), and
    whether the email package rendered any of them (then the caller parses the result back)."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    slow: bool = False

    def render(self, name: str, value: HeaderValue) -> str | None:
        text, slow = render(name, value)
        self.slow = self.slow or slow
        return text

    @property
    def text(self) -> str:
        return "".join(line for _, line in self.lines)


def top_headers(item: SourceItem, domain: str, use_transport: bool = True) -> HeaderBlock:
    """The top-level headers: cached transport ones first when usable, then what they lack."""
    block = HeaderBlock()
    raw = props.text(item, mapi.PR_TRANSPORT_MESSAGE_HEADERS) if use_transport else None
    # (name, rendered line or None when still to render, value)
    chosen: list[tuple[str, str | None, HeaderValue]] = []
    if raw:
        transport = [(n, v) for n, v in parse_transport_headers(raw) if not is_structure_header(n)]
        present = {n.lower() for n, _ in transport}
        if "from" in present or "date" in present or "received" in present:
            dropped = []
            for name, found in transport:
                rendered = block.render(name, found)
                if rendered is None:
                    dropped.append(name)
                    continue
                chosen.append((name, rendered, found))
            seen = frozenset(n.lower() for n, _, _ in chosen)
            # Fill what the transport copy lacks (or lost to a defect) from the properties.
            ours = synthesized(item, domain, seen) + marking_headers(item)
            chosen += [(n, None, v) for n, v in ours if n.lower() not in seen]
            dropped = [n for n in dropped if n.lower() not in seen and n.lower() != "message-id"]
            if dropped:
                block.warnings.append("transport headers dropped as malformed: " + ", ".join(sorted(set(dropped))))
        else:
            chosen = [(n, None, v) for n, v in synthesized(item, domain) + marking_headers(item)]
    else:
        chosen = [(n, None, v) for n, v in synthesized(item, domain) + marking_headers(item)]
    counts: dict[str, int] = {}
    for name, text, value in chosen:
        lowered = name.lower()
        if lowered in _SINGLE and counts.get(lowered):
            continue  # a second From/Subject/... is itself a defect
        if text is None:
            text = block.render(name, value)
        if text is None:
            if lowered == "message-id":
                block.warnings.append("Message-ID cannot be a header line; carried as PR_INTERNET_MESSAGE_ID only")
            else:
                block.warnings.append(f"header {name} dropped as malformed")
            continue
        counts[lowered] = counts.get(lowered, 0) + 1
        block.lines.append((name, text))
    return block
