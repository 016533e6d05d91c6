"""Executors: where mailbox jobs run. local.py is a process pool on this machine (the default);
temporal.py runs one Temporal workflow per mailbox on workers anywhere (the optional `temporal` extra).

A MailboxJob (base.py) is plain data, so any executor can carry it to wherever the mailbox is rebuilt.
"""
