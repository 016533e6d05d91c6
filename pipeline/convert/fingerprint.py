"""The dedupe fingerprint: a SHA-256 over a canonical, versioned choice of source properties.

It must come out the same for two OST copies of one item and across releases (hence the scheme
version, pipeline.mapi.FINGERPRINT_SCHEME), yet differ for distinct items that look alike.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime

from pipeline import mapi
from pipeline.convert import props
from pipeline.model import SourceItem

FINGERPRINT_SCHEME = mapi.FINGERPRINT_SCHEME
_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def _norm(value: str | None) -> str:
    """NFC, whitespace collapsed: what survives re-encoding between ANSI and Unicode stores."""
    if not value:
        return ""
    return " ".join(unicodedata.normalize("NFC", value).split())


def _second(value: datetime | None) -> str:
    return value.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def normalized_subject(item: SourceItem) -> str:
    """PR_NORMALIZED_SUBJECT, else the subject with its reply/forward prefix removed."""
    value = props.text(item, mapi.PR_NORMALIZED_SUBJECT)
    if value is None:
        value = _PREFIX.sub("", props.text(item, mapi.PR_SUBJECT) or "")
    return _norm(value)


def _address(value: str | None) -> str:
    return _norm(value).lower()


def _hex(value: object) -> str:
    return value.hex() if isinstance(value, bytes | bytearray) else ""


def canonical(item: SourceItem) -> dict[str, object]:
    """The chosen properties, by name; the JSON of this (sorted keys) is what gets hashed."""
    message_id = _norm(props.text(item, mapi.PR_INTERNET_MESSAGE_ID))
    submit = props.time(item, mapi.PR_CLIENT_SUBMIT_TIME)
    delivery = props.time(item, mapi.PR_MESSAGE_DELIVERY_TIME)
    fields: dict[str, object] = {
        "class": props.message_class(item).strip().lower(),
        "message_id": message_id,
        "subject": normalized_subject(item),
        "submit": _second(submit),
        "delivery": _second(delivery),
        "sender": _address(props.text(item, mapi.PR_SENDER_EMAIL_ADDRESS)),
        "representing": _address(props.text(item, mapi.PR_SENT_REPRESENTING_EMAIL_ADDRESS)),
        "recipients": sorted(f"{r.kind}:{_address(r.email or r.smtp_address or r.display_name)}"
                             for r in item.recipients),
        "attachments": sorted(
            f"{_norm(a.filename)}|{a.size if a.method != mapi.ATTACH_EMBEDDED_MSG else 'msg'}"
            for a in item.attachments),
    }
    if not submit and not delivery:
        # Drafts, contacts, notes: nothing was sent, so the creation time (kept by the server across
        # OST copies) and the text are what tells two of them apart.
        fields["created"] = _second(props.time(item, mapi.PR_CREATION_TIME))
    if not message_id:
        body = props.text(item, mapi.PR_BODY) or ""
        fields["body"] = hashlib.sha256("".join(body.split()).encode("utf-8")).hexdigest() if body else ""
    # Calendar items and their occurrences differ by their times and their global object id.
    for key, guid, lid in (("start", mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_START_WHOLE),
                           ("end", mapi.PSETID_APPOINTMENT, mapi.LID_APPOINTMENT_END_WHOLE),
                           ("task_due", mapi.PSETID_TASK, mapi.LID_TASK_DUE_DATE)):
        value = props.named_time(item, guid, lid)
        if value is not None:
            fields[key] = _second(value)
    goid = _hex(item.named_prop(mapi.PSETID_MEETING, mapi.LID_GLOBAL_OBJECT_ID))
    if goid:
        fields["goid"] = goid
    for lid in (mapi.LID_EMAIL1_EMAIL_ADDRESS, mapi.LID_EMAIL2_EMAIL_ADDRESS, mapi.LID_EMAIL3_EMAIL_ADDRESS):
        value = props.named_text(item, mapi.PSETID_ADDRESS, lid)
        if value:
            fields.setdefault("emails", []).append(_address(value))  # type: ignore[union-attr]
    display = props.text(item, mapi.PR_DISPLAY_NAME)
    if display and not message_id:
        fields["display_name"] = _norm(display)
    return fields


def fingerprint(item: SourceItem) -> str:
    """SHA-256 hex of the scheme version and the canonical JSON of the item's identifying properties."""
    payload = json.dumps(canonical(item), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{FINGERPRINT_SCHEME}:{payload}".encode()).hexdigest()
