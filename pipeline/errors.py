"""Errors every command shares: bad usage or input, printed as one line with exit code 2.

Kept apart from cli.py so that `python -m pipeline.cli.main` and the console script raise the same class.
"""


class UsageError(Exception):
    """Bad usage or bad input: printed as one line naming the file or line, exit code 2."""


class StateError(Exception):
    """The state directory (journal, logs, reports) cannot be used: printed as one line naming the path, the
    problem and what to do, exit code 4. Built by pipeline/state/problems.py from the OS's or SQLite's error."""

    def __init__(self, path: object, problem: str, advice: str) -> None:
        super().__init__(path, problem, advice)
        self.path, self.problem, self.advice = path, problem, advice

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; {self.advice}"
