"""Errors every command shares and the exit codes they end with, in one place (the README's table says the
same): raised at any depth, printed as one line by the command line (pipeline/cli/main.py).
"""

EXIT_OK = 0
#: Something failed: items, a mailbox, an inspected file's errors, a mailbox with no X500 address, an
#: unreachable server, a run stopped by Ctrl-C or SIGTERM (it resumes).
EXIT_FAILURES = 1
#: Bad usage or bad input: one line naming the flag, file or line.
EXIT_USAGE = 2
#: Another run holds a mailbox (its lease): nothing was written to that mailbox.
EXIT_BUSY = 3
#: The state directory, its disk or the journal's lock: one line saying what to do.
EXIT_STATE = 4
#: Ctrl-C while nothing could be stopped cleanly (argument checks, following Temporal workflows).
EXIT_INTERRUPTED = 130


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
