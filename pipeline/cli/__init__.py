"""The application shell: what a person touches.

Argument parsing (main.py builds the parser, each command module registers its own subcommand), the
commands, the users CSV turned into mailbox jobs (mapping.py, jobs.py), the closing lines and reports
(closing.py, report.py), progress, interrupts and exit codes (exits.py). The argparse Namespace stays in
this package: below it, code takes plain frozen options (options.py).
"""
