"""Tests of the sandbox, driven with plain exchangelib and plain HTTP (never pipeline/destination).

Laid out as the code is: ews/ for the EWS face, graph/ for the Graph face, here the server as a whole (HTTP
bodies and bounds, admin endpoints, faults, the realism ledger, the import graph). Shared fixtures live in
conftest.py, helpers (accounts, extended properties, MIME samples) in helpers.py.
"""
