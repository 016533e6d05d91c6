"""The site page: one web page with every mailbox's state, items done/total, failures and the rate over time.

model.py holds the plain values (a MailboxRow per mailbox, a Snapshot of all) and how they are made from the
journal or from a run's progress (live.py); page.py renders a Snapshot as one self-contained HTML file (no CDN,
no build step: it works offline); server.py serves it on loopback with the standard library's HTTP server.
"""
