"""The application shell: what a person touches.

Argument parsing (main.py builds the parser, flags.py holds the shared flags, each command module registers
its own subcommand), the commands, the users CSV turned into mailbox jobs (mapping.py, jobs.py), the closing
lines (closing.py, report.py) and progress. The argparse Namespace stays in this package: below the
commands, code takes plain frozen options (options.py). Nothing outside this package imports it.
"""
