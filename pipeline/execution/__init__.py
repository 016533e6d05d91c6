"""Executors: where mailbox jobs run. local.py is a process pool on this machine (the default).

A MailboxJob (base.py) is plain data, so any executor can carry it to wherever the mailbox is rebuilt.
"""
