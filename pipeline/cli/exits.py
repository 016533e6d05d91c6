"""The exit codes of every `rebuild` command, in one place (the README's table says the same)."""

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
