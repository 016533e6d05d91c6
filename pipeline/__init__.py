"""Mailbox rebuild pipeline: read cached OST/PST mailboxes and upload them into Exchange over EWS.

Stages: source (read) -> convert (pure) -> target (EWS), with a journal for rerun-safe resumes.
"""

__version__ = "0.1.0"
