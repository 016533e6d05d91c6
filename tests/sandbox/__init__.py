"""Tests of the EWS sandbox, driven with plain exchangelib (never pipeline/destination/ews).

Shared fixtures live in conftest.py, helpers (accounts, extended properties, MIME samples) in helpers.py.
"""
