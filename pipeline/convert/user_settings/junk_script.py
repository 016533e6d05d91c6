"""The junk e-mail lists as a ready PowerShell script: safe senders, safe recipients and blocked senders of
the junk e-mail rule ([MS-OXCSPAM]), for `Set-MailboxJunkEmailConfiguration` in the Exchange Management Shell
(or Exchange Online PowerShell).

Why a script: EWS writes no junk e-mail list. MarkAsJunk (Exchange 2013+) adds the sender of an item that is
in the mailbox to the blocked list, one item at a time, and nothing to the safe lists; "the contents of the
blocked senders list cannot be discovered from EWS" (learn.microsoft.com/exchange/client-developer/
web-service-reference/markasjunk-operation), and Microsoft points to Set-MailboxJunkEmailConfiguration "to
access the Blocked Senders List directly" (.../exchange-web-services/how-to-add-and-remove-email-addresses-
from-blocked-senders-list-by-using-ews). The junk rule itself is an extended rule message, an associated
item EWS cannot create. The cmdlet takes the lists whole: `-TrustedSendersAndDomains @{Add=...}` adds to what the mailbox has
(a rerun adds nothing twice: Exchange keeps one of each), `-BlockedSendersAndDomains` likewise;
safe recipients are trusted as well (Exchange keeps one trusted list for both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pipeline.convert.powershell import opening, quote, quoted_list, script
from pipeline.convert.user_settings.rules import JunkEmailRule


@dataclass(frozen=True, slots=True)
class JunkLists:
    """One mailbox's lists, as the script adds them."""

    mailbox: str
    trusted: tuple[str, ...]  # safe senders and safe recipients
    blocked: tuple[str, ...]
    contacts_trusted: bool | None  # PR_JUNK_INCLUDE_CONTACTS

    @property
    def empty(self) -> bool:
        return not self.trusted and not self.blocked and self.contacts_trusted is None


def junk_lists(mailbox: str, rule: JunkEmailRule) -> JunkLists:
    trusted: list[str] = []
    for address in (*rule.safe_senders, *rule.safe_recipients):
        if address.casefold() not in {a.casefold() for a in trusted}:
            trusted.append(address)
    return JunkLists(mailbox, tuple(trusted), tuple(dict.fromkeys(rule.blocked_senders)), rule.include_contacts)


def powershell(lists: list[JunkLists], when: datetime | None = None) -> str:
    """One Set-MailboxJunkEmailConfiguration line per mailbox with anything to set (CRLF, as Windows keeps
    scripts; the caller writes it as UTF-8 with a BOM, which Windows PowerShell 5.1 needs)."""
    lines = opening(
        "rebuild",
        "Exchange Management Shell (or Exchange Online PowerShell)",
        (
            "Adds each mailbox's junk e-mail safe and blocked senders, read from its old junk e-mail rule; addresses",
            "the mailbox has already are kept once. EWS has no call that writes these lists.",
        ),
        when,
    )
    for one in lists:
        if one.empty:
            continue
        parts = [f"Set-MailboxJunkEmailConfiguration -Identity {quote(one.mailbox)}"]
        if one.trusted:
            parts.append(f"-TrustedSendersAndDomains @{{Add={quoted_list(one.trusted)}}}")
        if one.blocked:
            parts.append(f"-BlockedSendersAndDomains @{{Add={quoted_list(one.blocked)}}}")
        if one.contacts_trusted is not None:
            parts.append(f"-ContactsTrusted ${str(one.contacts_trusted).lower()}")
        lines.append(" ".join(parts))
    return script(lines)
