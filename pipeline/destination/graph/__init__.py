"""The Microsoft Graph destination (Exchange Online): base.Destination over Graph's REST API.

connect.py (the plain connection data and app-only tokens with msal), transport.py (httpx: at most 4
requests in flight per mailbox, Retry-After honoured, typed errors), folders.py (well-known names,
folders by name under their parent, calendars, contact folders and To Do lists), items.py (UploadItem ->
Graph requests, pure), sender.py (batches: importMime or JSON creation, then one $batch of PATCHes),
lease.py (the mailbox lease in a hidden folder), mailbox.py (the Protocol). Needs the optional extra
`pip install -e '.[graph]'` (msal, httpx).
"""
