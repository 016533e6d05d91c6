"""MimeContent headers as Exchange reads them: folded headers unfolded per RFC 5322, raw 8-bit header
bytes refused with a clear error instead of silently becoming U+FFFD.

The oracle is RFC 5322 section 2.2.3 (unfolding removes the CRLF, keeps the white space) and the
values written in the test, read back with plain exchangelib.
"""

from __future__ import annotations

import pytest
from exchangelib import Message
from exchangelib.errors import ErrorMimeContentConversionFailed

HEAD = (
    "From: Bob Sender <bob@example.com>\r\nTo: Alice Example\r\n <alice@sandbox.local>\r\n"
    "Date: Mon, 03 Jan 2022 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
)
BODY = "Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"


def test_folded_subject_and_address_are_unfolded(alice, unique):
    mime = (HEAD + f"Subject: {unique} problem when\r\n processing a\r\n\tCHM file\r\n" + BODY).encode()
    item = Message(folder=alice.inbox, mime_content=mime)
    item.save()
    back = alice.inbox.get(id=item.id)
    assert back.subject == f"{unique} problem when processing a\tCHM file"
    assert [(r.name, r.email_address) for r in back.to_recipients] == [("Alice Example", "alice@sandbox.local")]


def test_encoded_words_across_folds_decode(alice, unique):
    mime = (HEAD + f"Subject: {unique} =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n =?utf-8?q?_aus_K=C3=B6ln?=\r\n" + BODY).encode()
    item = Message(folder=alice.inbox, mime_content=mime)
    item.save()
    assert alice.inbox.get(id=item.id).subject == f"{unique} grüße aus Köln"


@pytest.mark.parametrize("where", ["top", "part"])
def test_raw_8bit_header_bytes_are_refused(alice, unique, where):
    if where == "top":
        mime = (HEAD + f"Subject: {unique} probe é\r\n" + BODY).encode("utf-8")
    else:
        mime = (
            HEAD + f"Subject: {unique}\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
            'Content-Type: text/plain; name="café.txt"\r\n\r\ntext\r\n--b1--\r\n'
        ).encode("utf-8")
    with pytest.raises(ErrorMimeContentConversionFailed, match="8-bit"):
        Message(folder=alice.inbox, mime_content=mime).save()
    assert not list(alice.inbox.filter(subject__contains=unique))
