"""Tests of the sandbox's EWS face (pipeline/sandbox/ews/), driven with plain exchangelib."""
