"""Account set-up over Basic and NTLM, wrong passwords, impersonation and access to other mailboxes.

Each case is what exchangelib sees from a real Exchange: 401 -> UnauthorizedError, SOAP faults for
impersonation.
"""

from __future__ import annotations

import pytest
from exchangelib import BASIC, DELEGATE, IMPERSONATION, NTLM
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorImpersonateUserDenied,
    ErrorNonExistentMailbox,
    UnauthorizedError,
)
from exchangelib.version import Build, Version

from pipeline.sandbox import views
from tests.sandbox.helpers import ADMIN, ALICE, BOB, CAROL, connect

DISTINGUISHED = {
    "inbox": ("Inbox", "IPF.Note"),
    "sent": ("Sent Items", "IPF.Note"),
    "trash": ("Deleted Items", "IPF.Note"),
    "drafts": ("Drafts", "IPF.Note"),
    "outbox": ("Outbox", "IPF.Note"),
    "junk": ("Junk Email", "IPF.Note"),
    "calendar": ("Calendar", "IPF.Appointment"),
    "contacts": ("Contacts", "IPF.Contact"),
    "tasks": ("Tasks", "IPF.Task"),
    "notes": ("Notes", "IPF.StickyNote"),
    "journal": ("Journal", "IPF.Journal"),
    "conflicts": ("Conflicts", "IPF.Note"),
}


@pytest.mark.parametrize("auth", [BASIC, NTLM])
def test_account_setup_and_distinguished_folders(sandbox, auth):
    account = connect(sandbox.url, ALICE, auth=auth)
    assert account.version.build == Build(15, 1, 2507, 6)
    assert account.version.api_version == "Exchange2016"
    for attr, (name, folder_class) in DISTINGUISHED.items():
        folder = getattr(account, attr)
        assert (folder.name, folder.folder_class) == (name, folder_class), attr
    assert account.msg_folder_root.name == "Top of Information Store"
    assert account.root.name in ("", None) or account.root.is_distinguished


def test_given_version_skips_guessing(sandbox):
    version = Version(Build(15, 1, 2507, 6), "Exchange2016")
    account = connect(sandbox.url, ALICE, version=version)
    assert account.inbox.name == "Inbox"


@pytest.mark.parametrize("auth", [BASIC, NTLM])
def test_wrong_password_is_unauthorized(sandbox, auth):
    with pytest.raises(UnauthorizedError):
        connect(sandbox.url, (ALICE[0], "wrong"), auth=auth).inbox  # noqa: B018


def test_unknown_user_is_unauthorized(sandbox):
    with pytest.raises(UnauthorizedError):
        connect(sandbox.url, ("nobody@sandbox.local", "x")).inbox  # noqa: B018


@pytest.mark.parametrize("username", ["SANDBOX\\alice", "SANDBOX\\alice@sandbox.local"])
def test_ntlm_with_domain_style_username(sandbox, username):
    """Ledger: ntlm."""
    account = connect(sandbox.url, (username, ALICE[1]), address=ALICE[0], auth=NTLM)
    assert account.inbox.name == "Inbox"


@pytest.mark.parametrize("auth", [BASIC, NTLM])
def test_impersonation_allowed(sandbox, store, auth, unique):
    account = connect(sandbox.url, ADMIN, address=CAROL, access=IMPERSONATION, auth=auth)
    account.inbox.children  # noqa: B018
    from exchangelib import Folder

    Folder(parent=account.inbox, name=f"imp-{unique}").save()
    paths = [f["path"] for f in views.folder_tree(store, CAROL)]
    assert ("Inbox", f"imp-{unique}") in paths


def test_impersonation_denied_without_right(sandbox):
    """Ledger: impersonation-not-delegation."""
    account = connect(sandbox.url, ALICE, address=BOB[0], access=IMPERSONATION)
    with pytest.raises(ErrorImpersonateUserDenied):
        account.inbox  # noqa: B018


def test_impersonation_of_unknown_mailbox(sandbox):
    """Ledger: impersonation-not-delegation."""
    account = connect(sandbox.url, ADMIN, address="ghost@sandbox.local", access=IMPERSONATION)
    with pytest.raises(ErrorNonExistentMailbox):
        account.inbox  # noqa: B018


def test_delegate_access_to_other_mailbox_denied(sandbox):
    """Ledger: impersonation-not-delegation."""
    account = connect(sandbox.url, ALICE, address=BOB[0], access=DELEGATE)
    with pytest.raises(ErrorAccessDenied):
        account.inbox  # noqa: B018


def test_delegate_access_with_impersonation_right_denied(sandbox):
    """Ledger: impersonation-not-delegation. The impersonation right opens no mailbox in delegate mode."""
    account = connect(sandbox.url, ADMIN, address=BOB[0], access=DELEGATE)
    with pytest.raises(ErrorAccessDenied):
        account.inbox  # noqa: B018
    assert connect(sandbox.url, ADMIN, address=BOB[0], access=IMPERSONATION).inbox.name == "Inbox"


def test_delegate_unknown_mailbox(sandbox):
    account = connect(sandbox.url, ADMIN, address="ghost@sandbox.local", access=DELEGATE)
    with pytest.raises(ErrorNonExistentMailbox):
        account.inbox  # noqa: B018
