"""Tests of the sandbox's Graph face (pipeline/sandbox/graph/), driven with plain httpx."""
