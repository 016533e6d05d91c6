"""Destinations: where a rebuilt mailbox is written.

base.py holds the Protocol a run needs; ews/ speaks EWS with exchangelib (Exchange on-premises, the
sandbox); fake.py is an in-memory destination for unit tests of the run.
"""
