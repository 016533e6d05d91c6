"""The writing stage: the target mailbox over EWS with exchangelib (real Exchange or the sandbox).

connect.py opens the account, folders.py mirrors the tree, upload.py sends items idempotently.
"""
