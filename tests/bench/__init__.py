"""Benchmarks of the rebuild pipeline (issue 8): extraction, upload, memory, rerun cost, concurrency.

Run with `.venv/bin/python -m tests.bench [--quick]`; they print figures beside baselines, never assert.
"""
