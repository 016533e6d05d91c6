"""The sandbox's Graph face: the same store served as Microsoft Graph (`/v1.0/…`, `/beta/…importMime`).

face.py takes a request (tokens, throttling, faults) and routes it to its resource: folders.py (mail folders,
calendars, contact folders, To Do lists), listing.py (pages of items), items.py (one item; typed items),
messages.py (JSON and importMime), events.py (series instances, occurrences), contacts.py (photos),
attachments.py (upload sessions), batch.py ($batch), sent.py (what would have been sent). Beside them:
wire.py (requests, replies, Graph's error JSON), state.py (what the resources share), kinds.py, tokens.py
(client credentials, discovery), throttle.py (per-mailbox budgets answering 429 with Retry-After),
metadata.py (bodies checked against Microsoft's v1.0 CSDL), extprops.py (extended-property ids onto the
store's keys), series.py (recurrence of events), shapes.py (rows as Graph JSON), uploads.py (upload sessions'
byte ranges), content.py (a message's MIME), wirelog.py (the log of requests, for tests). Shares no code with
pipeline/destination.
"""
