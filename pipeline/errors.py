"""Errors every command shares: bad usage or input, printed as one line with exit code 2.

Kept apart from cli.py so that `python -m pipeline.cli` and the console script raise the same class.
"""


class UsageError(Exception):
    """Bad usage or bad input: printed as one line naming the file or line, exit code 2."""
