"""The one check of a mailbox address, for the command line (--mailbox) and the users CSV alike."""

from __future__ import annotations

import re

#: local@domain: no second '@', no spaces, controls or list separators in the local part; a DNS domain.
_ADDRESS = re.compile(r"^[^@\s,;<>\"\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def is_smtp_address(text: str) -> bool:
    """True for `user@example.com`; False for `a@b@c`, `user@`, `@example.com`, `a b@c`, ..."""
    return len(text) <= 320 and bool(_ADDRESS.fullmatch(text)) and not text.startswith(".")
